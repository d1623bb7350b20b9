/**
 * The shadow comparison's rules against what the services document: each carved service's
 * README lists the answers it gives differently from the monolith on purpose ("Intended
 * differences from the monolith": route, an example path, the ignore rule, why). Every route
 * table the gateway ships (dev, review, staging, production) must carry each rule on that route,
 * and the rule must do its job: two answers that differ at the example path compare equal with
 * the route's rules, and unequal without that one rule.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compareResponses, parseRouteTable, type RouteTable } from '@carve/shared-routing';

const ROOT = path.resolve(__dirname, '../../..');
const HEADING = '## Intended differences from the monolith';

interface Difference {
  service: string;
  route: string;
  example: string;
  rule: string;
}

const services = fs.readdirSync(path.join(ROOT, 'apps')).filter((d) => d.endsWith('-service') && fs.existsSync(path.join(ROOT, 'apps', d, 'README.md')));

function documented(service: string): Difference[] | undefined {
  const readme = fs.readFileSync(path.join(ROOT, 'apps', service, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${HEADING}\n`);
  if (at < 0) return undefined;
  const section = readme.slice(at + HEADING.length + 2).split(/\n## /)[0];
  const rows: Difference[] = [];
  for (const line of section.split('\n')) {
    const cells = /^\| `([^`]+)` \| `([^`]+)` \| `([^`]+)` \|/.exec(line);
    if (cells) rows.push({ service, route: cells[1], example: cells[2], rule: cells[3] });
  }
  return rows;
}

const tableFiles = ['apps/gateway/routes/dev.yaml', ...fs.readdirSync(path.join(ROOT, 'charts/gateway/routes')).filter((f) => f.endsWith('.yaml')).map((f) => `charts/gateway/routes/${f}`)];

function load(file: string): RouteTable {
  const r = parseRouteTable(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  if (!r.ok) throw new Error(`${file}: ${JSON.stringify(r.errors)}`);
  return r.table;
}

/** A body holding `value` at a concrete path such as `$.items[0].customer.name`. */
function bodyWith(example: string, value: string): unknown {
  const steps = [...example.slice(1).matchAll(/\.([A-Za-z_][\w-]*)|\[(\d+)\]/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));
  if (steps.length === 0 || steps.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('') !== example.slice(1)) {
    throw new Error(`example path ${example} must be concrete: $.key or $.list[0] steps only`);
  }
  let leaf: unknown = value;
  for (const step of [...steps].reverse()) leaf = typeof step === 'number' ? Object.assign(new Array(step + 1).fill({ same: 1 }), { [step]: leaf }) : { same: 1, [step]: leaf };
  return leaf;
}

describe('compare rules cover the intended differences each service documents', () => {
  it('every carved service documents its intended differences (or that it has none)', () => {
    expect(services.length).toBeGreaterThanOrEqual(2);
    for (const s of services) expect({ service: s, documented: documented(s) !== undefined }).toEqual({ service: s, documented: true });
  });

  const rows = services.flatMap((s) => documented(s) ?? []);

  it('the services document at least the customer named by its newest note', () => {
    expect(rows).toEqual(expect.arrayContaining([expect.objectContaining({ service: 'insights-service', route: 'notes-read', rule: '$..customer.name' })]));
  });

  for (const file of tableFiles) {
    it(`${file}: each documented difference is ignored on its route, and only by its rule`, () => {
      const table = load(file);
      for (const d of rows) {
        const route = table.routes.find((r) => r.id === d.route);
        expect({ file, route: d.route, present: route !== undefined }).toEqual({ file, route: d.route, present: true });
        expect(route!.target).toBe(d.service.replace(/-service$/, ''));
        expect(route!.compare.ignore).toContain(d.rule);
        const monolith = { status: 200, body: bodyWith(d.example, 'as the monolith answers') };
        const service = { status: 200, body: bodyWith(d.example, 'as the service answers') };
        expect({ file, rule: d.rule, ...compareResponses(monolith, service, route!.compare) }).toMatchObject({ file, rule: d.rule, equal: true });
        const without = { ...route!.compare, ignore: route!.compare.ignore.filter((p) => p !== d.rule) };
        expect(compareResponses(monolith, service, without).equal).toBe(false);
      }
    });
  }
});
