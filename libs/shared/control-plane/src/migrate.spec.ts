/**
 * Schema `carve` on the shared migration runner, from a database the first runner migrated:
 * that runner applied the same SQL and recorded `0001_control_plane` ... in
 * `carve.schema_migrations`. The shared runner recognises those, records them in
 * `carve.migrations` without running them (a second run of the first one would fail: its
 * CREATE TABLEs have no IF NOT EXISTS), keeps the data and the old table, and applies only
 * what the old bookkeeping lacks.
 */
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client, Pool } from 'pg';
import { CONTROL_MIGRATIONS, controlPlaneMigrations, migrateControlPlane, migrateControlPlaneAt, pendingControlMigrations } from './index';

/** The names the first runner recorded, in order (one per migration here). */
const FIRST_NAMES = [
  '0001_control_plane',
  '0002_carving',
  '0003_handovers',
  '0004_operators',
  '0005_gateway_replicas',
  '0007_dead_letter_replays',
  '0008_workspace_ownership',
  '0009_mismatch_browsing',
  '0010_ramps',
  '0011_mismatch_bodies',
];

/**
 * What the first runner did for the first `count` migrations: schema, its bookkeeping table,
 * then each migration's SQL and its name in one transaction.
 */
async function migrateAsTheFirstRunner(url: string, count: number): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE SCHEMA IF NOT EXISTS carve');
    await c.query('CREATE TABLE IF NOT EXISTS carve.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const [i, M] of controlPlaneMigrations.slice(0, count).entries()) {
      await c.query('BEGIN');
      await new M().up({ query: (sql: string) => c.query(sql) } as never);
      await c.query('INSERT INTO carve.schema_migrations (name) VALUES ($1)', [FIRST_NAMES[i]]);
      await c.query('COMMIT');
    }
  } finally {
    await c.end();
  }
}

async function rows<T>(url: string, sql: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('control-plane migrations on the shared runner', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('cp_migrate');
  });

  afterEach(async () => {
    await db?.drop();
  });

  it('names every migration once, as the first runner did, in the same order', () => {
    expect(CONTROL_MIGRATIONS).toHaveLength(FIRST_NAMES.length);
    expect(new Set(CONTROL_MIGRATIONS).size).toBe(CONTROL_MIGRATIONS.length);
    // The shared convention: <Name><13-digit timestamp>, ending in the first runner's number.
    CONTROL_MIGRATIONS.forEach((name, i) => expect(name).toMatch(new RegExp(`^[A-Z][A-Za-z]+17290000000${FIRST_NAMES[i].slice(2, 4)}$`)));
  });

  it('takes over a database the first runner migrated: nothing runs again, the data and the old table stay', async () => {
    await migrateAsTheFirstRunner(db.url, FIRST_NAMES.length);
    await rows(db.url, `INSERT INTO carve.route_overrides (route_id, mode, percent, updated_by, reason, version) VALUES ('notes-read', 'canary', 10, 'alice', 'before the move', 1)`);
    const firstTable = await rows(db.url, 'SELECT name, applied_at FROM carve.schema_migrations ORDER BY name');

    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      // A role without DDL reading either bookkeeping finds the schema current.
      expect(await pendingControlMigrations(pool)).toEqual([]);
      expect(await migrateControlPlane(pool)).toEqual({ applied: [], waitedMs: expect.any(Number) });
    } finally {
      await pool.end();
    }

    const recorded = await rows<{ name: string; timestamp: string }>(db.url, 'SELECT name, timestamp::text FROM carve.migrations ORDER BY id');
    expect(recorded.map((r) => r.name)).toEqual(CONTROL_MIGRATIONS);
    expect(recorded.map((r) => r.timestamp)).toEqual(CONTROL_MIGRATIONS.map((n) => n.slice(-13)));
    expect(await rows(db.url, 'SELECT name, applied_at FROM carve.schema_migrations ORDER BY name')).toEqual(firstTable);
    expect(await rows(db.url, 'SELECT route_id, mode, percent, reason FROM carve.route_overrides')).toEqual([{ route_id: 'notes-read', mode: 'canary', percent: 10, reason: 'before the move' }]);

    // And the next run finds everything in carve.migrations.
    expect((await migrateControlPlaneAt(db.url)).applied).toEqual([]);
    expect(await rows(db.url, 'SELECT count(*)::int AS n FROM carve.migrations')).toEqual([{ n: CONTROL_MIGRATIONS.length }]);
  });

  it('applies only what the first runner had not, and records the rest as applied', async () => {
    await migrateAsTheFirstRunner(db.url, 8); // up to 0009_mismatch_browsing
    const report = await migrateControlPlaneAt(db.url);
    expect(report.applied).toEqual(CONTROL_MIGRATIONS.slice(8));
    expect((await rows<{ name: string }>(db.url, 'SELECT name FROM carve.migrations ORDER BY id')).map((r) => r.name)).toEqual(CONTROL_MIGRATIONS);
    const cols = await rows<{ column_name: string }>(db.url, `SELECT column_name FROM information_schema.columns WHERE table_schema = 'carve' AND table_name = 'shadow_mismatches' AND column_name = 'bodies'`);
    expect(cols).toHaveLength(1);
  });

  it('migrates a fresh database with the shared bookkeeping only, once when runners race', async () => {
    const reports = await Promise.all([migrateControlPlaneAt(db.url), migrateControlPlaneAt(db.url)]);
    expect(reports.map((r) => r.applied).sort((a, b) => b.length - a.length)).toEqual([CONTROL_MIGRATIONS, []]);
    expect(await rows(db.url, `SELECT to_regclass('carve.schema_migrations') AS t`)).toEqual([{ t: null }]);
    expect((await rows<{ name: string }>(db.url, 'SELECT name FROM carve.migrations ORDER BY id')).map((r) => r.name)).toEqual(CONTROL_MIGRATIONS);
  });
});
