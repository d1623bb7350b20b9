import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { appendToOutbox, createEvent } from '@carve/shared-messaging';
import { deprovisionSchema, provisionSchema } from '@carve/shared-persistence';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { NoteDeleted } from '@carve/legacy-events';
import { Client } from 'pg';
import { createApp } from '../src/app';
import { loadMonolithConfig } from '../src/config';
import { migrateLegacy } from '../src/database/legacy-data-source';
import { migrate } from '../src/migrate';

const run = promisify(execFile);
const ALL = ['InitialSchema1730000000000', 'ListIndexes1730000000001', 'OutboxInbox1730000000002', 'ReverseSyncParking1730000000003', 'WriteFence1730000000004', 'SyncConflicts1730000000005', 'WriteFenceLockdown1730000000006'];
const repo = path.resolve(__dirname, '../../..');

async function tables(url: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'legacy' ORDER BY 1")).rows.map((r) => r.table_name);
  } finally {
    await c.end();
  }
}

describe('legacy migrations', () => {
  const dbs: TestDatabase[] = [];
  const fresh = async () => {
    const db = await createTestDatabase('legacy_migrations');
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it('creates the schema and every table; a second run is a no-op', async () => {
    const db = await fresh();
    const first = await migrateLegacy(db.url);
    expect(first.applied).toEqual(ALL);
    expect(await tables(db.url)).toEqual([
      'aggregate_versions', 'feature_comments', 'features', 'inbox', 'members', 'migrations', 'note_features', 'notes', 'outbox', 'release_features',
      'releases', 'reverse_sync_parked', 'sync_conflicts', 'workspaces', 'write_fence', 'written_versions',
    ]);
    const second = await migrateLegacy(db.url);
    expect(second.applied).toEqual([]);
  });

  it('lets concurrent runners (parallel init containers) race safely: each migration once, nobody fails', async () => {
    const db = await fresh();
    const reports = await Promise.all([1, 2, 3, 4].map(() => migrateLegacy(db.url)));
    expect(reports.flatMap((r) => r.applied).sort()).toEqual([...ALL].sort());
    const c = new Client({ connectionString: db.url });
    await c.connect();
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.migrations')).rows[0].n).toBe(ALL.length);
    await c.end();
  });

  it('runs as the provisioned migrator role (no CREATE on the database), and the app role can append to legacy.outbox', async () => {
    const db = await fresh();
    const prefix = `lm_${Date.now().toString(36)}`;
    const roles = await provisionSchema(db.url, 'legacy', { appPassword: 'app-pass-1', migratorPassword: 'mig-pass-1', rolePrefix: prefix });
    try {
      expect((await migrateLegacy(roles.migratorUrl)).applied).toEqual(ALL);
      const app = new Client({ connectionString: roles.appUrl });
      await app.connect();
      try {
        const id = '00000000-0000-4000-a000-0000000000e1';
        await appendToOutbox(app, 'legacy', [createEvent(NoteDeleted, { tenantId: id, aggregateId: id, aggregateVersion: 2, data: { id, workspaceId: id } })]);
        expect((await app.query('SELECT topic FROM legacy.outbox')).rows).toEqual([{ topic: 'legacy.notes.v1' }]);
      } finally {
        await app.end();
      }
    } finally {
      await deprovisionSchema(db.url, 'legacy', { rolePrefix: prefix, dropRoles: true });
    }
  });

  it('PLATFORM=kubernetes does not migrate at boot; the migrate entry point does', async () => {
    const db = await fresh();
    const env = { PLATFORM: 'kubernetes', DATABASE_URL: db.url, CARVE_JWT_SECRET: 'a-kubernetes-secret-of-some-length', LOG_LEVEL: 'silent' };
    const app = await createApp(loadMonolithConfig(env));
    try {
      expect(await tables(db.url)).toEqual([]);
    } finally {
      await app.close();
    }
    const report = await migrate(env);
    expect(report.applied).toEqual(ALL);
    expect(await tables(db.url)).toContain('notes');
  });

  it('runs as its own process (Heroku release phase, init container): exit 0, says what it applied', async () => {
    const db = await fresh();
    const env = { ...process.env, PLATFORM: 'heroku', DATABASE_URL: db.url, DATABASE_SSL: 'off', CARVE_JWT_SECRET: 'a-heroku-secret-of-some-length' };
    const { stdout } = await run(process.execPath, ['-r', './tools/scripts/register-ts.js', 'apps/legacy-monolith/src/migrate.ts'], { cwd: repo, env, timeout: 60_000 });
    expect(stdout).toContain('applied InitialSchema1730000000000');
    const again = await run(process.execPath, ['-r', './tools/scripts/register-ts.js', 'apps/legacy-monolith/src/migrate.ts'], { cwd: repo, env, timeout: 60_000 });
    expect(again.stdout).toContain('up to date');
  });

  it('stops with one line naming a bad variable (exit 78)', async () => {
    const env = { ...process.env, PLATFORM: 'kubernetes', DATABASE_URL: '' };
    const res = await run(process.execPath, ['-r', './tools/scripts/register-ts.js', 'apps/legacy-monolith/src/migrate.ts'], { cwd: repo, env, timeout: 60_000 }).catch((e) => e);
    expect(res.code).toBe(78);
    expect(res.stderr.trim()).toBe('Invalid configuration: DATABASE_URL is required with PLATFORM=kubernetes');
  });
});
