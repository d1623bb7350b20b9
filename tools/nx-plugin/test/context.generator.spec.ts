/**
 * The context generator on an in-memory Tree over this workspace (nothing is flushed to disk):
 * what it refuses, with which message, having changed nothing; and what it lays down for a good
 * name (files, wiring, port, lockfile entries). The scratch-workspace test (context.scratch.spec.ts)
 * proves the result lints, tests and builds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseRouteTable } from '@carve/shared-routing';
import { FsTree } from 'nx/src/generators/tree';
import { parse } from 'yaml';
import { ContextGeneratorError, writeContext } from '../src';
import { WORKSPACE } from './support/scratch';

const fresh = () => new FsTree(WORKSPACE, false);

describe('context generator: refusals leave the workspace untouched', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a name that is no kebab-case identifier', { name: 'Billing', aggregates: 'features' }, /"Billing" is not a valid context name: use kebab-case/],
    ['a name with an underscore', { name: 'bill_ing', aggregates: 'features' }, /not a valid context name/],
    ['a name starting with a digit', { name: '1billing', aggregates: 'features' }, /not a valid context name/],
    ['a reserved name', { name: 'legacy', aggregates: 'features' }, /"legacy" is reserved in this workspace/],
    ['a name ending in -service', { name: 'billing-service', aggregates: 'features' }, /leave out "-service"/],
    ['an existing context', { name: 'insights', aggregates: 'features' }, /the context "insights" exists already: apps\/insights-service is there/],
    ['the context generated before', { name: 'roadmaps', framework: 'nest', aggregates: 'releases' }, /the context "roadmaps" exists already/],
    ['an unknown framework', { name: 'billing', framework: 'express', aggregates: 'features' }, /--framework must be fastify or nest, got "express"/],
    ['no aggregate', { name: 'billing', aggregates: '' }, /--aggregates needs at least one of: members, features, notes, releases/],
    ['an aggregate the monolith does not have', { name: 'billing', aggregates: 'invoices' }, /--aggregates invoices: the monolith has no such aggregate/],
    ['an aggregate that stays in the monolith', { name: 'billing', aggregates: 'workspaces' }, /workspaces are tenancy/],
    ['an aggregate another context carves', { name: 'billing', aggregates: 'notes' }, /route notes-read already sends .* to "insights"/],
    ['the same aggregate twice', { name: 'billing', aggregates: 'features,features' }, /lists features twice/],
    ['a port in use', { name: 'billing', aggregates: 'features', port: 3101 }, /--port 3101 is taken by insights-service/],
    ['a port out of range', { name: 'billing', aggregates: 'features', port: 80 }, /--port must be a whole number from 1024 to 65535/],
  ];

  it.each(cases)('refuses %s', (_what, schema, message) => {
    const tree = fresh();
    let error: unknown;
    try {
      writeContext(tree, schema as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ContextGeneratorError);
    expect((error as Error).message).toMatch(message);
    expect(tree.listChanges()).toEqual([]);
  });
});

describe('context generator: a new context', () => {
  const tree = fresh();
  const generated = writeContext(tree, { name: 'customer-success', framework: 'nest', aggregates: 'features,members' }, 1_800_000_000_000);
  const changed = new Map(tree.listChanges().map((c) => [c.path, c]));
  const text = (file: string) => tree.read(file, 'utf-8') ?? '';

  it('names everything after the context and takes the next free port from 3103', () => {
    expect(generated.options).toMatchObject({ name: 'customer-success', className: 'CustomerSuccess', schema: 'customer_success', service: 'customer-success-service', framework: 'nest' });
    expect(generated.options.port).toBeGreaterThanOrEqual(3103);
    expect(generated.projects).toEqual(['customer-success-service', 'customer-success-domain', 'customer-success-events', 'customer-success-data-access', 'customer-success-carving']);
  });

  it('lays down the service, the four libraries, the chart and the Dockerfile', () => {
    for (const file of [
      'apps/customer-success-service/src/main.ts',
      'apps/customer-success-service/src/http.ts',
      'apps/customer-success-service/test/service.spec.ts',
      'apps/customer-success-service/Dockerfile',
      'libs/customer-success/domain/src/context.ts',
      'libs/customer-success/events/src/events.ts',
      'libs/customer-success/data-access/src/migrations/1800000000000-initial-schema.ts',
      'libs/customer-success/data-access/src/sync.ts',
      'libs/customer-success/carving/src/customer-success-context.ts',
      'charts/customer-success-service/Chart.yaml',
      'charts/customer-success-service/values.schema.json',
      'charts/customer-success-service/project.json',
    ]) {
      expect(changed.get(file)?.type).toBe('CREATE');
    }
    expect(text('apps/customer-success-service/src/http.ts')).toContain("from '@carve/shared-nest'");
    expect(JSON.parse(text('libs/customer-success/carving/package.json'))).toMatchObject({ carve: { carvableContext: 'customer-success' }, nx: { tags: ['scope:customer-success', 'type:data-access'] } });
    const chartProject = JSON.parse(text('charts/customer-success-service/project.json'));
    expect(chartProject.name).toBe('chart-customer-success-service');
    expect(chartProject.implicitDependencies).toContain('customer-success-service');
    expect(text('charts/customer-success-service/values.yaml')).toContain(`port: ${generated.options.port}`);
    expect(text('libs/customer-success/data-access/src/migrations/1800000000000-initial-schema.ts')).toMatch(/outboxTablesSqlV1[\s\S]*inboxTablesSqlV1/);
  });

  it("fences the service's tables in a migration after the initial schema, and leaves ownership of writes to that fence", () => {
    const fence = text('libs/customer-success/data-access/src/migrations/1800000000001-write-fence.ts');
    expect(fence).toContain("const S = 'customer_success';");
    expect(fence).toContain("const TABLES = ['features', 'members'];");
    expect(fence).toContain("writeFenceTablesSqlV1({ schema: S, context: 'customer-success', tables: TABLES, ownerByDefault: false })");
    expect(text('libs/customer-success/data-access/src/migrations/index.ts')).toContain('[InitialSchema1800000000000, WriteFence1800000000001]');
    expect(changed.has('apps/customer-success-service/src/stage-reader.ts')).toBe(false);
    for (const file of ['apps/customer-success-service/src/service.ts', 'apps/customer-success-service/src/http-common.ts', 'apps/customer-success-service/src/http.ts']) {
      expect({ file, stageReader: /stageReader|StageReader/.test(text(file)) }).toEqual({ file, stageReader: false });
    }
  });

  it("keeps the service's own wiring under 60 lines of code: the runtime is @carve/shared-service's", () => {
    const wiring = ['service.ts', 'config.ts', 'sync.ts', 'main.ts', 'migrate.ts', 'index.ts'].map((f) => `apps/customer-success-service/src/${f}`);
    const code = wiring.flatMap((f) => text(f).split('\n')).filter((l) => l.trim() !== '' && !/^\s*(\/\*\*|\*|\/\/)/.test(l));
    expect(code.length).toBeLessThan(60);
    expect(text('apps/customer-success-service/src/service.ts')).toContain('startService(customerSuccessService, config, opts)');
  });

  it('wires the context into the shared files, at their anchors', () => {
    const routes = parse(text('apps/gateway/routes/dev.yaml'));
    expect(routes.upstreams['customer-success'].url).toBe(`http://127.0.0.1:${generated.options.port}`);
    const mine = routes.routes.filter((r: { target: string }) => r.target === 'customer-success');
    expect(mine.map((r: { id: string; mode: string }) => [r.id, r.mode])).toEqual([
      ['features-read', 'monolith'], ['features-write', 'monolith'], ['members-read', 'monolith'], ['members-write', 'monolith'],
    ]);
    // Every deployed environment's table too: a route that is switched must exist everywhere.
    for (const [env, url] of [
      ['staging', `http://customer-success-service.carve.svc.cluster.local:${generated.options.port}`],
      ['production', `http://customer-success-service.carve.svc.cluster.local:${generated.options.port}`],
      ['review', `http://customer-success-service:${generated.options.port}`],
    ]) {
      const file = `charts/gateway/routes/${env}.yaml`;
      const before = parse(fs.readFileSync(path.join(WORKSPACE, file), 'utf8'));
      const table = parse(text(file));
      expect({ env, upstream: table.upstreams['customer-success'] }).toEqual({ env, upstream: { url, health: '/readyz', timeoutMs: 5000 } });
      expect(table.routes.slice(0, before.routes.length)).toEqual(before.routes);
      expect(table.routes.slice(before.routes.length).map((r: { id: string; mode: string; target: string; guard?: object }) => [r.id, r.mode, r.target, Boolean(r.guard)])).toEqual([
        ['features-read', 'monolith', 'customer-success', true], ['features-write', 'monolith', 'customer-success', true],
        ['members-read', 'monolith', 'customer-success', true], ['members-write', 'monolith', 'customer-success', true],
      ]);
      const parsed = parseRouteTable(text(file));
      expect(parsed.ok).toBe(true);
    }
    const topics = parse(text('libs/shared/messaging/topics.yaml')).topics.map((t: { name: string }) => t.name);
    expect(topics).toEqual(expect.arrayContaining(['customer-success.features.v1', 'customer-success.members.v1']));
    expect(text('tools/carve/src/dev/deployables.ts')).toContain(`{ name: 'customer-success-service', entry: 'apps/customer-success-service/src/main.ts', port: ${generated.options.port} }`);
    expect(text('eslint.config.mjs')).toContain("{ sourceTag: 'scope:customer-success', onlyDependOnLibsWithTags: ['scope:customer-success', 'scope:shared', 'type:contracts'] }");
    expect(text('tools/helm/src/catalogue.ts')).toContain("chart: 'customer-success-service'");
    expect(text('tools/helm/src/deploy.ts')).toContain("'customer-success-service', 'gateway']");
    expect(JSON.parse(text('charts/gateway/project.json')).targets.deploy.dependsOn[0].projects).toContain('chart-customer-success-service');
  });

  it('records the new workspace packages in package-lock.json where npm sorts them', () => {
    const packages = Object.keys(JSON.parse(text('package-lock.json')).packages);
    for (const p of generated.packages) {
      expect(packages).toContain(p.root);
      expect(packages).toContain(`node_modules/${p.name}`);
    }
    const links = packages.filter((k) => k.startsWith('node_modules/@carve/'));
    expect(links).toEqual([...links].sort((a, b) => a.localeCompare(b, 'en')));
  });
});
