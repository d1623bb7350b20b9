/**
 * `carve move` switch and rollback on two real databases, under writes. Two "app replicas" write
 * (insert, update, delete) to whichever database the move's pointer names; a write the fence
 * refuses (SQLSTATE CV503, the app's 503 write_fenced) is retried after reading the pointer
 * again, as the app's Retry-After would have it. Each replica records what was acknowledged; the
 * test then reads the rows themselves on the side that took over: 0 acknowledged writes lost,
 * both ways, and the side given up refuses writes.
 */
import { createTestDatabase, type TestDatabase, waitFor } from '@carve/shared-testing';
import { Client, Pool } from 'pg';
import { applyMove, copyMove, MoveError, moveStatus, readMovePointer, rollbackMove, startMove, stopMove, switchMove, verifyMove } from '../src';

const DDL = `
  CREATE SCHEMA app;
  CREATE TABLE app.accounts (id bigserial PRIMARY KEY, name text NOT NULL, balance int NOT NULL DEFAULT 0);
  CREATE TABLE app.entries (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES app.accounts(id), amount int NOT NULL);
`;

interface Acked {
  /** account id -> last acknowledged balance */
  balances: Map<number, number>;
  /** entry id -> acknowledged to exist (true) or deleted (false) */
  entries: Map<number, boolean>;
  refusals: number;
}

