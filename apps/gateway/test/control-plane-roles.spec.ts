/**
 * A deployed gateway's database role. Schema carve is provisioned with its three roles (owner,
 * migrator, app: @carve/shared-persistence's provisionSchema), and the gateway runs with
 * PLATFORM=kubernetes, which never migrates the control plane at boot:
 * - on the app role (DML only) it refuses to start while migrations are pending, and says what
 *   to run;
 * - the gateway's migrate command (`src/migrate.ts`, the chart's init container) applies them as
 *   the migrator, so the owner owns what they create; a second run has nothing to do;
 * - then the gateway starts on the app role, and a change through its admin API is stored and
 *   audited, while that role cannot create anything in schema carve.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { CONTROL_MIGRATIONS, ControlPlaneNotMigratedError } from '@carve/shared-control-plane';
import { deprovisionSchema, type ProvisionedSchema, provisionSchema } from '@carve/shared-persistence';
import { REGISTER_TS, ROOT, runNode, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import type { RunningGateway } from '../src';
import { admin, gateway, RouteFiles, testDatabase } from './support/harness';
import { TestUpstream } from './support/upstream';

const MIGRATE = path.join(ROOT, 'apps/gateway/src/migrate.ts');

async function query(url: string, sql: string): Promise<any[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('a deployed gateway on a role without DDL', () => {
  // Roles are cluster-wide: a prefix of this run's own.
  const rolePrefix = `gwcp_${crypto.randomBytes(3).toString('hex')}`;
  let db: TestDatabase;
  let roles: ProvisionedSchema;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let file: string;
  let gw: RunningGateway | undefined;

  beforeAll(async () => {
    [db, monolith] = await Promise.all([testDatabase('gateway_roles'), TestUpstream.start('monolith')]);
    roles = await provisionSchema(db.url, 'carve', { appPassword: 'gateway-app-pw', migratorPassword: 'gateway-migrator-pw', rolePrefix });
    files = new RouteFiles();
    file = files.write(`
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${monolith.url} }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
`);
  });

  afterAll(async () => {
    await gw?.close();
    await monolith?.close();
    if (db) await deprovisionSchema(db.url, 'carve', { rolePrefix, dropRoles: true });
    await db?.drop();
    files?.remove();
  });

  const deployed = () => gateway(db, file, { platform: 'kubernetes', databaseUrl: roles.appUrl, gatewayId: 'gw-k8s' });

  it('refuses to start while the control plane has migrations pending, and says what to run', async () => {
    const err = await deployed().then(
      (g) => g.close().then(() => null),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ControlPlaneNotMigratedError);
    expect((err as ControlPlaneNotMigratedError).pending).toEqual(CONTROL_MIGRATIONS);
    expect((err as Error).message).toContain('node apps/gateway/dist/migrate.js');
    // It created nothing on its way out.
    expect(await query(db.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'carve'`)).toEqual([{ n: 0 }]);
  });

  it('the migrate command applies them as the migrator (the owner owns the tables), then has nothing to do', async () => {
    const first = await runNode(['-r', REGISTER_TS, MIGRATE], { DATABASE_URL: roles.migratorUrl });
    expect({ code: first.code, out: first.stdout.trim(), err: first.stderr.trim() }).toEqual({
      code: 0,
      out: `control plane: applied ${CONTROL_MIGRATIONS.join(', ')}`,
      err: '',
    });
    const owners = await query(db.url, `SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'carve'`);
    expect(owners).toEqual([{ tableowner: roles.roles.owner }]);
    const second = await runNode(['-r', REGISTER_TS, MIGRATE], { DATABASE_URL: roles.migratorUrl });
    expect([second.code, second.stdout.trim()]).toEqual([0, 'control plane: up to date (nothing to apply)']);
  });

  it('a bad DATABASE_URL is a configuration error (exit 78), not a crash', async () => {
    const r = await runNode(['-r', REGISTER_TS, MIGRATE], { DATABASE_URL: 'mysql://nope' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('DATABASE_URL');
  });

  it('then starts on the app role, and stores and audits a change made through its admin API', async () => {
    gw = await deployed();
    const put = await admin(gw, 'PUT', '/admin/routes/notes-read', { mode: 'canary', percent: 20, reason: 'first tenants on the service' }, { 'x-carve-actor': 'ops' });
    expect(put.status).toBe(200);
    expect(await query(db.url, `SELECT route_id, mode, percent FROM carve.route_overrides`)).toEqual([{ route_id: 'notes-read', mode: 'canary', percent: 20 }]);
    // The actor is the token's operator (the configured token is `bootstrap`), not the x-carve-actor header.
    expect(await query(db.url, `SELECT actor, target FROM carve.audit`)).toEqual([{ actor: 'bootstrap', target: 'route:notes-read' }]);
    // The role it ran on may not create in schema carve: nothing above needed DDL.
    const err = await query(roles.appUrl, 'CREATE TABLE carve.probe (x int)').catch((e: Error) => e);
    expect(String(err)).toMatch(/permission denied for schema carve/);
  });
});
