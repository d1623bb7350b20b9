/**
 * `carve move` as an operator runs it (the CLI as a process, two real databases standing for the
 * old server and the new one): plan, start, backfill with progress, apply, verify, status, stop,
 * each with --json; and the exit codes a script tells apart: usage 2, refused 3, drift 4,
 * unreachable 5. Final state is read on both sides, not taken from the CLI's word.
 */
import { carve, createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';

const DDL = `
  CREATE SCHEMA app;
  CREATE TABLE app.accounts (id bigserial PRIMARY KEY, name text NOT NULL);
  CREATE TABLE app.items (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES app.accounts(id), label text NOT NULL, qty int NOT NULL DEFAULT 0);
`;

let from: TestDatabase;
let to: TestDatabase;
let src: Client;
let dst: Client;

beforeAll(async () => {
  from = await createTestDatabase('carve_move_cli_from');
  to = await createTestDatabase('carve_move_cli_to');
  src = new Client({ connectionString: from.url });
  dst = new Client({ connectionString: to.url });
  await src.connect();
  await dst.connect();
  await src.query(DDL);
  await dst.query(DDL);
  await src.query(`INSERT INTO app.accounts (name) SELECT 'a' || g FROM generate_series(1, 30) g`);
  await src.query(`INSERT INTO app.items (account_id, label) SELECT a.id, 'item ' || g FROM app.accounts a, generate_series(1, 100) g`);
});
afterAll(async () => {
  await src?.end();
  await dst?.end();
  await from?.drop();
  await to?.drop();
});

const move = (...args: string[]) => carve(from.url, ['move', ...args]);
const rows = async (c: Client) => (await c.query(`SELECT to_jsonb(i)::text AS j FROM app.items i ORDER BY id`)).rows.map((r) => r.j);

it('usage errors exit 2 before anything connects', async () => {
  const noTo = await move('start', '--schema', 'app');
  expect(noTo.code).toBe(2);
  expect(noTo.stderr).toContain('no target database');
  const badSchema = await move('plan', '--schema', 'App; DROP', '--to', to.url);
  expect(badSchema.code).toBe(2);
  const same = await move('plan', '--schema', 'app', '--to', from.url);
  expect(same.code).toBe(2);
  expect(await (await src.query(`SELECT to_regclass('carve_move.moves') AS t`)).rows[0].t).toBeNull();
}, 60_000);

it('an unreachable target exits 5 and says which server to check', async () => {
  const r = await move('plan', '--schema', 'app', '--to', 'postgres://postgres@127.0.0.1:1/none');
  expect(r.code).toBe(5);
  expect(r.stderr).toContain('cannot reach the database');
  expect(r.stderr).toContain('127.0.0.1:1');
}, 60_000);

it('moves a schema from plan to stop, with progress, and refuses what is out of order (exit 3)', async () => {
  const plan = await move('plan', '--schema', 'app', '--to', to.url, '--json');
  expect(plan.code).toBe(0);
  const p = JSON.parse(plan.stdout);
  expect(p.blockers).toEqual([]);
  expect(p.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])).toEqual([
    ['accounts', expect.any(Number)],
    ['items', expect.any(Number)],
  ]);

  const early = await move('apply', '--schema', 'app', '--to', to.url);
  expect(early.code).toBe(3);
  expect(early.stderr).toContain('[no_move]');
  expect(early.stderr).toContain('carve move start');

  expect((await move('start', '--schema', 'app', '--to', to.url)).code).toBe(0);
  const again = await move('start', '--schema', 'app', '--to', to.url);
  expect(again.code).toBe(3);
  expect(again.stderr).toContain('[already_started]');

  // A change between start and backfill is captured.
  await src.query(`UPDATE app.items SET qty = 7 WHERE id <= 10`);
  const copy = await move('backfill', '--schema', 'app', '--to', to.url, '--batch-size', '500');
  expect(copy.code).toBe(0);
  expect(copy.stderr).toMatch(/copy items/); // progress, on stderr
  expect(copy.stdout).toContain('next: `carve move apply');

  await src.query(`DELETE FROM app.items WHERE id = 11`);
  await src.query(`INSERT INTO app.items (account_id, label) VALUES (1, 'late')`);
  const drift = await move('verify', '--schema', 'app', '--to', to.url, '--json');
  expect(drift.code).toBe(4);
  expect(JSON.parse(drift.stdout)).toMatchObject({ ok: false });

  const apply = await move('apply', '--schema', 'app', '--to', to.url, '--json');
  expect(apply.code).toBe(0);
  expect(JSON.parse(apply.stdout)).toMatchObject({ backlog: 0 });
  const verify = await move('verify', '--schema', 'app', '--to', to.url);
  expect(verify.code).toBe(0);
  expect(verify.stdout).toContain('no drift in app');
  expect(await rows(dst)).toEqual(await rows(src));

  // The switch: the target takes the writes, the source refuses them; then back, losing none.
  const sw = await move('switch', '--schema', 'app', '--to', to.url, '--json');
  expect({ code: sw.code, stderr: sw.stderr }).toMatchObject({ code: 0 });
  expect(JSON.parse(sw.stdout)).toMatchObject({ primary: expect.stringContaining('carve_move_cli_to'), sequences: [expect.objectContaining({ name: 'accounts_id_seq' }), expect.objectContaining({ name: 'items_id_seq' })] });
  expect(sw.stderr).toContain('switch: fencing');
  await expect(src.query(`UPDATE app.items SET qty = 1 WHERE id = 1`)).rejects.toMatchObject({ code: 'CV503' });
  await dst.query(`INSERT INTO app.items (account_id, label) VALUES (2, 'written on the target')`);
  const again2 = await move('switch', '--schema', 'app', '--to', to.url);
  expect(again2.code).toBe(3);
  const back = await move('rollback', '--schema', 'app', '--to', to.url);
  expect(back.code).toBe(0);
  expect(back.stdout).toContain('rolled back');
  expect((await src.query(`SELECT count(*)::int AS n FROM app.items WHERE label = 'written on the target'`)).rows[0].n).toBe(1);
  await expect(dst.query(`UPDATE app.items SET qty = 1 WHERE id = 1`)).rejects.toMatchObject({ code: 'CV503' });
  expect(await rows(dst)).toEqual(await rows(src));

  const status = await move('status', '--schema', 'app', '--json');
  expect(JSON.parse(status.stdout)).toMatchObject({ backlog: 0, state: { phase: 'copied' } });
  expect((await move('stop', '--schema', 'app')).code).toBe(0);
  expect(JSON.parse((await move('status', '--schema', 'app', '--json')).stdout).state.phase).toBe('stopped');
  // Writes after stop are not captured any more.
  await src.query(`UPDATE app.items SET qty = 99 WHERE id = 1`);
  expect(Number((await src.query(`SELECT count(*) FROM carve_move.changes`)).rows[0].count)).toBe(0);
}, 240_000);
