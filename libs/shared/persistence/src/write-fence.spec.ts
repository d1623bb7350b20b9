import { Client, Pool, type PoolClient } from 'pg';
import { specDatabase } from './spec-support';
import {
  FenceExpiredError,
  fenceSide,
  MARK_SYNC_APPLY_SQL,
  readFence,
  setSideOwner,
  unfenceSide,
  WRITE_FENCE_SQLSTATE,
  dropWriteFenceSqlV1,
  undoWriteFenceLockdownSqlV1,
  writeFenceLockdownSqlV1,
  writeFenceSchemaSqlV1,
  writeFenceTablesSqlV1,
} from './write-fence';

const WS1 = '00000000-0000-4000-a000-000000000001';
const WS2 = '00000000-0000-4000-a000-000000000002';

describe('the write fence (real Postgres): the side that writes refuses what it does not own', () => {
  let db: Awaited<ReturnType<typeof specDatabase>>;
  let pool: Pool;

  beforeAll(async () => {
    db = await specDatabase('persistence_write_fence');
    pool = new Pool({ connectionString: db.url, max: 6 });
    await pool.query(`CREATE SCHEMA side;
      CREATE TABLE side.notes (id serial PRIMARY KEY, workspace_id uuid NOT NULL, title text NOT NULL);
      CREATE TABLE side.other (id serial PRIMARY KEY, workspace_id uuid NOT NULL)`);
    await pool.query(writeFenceSchemaSqlV1('side'));
    await pool.query(writeFenceTablesSqlV1({ schema: 'side', context: 'insights', tables: ['notes'], ownerByDefault: false }));
    // Idempotent: a second run changes nothing.
    await pool.query(writeFenceSchemaSqlV1('side'));
    await pool.query(writeFenceTablesSqlV1({ schema: 'side', context: 'insights', tables: ['notes'], ownerByDefault: false }));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const insert = (ws = WS1, title = 't') => pool.query('INSERT INTO side.notes (workspace_id, title) VALUES ($1, $2) RETURNING id', [ws, title]);
  const count = async () => Number((await pool.query('SELECT count(*) FROM side.notes')).rows[0].count);
  const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');

  it('refuses every kind of write while the side does not own the context (CV409), whatever the statement', async () => {
    const before = await count();
    expect(await codeOf(insert())).toBe(WRITE_FENCE_SQLSTATE.notOwner);
    expect(await codeOf(pool.query(`INSERT INTO side.notes (workspace_id, title) SELECT $1, 'x' FROM generate_series(1, 50)`, [WS1]))).toBe(WRITE_FENCE_SQLSTATE.notOwner);
    expect(await count()).toBe(before);
    // Tables of no fenced context are not touched.
    expect(await codeOf(pool.query('INSERT INTO side.other (workspace_id) VALUES ($1)', [WS1]))).toBe('ok');
    // The error says which context (the HTTP layer names it).
    await expect(insert()).rejects.toMatchObject({ hint: 'insights', detail: WS1 });
  });

  it('lets a sync apply (or the backfill) pass: it writes the other side\'s changes', async () => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(MARK_SYNC_APPLY_SQL);
      await c.query('INSERT INTO side.notes (workspace_id, title) VALUES ($1, $2)', [WS1, 'synced']);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    expect((await pool.query(`SELECT count(*)::int AS n FROM side.notes WHERE title = 'synced'`)).rows[0].n).toBe(1);
    // The mark is transaction-local: the next transaction on the same connection is checked again.
    const c2 = await pool.connect();
    try {
      await c2.query('BEGIN');
      await c2.query(MARK_SYNC_APPLY_SQL);
      await c2.query('COMMIT');
      expect(await codeOf(c2.query('INSERT INTO side.notes (workspace_id, title) VALUES ($1, $2)', [WS1, 'after']))).toBe(WRITE_FENCE_SQLSTATE.notOwner);
    } finally {
      c2.release();
    }
  });

  it('accepts writes once the side owns them, refuses them while fenced (CV503), and per workspace', async () => {
    await setSideOwner(pool, 'side', { context: 'insights', scopes: [], owner: true, handoverId: null });
    expect(await codeOf(insert())).toBe('ok');
    await fenceSide(pool, 'side', { context: 'insights', scopes: [], ttlMs: 30_000, handoverId: 'h1', ownerIfNew: true });
    expect(await codeOf(insert())).toBe(WRITE_FENCE_SQLSTATE.fenced);
    expect(await codeOf(pool.query('DELETE FROM side.notes WHERE workspace_id = $1', [WS1]))).toBe(WRITE_FENCE_SQLSTATE.fenced);
    expect(await unfenceSide(pool, 'side', { context: 'insights', handoverId: 'h1' })).toBe(1);
    expect(await codeOf(insert())).toBe('ok');
    // A per-workspace row beats the whole-context one.
    await setSideOwner(pool, 'side', { context: 'insights', scopes: [WS2], owner: false, handoverId: null });
    expect(await codeOf(insert(WS1))).toBe('ok');
    expect(await codeOf(insert(WS2))).toBe(WRITE_FENCE_SQLSTATE.notOwner);
    // One statement touching both workspaces is refused as a whole.
    expect(await codeOf(pool.query(`INSERT INTO side.notes (workspace_id, title) VALUES ($1, 'a'), ($2, 'b')`, [WS1, WS2]))).toBe(WRITE_FENCE_SQLSTATE.notOwner);
    expect((await readFence(pool, 'side', 'insights')).map((r) => [r.scope, r.owner])).toEqual([
      ['*', true],
      [WS2, false],
    ]);
    await pool.query(`DELETE FROM side.write_fence WHERE scope <> '*'`);
  });

  it("fences one workspace alone (the others keep writing); a workspace's own row answers for it, so a whole-context fence names every row", async () => {
    await setSideOwner(pool, 'side', { context: 'insights', scopes: [], owner: true, handoverId: null });
    await fenceSide(pool, 'side', { context: 'insights', scopes: [WS2], ttlMs: 30_000, handoverId: 'h-ws', ownerIfNew: true });
    expect([await codeOf(insert(WS1)), await codeOf(insert(WS2))]).toEqual(['ok', WRITE_FENCE_SQLSTATE.fenced]);
    expect(await unfenceSide(pool, 'side', { context: 'insights', handoverId: 'h-ws' })).toBe(1);
    // Fencing only the whole-context row leaves WS2 (which has a row of its own) writable ...
    await fenceSide(pool, 'side', { context: 'insights', scopes: [], ttlMs: 30_000, handoverId: 'h-star', ownerIfNew: true });
    expect([await codeOf(insert(WS1)), await codeOf(insert(WS2))]).toEqual([WRITE_FENCE_SQLSTATE.fenced, 'ok']);
    await unfenceSide(pool, 'side', { context: 'insights', handoverId: 'h-star' });
    // ... so a whole-context handover fences '*' and every workspace row.
    await fenceSide(pool, 'side', { context: 'insights', scopes: ['*', WS2], ttlMs: 30_000, handoverId: 'h-all', ownerIfNew: true });
    expect([await codeOf(insert(WS1)), await codeOf(insert(WS2))]).toEqual([WRITE_FENCE_SQLSTATE.fenced, WRITE_FENCE_SQLSTATE.fenced]);
    expect(await unfenceSide(pool, 'side', { context: 'insights', handoverId: 'h-all' })).toBe(2);
    await pool.query(`DELETE FROM side.write_fence WHERE scope <> '*'`);
  });

  it('a fence waits for the writes that passed the check: once it has committed, nothing more lands', async () => {
    await setSideOwner(pool, 'side', { context: 'insights', scopes: [], owner: true, handoverId: null });
    const writer: PoolClient = await pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query('INSERT INTO side.notes (workspace_id, title) VALUES ($1, $2)', [WS1, 'in-flight']);
      let fenced = false;
      const fencing = fenceSide(pool, 'side', { context: 'insights', scopes: [], ttlMs: 30_000, handoverId: 'h2', ownerIfNew: true }).then(() => (fenced = true));
      // The fence is blocked by the writer's lock: it cannot have committed while the writer is open.
      const blocked = await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
      for (let i = 0; i < 200 && blocked.rows[0].n === 0; i++) {
        blocked.rows[0].n = (await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rows[0].n;
      }
      expect(blocked.rows[0].n).toBeGreaterThan(0);
      expect(fenced).toBe(false);
      await writer.query('COMMIT');
      await fencing;
      expect(fenced).toBe(true);
      expect(await codeOf(insert(WS1, 'late'))).toBe(WRITE_FENCE_SQLSTATE.fenced);
      expect((await pool.query(`SELECT count(*)::int AS n FROM side.notes WHERE title = 'in-flight'`)).rows[0].n).toBe(1);
    } finally {
      writer.release();
      await unfenceSide(pool, 'side', { context: 'insights', handoverId: 'h2' });
    }
  });

  it('an expired fence lifts by itself with the owner unchanged, and can no longer flip the owner', async () => {
    await setSideOwner(pool, 'side', { context: 'insights', scopes: [], owner: true, handoverId: null });
    await fenceSide(pool, 'side', { context: 'insights', scopes: [], ttlMs: 1, handoverId: 'h3', ownerIfNew: true });
    // Wait (bounded) for the deadline on the database's clock.
    for (let i = 0; i < 100; i++) {
      if ((await pool.query(`SELECT bool_and(fenced_until < clock_timestamp()) AS past FROM side.write_fence WHERE handover_id = 'h3'`)).rows[0].past) break;
    }
    expect(await codeOf(insert())).toBe('ok');
    await expect(setSideOwner(pool, 'side', { context: 'insights', scopes: [], owner: false, handoverId: 'h3', requireFence: true })).rejects.toBeInstanceOf(FenceExpiredError);
    expect((await readFence(pool, 'side', 'insights'))[0]).toMatchObject({ scope: '*', owner: true });
  });

  it('an app role can write through the fence but cannot change it (the check runs with the owner\'s rights)', async () => {
    const role = `fence_app_${Date.now().toString(36)}`;
    await pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'fence-app'; GRANT USAGE ON SCHEMA side TO ${role}; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA side TO ${role};
                      GRANT USAGE ON ALL SEQUENCES IN SCHEMA side TO ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'fence-app';
    const app = new Client({ connectionString: url.toString() });
    try {
      await app.connect();
      await setSideOwner(pool, 'side', { context: 'insights', scopes: [], owner: true, handoverId: null });
      // Before the lockdown the app role could hand its side the writes itself.
      expect(await codeOf(app.query(`UPDATE side.write_fence SET owner = owner`))).toBe('ok');
      await pool.query(writeFenceLockdownSqlV1('side'));
      await pool.query(writeFenceLockdownSqlV1('side'));
      expect(await codeOf(app.query('INSERT INTO side.notes (workspace_id, title) VALUES ($1, $2)', [WS1, 'by the app']))).toBe('ok');
      for (const sql of [`UPDATE side.write_fence SET owner = true`, `DELETE FROM side.write_fence`, `INSERT INTO side.write_fence (context, scope, owner) VALUES ('x', '*', true)`]) {
        expect(await codeOf(app.query(sql))).toBe('42501');
      }
      await setSideOwner(pool, 'side', { context: 'insights', scopes: [], owner: false, handoverId: null });
      expect(await codeOf(app.query('INSERT INTO side.notes (workspace_id, title) VALUES ($1, $2)', [WS1, 'refused']))).toBe(WRITE_FENCE_SQLSTATE.notOwner);
    } finally {
      await app.end().catch(() => undefined);
      await pool.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it("is undone by its V1 downs: the lockdown, then the fence itself (a migration's down)", async () => {
    await pool.query(`CREATE SCHEMA undo; CREATE TABLE undo.notes (id serial PRIMARY KEY, workspace_id uuid NOT NULL)`);
    await pool.query(writeFenceSchemaSqlV1('undo'));
    await pool.query(writeFenceTablesSqlV1({ schema: 'undo', context: 'insights', tables: ['notes'], ownerByDefault: false }));
    await pool.query(writeFenceLockdownSqlV1('undo'));
    const definer = async () =>
      (await pool.query<{ d: boolean }>(`SELECT prosecdef AS d FROM pg_proc WHERE proname = 'carve_write_fence_check' AND pronamespace = 'undo'::regnamespace`)).rows[0]?.d;
    expect(await definer()).toBe(true);
    await pool.query(undoWriteFenceLockdownSqlV1('undo'));
    expect(await definer()).toBe(false);
    await pool.query(dropWriteFenceSqlV1('undo', ['notes']));
    const { rows } = await pool.query(`SELECT to_regclass('undo.write_fence')::text AS fence,
      (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'undo.notes'::regclass AND NOT tgisinternal) AS triggers,
      (SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'undo'::regnamespace) AS functions`);
    expect(rows).toEqual([{ fence: null, triggers: 0, functions: 0 }]);
    await pool.query('INSERT INTO undo.notes (workspace_id) VALUES ($1)', [WS1]);
    await pool.query('DROP SCHEMA undo CASCADE');
  });
});
