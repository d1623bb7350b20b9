import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { createApp } from '../src/app';
import { loadMonolithConfig } from '../src/config';
import { migrateLegacy } from '../src/database/legacy-data-source';
import { migrate } from '../src/migrate';

const run = promisify(execFile);
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
    expect(first.applied).toEqual(['InitialSchema1730000000000', 'ListIndexes1730000000001']);
    expect(await tables(db.url)).toEqual([
      'feature_comments', 'features', 'members', 'migrations', 'note_features', 'notes', 'release_features', 'releases', 'workspaces',
    ]);
    const second = await migrateLegacy(db.url);
    expect(second.applied).toEqual([]);
  });

  it('lets concurrent runners (parallel init containers) race safely: each migration once, nobody fails', async () => {
    const db = await fresh();
    const reports = await Promise.all([1, 2, 3, 4].map(() => migrateLegacy(db.url)));
    expect(reports.flatMap((r) => r.applied).sort()).toEqual(['InitialSchema1730000000000', 'ListIndexes1730000000001']);
    const c = new Client({ connectionString: db.url });
    await c.connect();
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.migrations')).rows[0].n).toBe(2);
    await c.end();
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
    expect(report.applied).toHaveLength(2);
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
