/**
 * Role isolation on real Postgres: `carve db provision insights` (the CLI, as a process) creates
 * the owner, migrator and app roles; migrations run as the migrator; the app role then reads and
 * writes schema `insights` (the whole service runs on it, outbox and relay included) and is
 * refused `legacy` and `carve` (permission denied), and any DDL.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { applyWorkspaceState, migrateInsights } from '@carve/insights-data-access';
import { request } from '@carve/shared-contract-kit';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { startInsightsService } from '../src';
import { loadInsightsConfig } from '../src/config';
import { setStage, sql, tokenFor, waitFor } from './support';

const run = promisify(execFile);
const CARVE = path.resolve(__dirname, '../../../tools/carve/bin/carve.js');
const prefix = `insights_t${randomBytes(3).toString('hex')}`;
const roles = [`${prefix}_app`, `${prefix}_migrator`, `${prefix}_owner`];

let db: TestDatabase;
let provisioned: { schema: string; roles: Record<string, string>; migratorUrl: string; appUrl: string; generated: string[] };

beforeAll(async () => {
  db = await createTestDatabase('insights_roles');
  // Neighbours the app role must not reach: the monolith's schema and the control plane.
  await sql(db.url, `CREATE SCHEMA legacy; CREATE TABLE legacy.notes (id int, customer_email text); INSERT INTO legacy.notes VALUES (1, 'secret@example.com')`);
  const env = { ...process.env, INSIGHTS_APP_PASSWORD: '', INSIGHTS_MIGRATOR_PASSWORD: '' };
  const { stdout } = await run(process.execPath, [CARVE, 'db', 'provision', 'insights', '--admin-url', db.url, '--role-prefix', prefix, '--json'], { env });
  provisioned = JSON.parse(stdout);
  await migrateInsights(provisioned.migratorUrl);
  await setStage(db.url, 'writes-switched'); // the stage and the service's write fence (migrated above)
}, 60_000);

afterAll(async () => {
  if (!db) return;
  await db.drop();
  // Roles are cluster-wide: they outlive the dropped database's privileges.
  for (const r of roles) await sql(db.adminUrl, `DROP ROLE IF EXISTS "${r}"`).catch(() => undefined);
});

async function as<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

it('provisions three roles and prints the migrator and app URLs, passwords generated once', async () => {
  expect(provisioned.schema).toBe('insights');
  expect(provisioned.roles).toEqual({ owner: `${prefix}_owner`, migrator: `${prefix}_migrator`, app: `${prefix}_app` });
  expect(provisioned.generated).toEqual(['app', 'migrator']);
  expect(new URL(provisioned.appUrl).username).toBe(`${prefix}_app`);
  expect(new URL(provisioned.appUrl).password.length).toBeGreaterThanOrEqual(24);
  const owners = await sql(db.url, `SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'insights'`);
  expect(owners).toEqual([{ owner: `${prefix}_owner` }]);
  // Again, with passwords from the environment: idempotent, human-readable.
  const { stdout } = await run(process.execPath, [CARVE, 'db', 'provision', 'insights', '--admin-url', db.url, '--role-prefix', prefix], {
    env: { ...process.env, INSIGHTS_APP_PASSWORD: 'app-password-from-env', INSIGHTS_MIGRATOR_PASSWORD: 'migrator-password-from-env' },
  });
  expect(stdout).toContain(`app URL (the service's DATABASE_URL):`);
  expect(stdout).toContain(`${prefix}_app:app-password-from-env@`);
  expect(stdout).toContain('passwords from INSIGHTS_APP_PASSWORD and INSIGHTS_MIGRATOR_PASSWORD');
  provisioned.appUrl = provisioned.appUrl.replace(/:[^:@/]+@/, ':app-password-from-env@');
});

it('refuses the app role the legacy and carve schemas, any DDL and the write fence, while its own schema works', async () => {
  await as(provisioned.appUrl, async (c) => {
    await expect(c.query('SELECT customer_email FROM legacy.notes')).rejects.toThrow(/permission denied for schema legacy/);
    await expect(c.query('SELECT stage FROM carve.context_stages')).rejects.toThrow(/permission denied for schema carve/);
    await expect(c.query('CREATE TABLE insights.sneaky (x int)')).rejects.toThrow(/permission denied/);
    await expect(c.query('DROP TABLE insights.notes')).rejects.toThrow(/must be owner/);
    // Who owns the writes is the migrator's and the handover's to change, not the app's (also
    // after the provisioning above ran again and granted the schema's tables anew).
    await expect(c.query('UPDATE insights.write_fence SET owner = true')).rejects.toThrow(/permission denied/);
    await expect(c.query(`INSERT INTO insights.write_fence (context, scope, owner) VALUES ('insights', 'x', true)`)).rejects.toThrow(/permission denied/);
    expect((await c.query('SELECT count(*)::int AS n FROM notes')).rows).toEqual([{ n: 0 }]); // search_path = insights
  });
});

it('runs the whole service as the app role: reads, writes, outbox and relay', async () => {
  const config = loadInsightsConfig({
    DATABASE_URL: provisioned.appUrl,
    // Platform plumbing with its own credentials (here the admin): the transport's topics.
    CARVE_MESSAGING_DATABASE_URL: db.url,
    CARVE_TRANSPORT: 'postgres',
    CARVE_FORWARD_SYNC: 'false',
    CARVE_OUTBOX_RELAY: 'true',
    MIGRATE_ON_BOOT: 'false',
    PORT: '0',
    LOG_LEVEL: 'silent',
  });
  const service = await startInsightsService(config);
  try {
    const ws = randomUUID();
    const now = new Date().toISOString();
    await as(provisioned.appUrl, (c) => applyWorkspaceState(c, { id: ws, name: 'Roles', slug: `roles-${ws.slice(0, 8)}`, createdAt: now, updatedAt: now }, 1));
    const res = await request(service.url, 'POST', `/api/v1/workspaces/${ws}/notes`, { token: tokenFor(ws), body: { title: 'As the app role', content: 'c', customer: { email: 'a@example.com' } } });
    expect(res.status).toBe(201);
    expect((await request(service.url, 'GET', `/api/v1/workspaces/${ws}/notes`, { token: tokenFor(ws) })).body.items).toHaveLength(1);
    await waitFor('the relay (as the app role) to publish the outbox row', async () => {
      const [row] = await sql(db.url, `SELECT published_at FROM insights.outbox WHERE envelope->>'aggregateId' = $1`, [res.body.id]);
      return row?.published_at;
    });
  } finally {
    await service.close();
  }
});
