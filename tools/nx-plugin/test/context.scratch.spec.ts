/**
 * The generator end to end, in a scratch copy of this workspace (test/support/scratch.ts): through
 * `nx g` as a team runs it, a bad name and an existing one fail with their message and write
 * nothing; then a Fastify context and a NestJS one are generated, and their lint, typecheck,
 * tests (real Postgres: the service with forward sync, the data-access lib, the carving
 * descriptor's backfill and verify on the monolith's seeded schema) and build pass as generated;
 * npm agrees with the lockfile the generator wrote; `carve status` lists both contexts; the
 * boundary rule of a new scope catches an import of another context's internals. The copy is
 * removed afterwards, with everything it made.
 */
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { createScratchWorkspace, type RunResult, type Scratch } from './support/scratch';

const GENERATED = ['service', 'domain', 'events', 'data-access', 'carving'];
const projectsOf = (name: string) => GENERATED.map((p) => (p === 'service' ? `${name}-service` : `${name}-${p}`));
const out = (r: RunResult) => `${r.stdout}\n${r.stderr}`.replace(/\u001b\[[0-9;]*m/g, '');
const timings: string[] = [];

let scratch: Scratch;
let db: TestDatabase;

beforeAll(async () => {
  const started = Date.now();
  scratch = createScratchWorkspace('carve-generator-');
  timings.push(`scratch copy ${Date.now() - started} ms`);
  db = await createTestDatabase('generator_status');
});
afterAll(async () => {
  scratch?.remove();
  await db?.drop();
  process.stderr.write(`context generator in a scratch workspace: ${timings.join(', ')}\n`);
});

const nx = async (args: string[], what: string, timeoutMs = 300_000) => {
  const r = await scratch.run('npx', ['nx', ...args], { timeoutMs });
  timings.push(`${what} ${(r.ms / 1000).toFixed(1)} s`);
  return r;
};

it('refuses a bad name and an existing one through nx g, and writes nothing', async () => {
  const bad = await nx(['g', '@carve/nx-plugin:context', 'Bad_Name', '--aggregates', 'features'], 'refusal');
  expect(bad.code).not.toBe(0);
  expect(out(bad)).toContain('"Bad_Name" is not a valid context name');
  const taken = await nx(['g', '@carve/nx-plugin:context', 'insights', '--aggregates', 'features'], 'refusal');
  expect(taken.code).not.toBe(0);
  expect(out(taken)).toContain('the context "insights" exists already');
  expect(scratch.changes()).toEqual([]);
});

it('generates a Fastify and a NestJS context whose lint, typecheck, tests and build pass as generated', async () => {
  const billing = await nx(['g', '@carve/nx-plugin:context', 'billing', '--framework', 'fastify', '--aggregates', 'features'], 'generate billing (fastify)');
  expect(billing.code).toBe(0);
  const crm = await nx(['g', '@carve/nx-plugin:context', 'crm', '--framework', 'nest', '--aggregates', 'members'], 'generate crm (nest)');
  expect(crm.code).toBe(0);
  expect(out(crm)).toContain('linked @carve/crm-service');

  const changed = scratch.changes();
  for (const file of ['apps/gateway/routes/dev.yaml', 'libs/shared/messaging/topics.yaml', 'tools/carve/src/dev/deployables.ts', 'eslint.config.mjs', 'tools/helm/src/catalogue.ts', 'package-lock.json']) {
    expect(changed).toContain(` M ${file}`);
  }
  expect(changed).toEqual(expect.arrayContaining(['?? apps/billing-service/src/http.ts', '?? apps/crm-service/src/http.ts', '?? charts/crm-service/values.schema.json', '?? libs/crm/carving/src/crm-context.ts']));

  // npm writes the same lockfile the generator did.
  const lock = await scratch.run('npm', ['install', '--package-lock-only', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { timeoutMs: 120_000 });
  expect(lock.code).toBe(0);
  expect(scratch.changes()).toEqual(changed);
  const diff = await scratch.run('git', ['diff', '--stat', '--', 'package-lock.json']);
  expect(diff.stdout).toContain('package-lock.json');

  const projects = [...projectsOf('billing'), ...projectsOf('crm')].join(',');
  const run = await nx(['run-many', '-t', 'lint', 'test', 'build', `--projects=${projects}`, '--output-style=static'], 'lint+test+build (10 projects)', 540_000);
  if (run.code !== 0) throw new Error(`lint/test/build of the generated projects failed:\n${out(run).slice(-6000)}`);
  expect(out(run)).toContain('Successfully ran targets lint, test, build for 10 projects');
  const typecheck = await nx(['run-many', '-t', 'typecheck', `--projects=${projects}`, '--exclude-task-dependencies', '--output-style=static'], 'typecheck');
  if (typecheck.code !== 0) throw new Error(`typecheck failed:\n${out(typecheck).slice(-6000)}`);
});

it('lists the generated contexts in carve status', async () => {
  const r = await scratch.run(process.execPath, ['tools/carve/bin/carve.js', 'status'], { env: { DATABASE_URL: db.url, CARVE_ADMIN_URL: 'http://127.0.0.1:1' }, timeoutMs: 120_000 });
  timings.push(`carve status ${(r.ms / 1000).toFixed(1)} s`);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^billing: created\s+writes owned by monolith/m);
  expect(r.stdout).toMatch(/^crm: created\s+writes owned by monolith/m);
  expect(r.stdout).toMatch(/route\s+members-read\s+read\s+monolith/);
});

it("enforces the new scope's boundary: a context may not import another context's internals", async () => {
  const file = `${scratch.root}/libs/billing/domain/src/index.ts`;
  const fs = await import('node:fs');
  fs.appendFileSync(file, "export { CRM_CONTEXT } from '@carve/crm-domain';\n");
  const lint = await nx(['run', 'billing-domain:lint', '--output-style=static'], 'boundary lint');
  expect(lint.code).not.toBe(0);
  expect(out(lint)).toMatch(/A project tagged with "scope:billing" can only depend on libs tagged with "scope:billing", "scope:shared", "type:contracts"/);
});
