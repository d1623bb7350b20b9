import { Client } from 'pg';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createDataSource } from './data-source';
import { migrationLockKey, runMigrations } from './migrations';
import { specDatabase } from './spec-support';

class CreateThings1700000000001 implements MigrationInterface {
  name = 'CreateThings1700000000001';
  async up(q: QueryRunner) {
    // No IF NOT EXISTS on purpose: a second concurrent application would fail.
    await q.query('CREATE TABLE things (id serial PRIMARY KEY, name text NOT NULL)');
    await q.query('SELECT pg_sleep(0.3)');
  }
  async down(q: QueryRunner) {
    await q.query('DROP TABLE things');
  }
}

class AddThingColour1700000000002 implements MigrationInterface {
  name = 'AddThingColour1700000000002';
  async up(q: QueryRunner) {
    await q.query('ALTER TABLE things ADD COLUMN colour text');
  }
  async down(q: QueryRunner) {
    await q.query('ALTER TABLE things DROP COLUMN colour');
  }
}

class Broken1700000000003 implements MigrationInterface {
  name = 'Broken1700000000003';
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE half_written (id int)');
    await q.query('SELECT * FROM no_such_table');
  }
  async down() {
    /* nothing */
  }
}

const migrations = [CreateThings1700000000001, AddThingColour1700000000002];

describe('runMigrations', () => {
  let db: Awaited<ReturnType<typeof specDatabase>>;
  beforeAll(async () => {
    db = await specDatabase('persistence_migrations');
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function query<T = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  }

  it('creates the schema, applies pending migrations, keeps the migrations table in the schema', async () => {
    const report = await runMigrations({ url: db.url, schema: 'alpha', migrations });
    expect(report.applied).toEqual(['CreateThings1700000000001', 'AddThingColour1700000000002']);
    const [row] = await query("SELECT to_regclass('alpha.things') AS things, to_regclass('alpha.migrations') AS mig, to_regclass('public.migrations') AS pub");
    expect(row).toEqual({ things: 'alpha.things', mig: 'alpha.migrations', pub: null });
  });

  it('is a no-op the second time', async () => {
    const lines: string[] = [];
    const report = await runMigrations({ url: db.url, schema: 'alpha', migrations }, { log: { info: (m) => lines.push(m) } });
    expect(report.applied).toEqual([]);
    expect(lines.join('\n')).toMatch(/up to date/);
    expect((await query('SELECT count(*)::int AS n FROM alpha.migrations'))[0].n).toBe(2);
  });

  it('serialises concurrent runs with the advisory lock: each migration applied once, nobody fails', async () => {
    const runs = await Promise.all(
      [1, 2, 3].map(() => runMigrations({ url: db.url, schema: 'race', migrations })),
    );
    const applied = runs.flatMap((r) => r.applied);
    expect(applied.sort()).toEqual(['AddThingColour1700000000002', 'CreateThings1700000000001']);
    expect(runs.filter((r) => r.applied.length === 0)).toHaveLength(2);
    expect(runs.some((r) => r.waitedMs > 0)).toBe(true);
    // Released afterwards: no advisory lock left on the key.
    const held = await query(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
      [migrationLockKey('race')],
    );
    expect(held[0].n).toBe(0);
  });

  it('waits for a runner holding the lock, and gives up after lockTimeoutMs', async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [migrationLockKey('delta')]);
      const held = await query(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
        [migrationLockKey('delta')],
      );
      expect(held[0].n).toBe(1);
      const lines: string[] = [];
      await expect(
        runMigrations({ url: db.url, schema: 'delta', migrations }, { lockTimeoutMs: 300, log: { info: (m) => lines.push(m) } }),
      ).rejects.toThrow(/gave up waiting for the migration lock/);
      expect(lines[0]).toMatch(/another runner holds the migration lock/);
      expect((await query("SELECT to_regclass('delta.things') AS t"))[0].t).toBeNull();
    } finally {
      await holder.end();
    }
    expect((await runMigrations({ url: db.url, schema: 'delta', migrations })).applied).toHaveLength(2);
  });

  it('runs on an existing DataSource and leaves it open', async () => {
    const ds = createDataSource({ url: db.url, schema: 'beta', migrations });
    await ds.initialize();
    try {
      const report = await runMigrations(ds);
      expect(report.applied).toHaveLength(2);
      expect(ds.isInitialized).toBe(true);
      expect(await ds.query('SELECT count(*)::int AS n FROM things')).toEqual([{ n: 0 }]); // search_path pinned to beta
    } finally {
      await ds.destroy();
    }
  });

  it('rolls a failing migration back, reports it, and releases the lock', async () => {
    await expect(runMigrations({ url: db.url, schema: 'gamma', migrations: [...migrations, Broken1700000000003] })).rejects.toThrow(/no_such_table/);
    const [row] = await query("SELECT to_regclass('gamma.half_written') AS half, (SELECT count(*)::int FROM gamma.migrations) AS n");
    expect(row).toEqual({ half: null, n: 2 });
    const again = await runMigrations({ url: db.url, schema: 'gamma', migrations });
    expect(again.applied).toEqual([]);
  });

  it('derives a stable, distinct lock key per schema', () => {
    expect(migrationLockKey('legacy')).toBe(migrationLockKey('legacy'));
    expect(migrationLockKey('legacy')).not.toBe(migrationLockKey('insights'));
    expect(BigInt(migrationLockKey('legacy'))).toBeGreaterThanOrEqual(-(2n ** 63n));
  });
});
