/**
 * Routes exist where they are switched: every route a carving descriptor names (the routes
 * `carve stage`, `carve cutover` and `carve rollback` move) is defined, with the descriptor's
 * service as its target, in every environment's route table (apps/gateway/routes/dev.yaml and
 * charts/gateway/routes/<environment>.yaml: every `routes/*.yaml` under apps/ and charts/).
 * A route missing from one table is a cutover that does nothing in that environment.
 */
import fs from 'node:fs';
import path from 'node:path';
import { carvableContexts } from '@carve/shared-carving';
import { formatRouteTableErrors, parseRouteTable, type RouteTable } from '@carve/shared-routing';
import { discoverContexts } from '../src/carving/contexts';

const root = path.resolve(__dirname, '../../..');

/** Every `<dir>/routes/*.yaml` below apps/ and charts/ (node_modules and dist left out). */
function routeTableFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(e.name) && path.basename(dir) === 'routes') out.push(full);
    }
  };
  for (const top of ['apps', 'charts']) walk(path.join(root, top));
  return out.sort();
}

describe('route tables and carving descriptors', () => {
  discoverContexts(root);
  const files = routeTableFiles();
  const tables = new Map<string, RouteTable>();
  for (const file of files) {
    const parsed = parseRouteTable(fs.readFileSync(file, 'utf8'));
    if (!parsed.ok) throw new Error(`${path.relative(root, file)} is not a valid route table:\n${formatRouteTableErrors(parsed.errors)}`);
    tables.set(path.relative(root, file), parsed.table);
  }

  it('finds the table of every environment', () => {
    expect([...tables.keys()]).toEqual(
      expect.arrayContaining(['apps/gateway/routes/dev.yaml', 'charts/gateway/routes/staging.yaml', 'charts/gateway/routes/production.yaml', 'charts/gateway/routes/review.yaml']),
    );
    expect(carvableContexts().map((c) => c.name)).toEqual(expect.arrayContaining(['insights', 'roadmaps']));
  });

  it('defines every route of every descriptor, aimed at its service, in every table', () => {
    const missing: string[] = [];
    for (const ctx of carvableContexts()) {
      for (const r of ctx.routes) {
        for (const [file, table] of tables) {
          const route = table.routes.find((x) => x.id === r.id);
          if (!route) missing.push(`${file}: no route ${r.id} (${ctx.name}, ${r.kind})`);
          else if (route.target !== ctx.service) missing.push(`${file}: route ${r.id} targets ${route.target}, not ${ctx.service}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('gives every write route a guard and only write methods', () => {
    const wrong: string[] = [];
    for (const ctx of carvableContexts()) {
      for (const r of ctx.routes.filter((x) => x.kind === 'write')) {
        for (const [file, table] of tables) {
          const route = table.routes.find((x) => x.id === r.id);
          if (!route) continue;
          if (!route.guard) wrong.push(`${file}: ${r.id} has no guard`);
          if (route.methods.some((m) => m === 'GET' || m === 'HEAD')) wrong.push(`${file}: ${r.id} matches reads`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