/** An app replica: writes until stopped, following the pointer on a fence refusal. */
function replica(n: number, source: Pool, target: Pool, acked: Acked): { stop: () => Promise<void> } {
  let running = true;
  let db = source;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      for (;;) {
        try {
          const c = await db.connect();
          try {
            // Each replica updates and deletes only rows no other replica touches (accounts by id
            // modulo 4, entries by amount modulo 10): two acknowledgements of one row from two
            // connections may reach the test in either order, so "the last acknowledged value"
            // is only defined per writer.
            if (i % 3 === 0) {
              const balance = n * 1_000_000 + i;
              const id = 1 + 4 * ((i * 7) % 5) + ((n - 1) % 4);
              await c.query('UPDATE app.accounts SET balance = $2 WHERE id = $1', [id, balance]);
              acked.balances.set(id, balance);
            } else if (i % 3 === 1) {
              const r = await c.query('INSERT INTO app.entries (account_id, amount) VALUES ($1, $2) RETURNING id', [1 + (i % 20), i * 10 + n]);
              acked.entries.set(Number(r.rows[0].id), true);
            } else {
              const r = await c.query('DELETE FROM app.entries WHERE id = (SELECT min(id) FROM app.entries WHERE amount % 10 = $1 AND (amount / 10) % 2 = 0) RETURNING id', [n]);
              if (r.rows[0]) acked.entries.set(Number(r.rows[0].id), false);
            }
          } finally {
            c.release();
          }
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'CV503') throw err;
          acked.refusals++;
          const c = await source.connect();
          try {
            db = (await readMovePointer(c, 'app')) === 'target' ? target : source;
          } finally {
            c.release();
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function expectAckedOn(c: Client, acked: Acked): Promise<void> {
  const balances = new Map((await c.query('SELECT id, balance FROM app.accounts')).rows.map((r) => [Number(r.id), r.balance]));
  for (const [id, balance] of acked.balances) expect([id, balances.get(id)]).toEqual([id, balance]);
  const entries = new Set((await c.query('SELECT id FROM app.entries')).rows.map((r) => Number(r.id)));
  for (const [id, exists] of acked.entries) expect([id, entries.has(id)]).toEqual([id, exists]);
}

describe('carve move: switch and lossless rollback under writes', () => {
  let from: TestDatabase;
  let to: TestDatabase;
  let src: Client;
  let dst: Client;
  let sourcePool: Pool;
  let targetPool: Pool;
  const t = () => ({ fromUrl: from.url, toUrl: to.url, schema: 'app', actor: 'move-switch.spec' });

  beforeAll(async () => {
    from = await createTestDatabase('carving_switch_from');
    to = await createTestDatabase('carving_switch_to');
    src = new Client({ connectionString: from.url });
    dst = new Client({ connectionString: to.url });
    await src.connect();
    await dst.connect();
    await src.query(DDL);
    await dst.query(DDL);
    await src.query(`INSERT INTO app.accounts (name) SELECT 'acct ' || g FROM generate_series(1, 20) g`);
    await src.query(`INSERT INTO app.entries (account_id, amount) SELECT 1 + g % 20, g FROM generate_series(1, 2000) g`);
    sourcePool = new Pool({ connectionString: from.url, max: 4 });
    targetPool = new Pool({ connectionString: to.url, max: 4 });
  });
  afterAll(async () => {
    await sourcePool?.end();
    await targetPool?.end();
    await src?.end();
    await dst?.end();
    await from?.drop();
    await to?.drop();
  });

  it('refuses a switch before the copy, and a rollback before a switch', async () => {
    await expect(switchMove(t())).rejects.toMatchObject({ code: 'no_move' });
    await expect(rollbackMove(t())).rejects.toBeInstanceOf(MoveError);
  });

  it('refuses a switch (and an apply) when a migration ran on one side only, before fencing anything', async () => {
    const a = await createTestDatabase('carving_switch_shape_from');
    const b = await createTestDatabase('carving_switch_shape_to');
    const ca = new Client({ connectionString: a.url });
    await ca.connect();
    try {
      await ca.query(DDL);
      await withClient(b.url, (c) => c.query(DDL));
      const m = { fromUrl: a.url, toUrl: b.url, schema: 'app', actor: 'move-switch.spec' };
      await startMove(m);
      await copyMove(m);
      await ca.query('ALTER TABLE app.accounts ADD COLUMN plan text'); // the release phase, on the source only
      await expect(switchMove(m)).rejects.toMatchObject({ code: 'shape_differs', message: expect.stringContaining('accounts') });
      await expect(applyMove(m)).rejects.toMatchObject({ code: 'shape_differs' });
      // Nothing fenced: the source still takes writes.
      await ca.query(`INSERT INTO app.accounts (name, plan) VALUES ('after', 'pro')`);
      expect(await readMovePointer(ca, 'app')).toBe('source');
    } finally {
      await ca.end();
      await a.drop();
      await b.drop();
    }
  });

  it('stops a switched move only with the target named: no capture left on either side, the pointer still on the target, the source still fenced', async () => {
    const a = await createTestDatabase('carving_switch_stop_from');
    const b = await createTestDatabase('carving_switch_stop_to');
    const [ca, cb] = [new Client({ connectionString: a.url }), new Client({ connectionString: b.url })];
    await ca.connect();
    await cb.connect();
    try {
      await ca.query(DDL);
      await cb.query(DDL);
      await ca.query(`INSERT INTO app.accounts (name) VALUES ('one')`);
      const m = { fromUrl: a.url, toUrl: b.url, schema: 'app', actor: 'move-switch.spec' };
      await startMove(m);
      await copyMove(m);
      await switchMove(m);
      await expect(stopMove({ fromUrl: a.url, schema: 'app' })).rejects.toMatchObject({ code: 'needs_target' });
      expect(await stopMove(m)).toBe('finished');
      const captureTriggers = async (c: Client) =>
        (await c.query(`SELECT count(*)::int AS n FROM pg_trigger tg JOIN pg_class k ON k.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = k.relnamespace WHERE n.nspname = 'app' AND tg.tgname LIKE 'carve_move_%' AND tg.tgname <> 'carve_move_fence'`)).rows[0].n;
      expect([await captureTriggers(ca), await captureTriggers(cb)]).toEqual([0, 0]);
      expect(await readMovePointer(ca, 'app')).toBe('target');
      await expect(ca.query(`UPDATE app.accounts SET name = 'late'`)).rejects.toMatchObject({ code: 'CV503' });
      await cb.query(`UPDATE app.accounts SET name = 'on the new primary'`);
      expect(Number((await cb.query(`SELECT count(*) FROM carve_move.changes`)).rows[0].count)).toBe(0);
    } finally {
      await ca.end();
      await cb.end();
      await a.drop();
      await b.drop();
    }
  });

  it('switches to the target and back with 0 acknowledged writes lost, the given-up side fenced', async () => {
    const acked: Acked = { balances: new Map(), entries: new Map(), refusals: 0 };
    await startMove(t());
    let writers = [replica(1, sourcePool, targetPool, acked), replica(2, sourcePool, targetPool, acked)];
    await copyMove(t(), { batchSize: 500 });
    await applyMove(t());
    await waitFor('writes on the source', () => acked.entries.size > 50);

    const sw = await switchMove(t());
    expect(sw.primary).toContain('carving_switch_to');
    expect(sw.sequences.map((s) => s.name).sort()).toEqual(['accounts_id_seq', 'entries_id_seq']);
    expect(await readMovePointer(src, 'app')).toBe('target');
    // The replicas follow the pointer: writes land on the target now.
    const onTarget = acked.entries.size;
    await waitFor('writes on the target', () => acked.entries.size > onTarget + 30);
    await Promise.all(writers.map((w) => w.stop()));
    expect(acked.refusals).toBeGreaterThan(0);
    await expectAckedOn(dst, acked);
    // The source refuses writes from any path (here: straight SQL, as a cron job).
    await expect(src.query(`UPDATE app.accounts SET balance = -1 WHERE id = 1`)).rejects.toMatchObject({ code: 'CV503' });
    const balanceOnTarget = acked.balances.get(1);
    expect((await dst.query('SELECT balance FROM app.accounts WHERE id = 1')).rows[0].balance).toBe(balanceOnTarget ?? 0);

    // Back, while the replicas write to the target.
    writers = [replica(3, sourcePool, targetPool, acked), replica(4, sourcePool, targetPool, acked)];
    await waitFor('writes before the rollback', () => acked.entries.size > onTarget + 60);
    const back = await rollbackMove(t());
    expect(back.primary).toContain('carving_switch_from');
    expect(await readMovePointer(src, 'app')).toBe('source');
    const onSource = acked.entries.size;
    await waitFor('writes on the source again', () => acked.entries.size > onSource + 30);
    await Promise.all(writers.map((w) => w.stop()));
    await expectAckedOn(src, acked);
    await expect(dst.query(`UPDATE app.accounts SET balance = -1 WHERE id = 1`)).rejects.toMatchObject({ code: 'CV503' });

    // The source still captures: the move goes on where it was (copied), and the target catches up.
    expect((await moveStatus(t())).state?.phase).toBe('copied');
    await applyMove(t());
    expect(await verifyMove(t())).toMatchObject({ ok: true, backlog: 0 });
  });
});
