/**
 * `carve move` against real Postgres: the source and the target are two databases of the test
 * server (the move only ever talks to them over their URLs, as it would to two servers). A writer
 * keeps inserting, updating and deleting rows of the source while the capture, the copy and the
 * apply run; the target must end equal to the source, row for row (checked here by reading both
 * sides, not only by `verifyMove`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '@carve/shared-persistence';
import { createTestDatabase, freePorts, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { applyMove, copyMove, type CopyProgress, moveStatus, MoveError, planMove, rollbackMove, startMove, stopMove, switchMove, verifyMove } from '../src';

const SCHEMA = 'app';
const DDL = `
  CREATE SCHEMA ${SCHEMA};
  CREATE TABLE ${SCHEMA}.workspaces (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE ${SCHEMA}.notes (
    id bigserial PRIMARY KEY,
    workspace_id bigint NOT NULL REFERENCES ${SCHEMA}.workspaces(id) ON DELETE CASCADE,
    title text NOT NULL,
    body jsonb,
    version int NOT NULL DEFAULT 1
  );
  CREATE TABLE ${SCHEMA}.note_tags (note_id bigint NOT NULL REFERENCES ${SCHEMA}.notes(id) ON DELETE CASCADE, tag text NOT NULL, PRIMARY KEY (note_id, tag));
`;

async function seed(c: Client, workspaces: number, notesEach: number): Promise<void> {
  await c.query(`INSERT INTO ${SCHEMA}.workspaces (name) SELECT 'ws ' || g FROM generate_series(1, $1) g`, [workspaces]);
  await c.query(
    `INSERT INTO ${SCHEMA}.notes (workspace_id, title, body) SELECT w.id, 'note ' || g, jsonb_build_object('n', g, 'text', repeat('x', 40)) FROM ${SCHEMA}.workspaces w, generate_series(1, $1) g`,
    [notesEach],
  );
  await c.query(`INSERT INTO ${SCHEMA}.note_tags (note_id, tag) SELECT id, t FROM ${SCHEMA}.notes, unnest(ARRAY['a','b']) t WHERE id % 3 = 0`);
}

/** Every row of every table, as JSON text in key order: what "equal" means in these tests. */
async function dump(c: Client): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [t, key] of [['workspaces', 'id'], ['notes', 'id'], ['note_tags', 'note_id, tag']]) {
    out[t] = (await c.query(`SELECT to_jsonb(x)::text AS j FROM ${SCHEMA}.${t} x ORDER BY ${key}`)).rows.map((r) => r.j);
  }
  return out;
}

/** Inserts, updates and deletes on the source until stopped; resolves with how many statements committed. */
function startWriter(url: string): { stop: () => Promise<number> } {
  let running = true;
  let done = 0;
  const loop = (async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('SET TimeZone = UTC');
      for (let i = 0; running; i++) {
        switch (i % 6) {
          case 0: {
            const w = await c.query(`INSERT INTO ${SCHEMA}.workspaces (name) VALUES ($1) RETURNING id`, [`live ${i}`]);
            const n = await c.query(`INSERT INTO ${SCHEMA}.notes (workspace_id, title) VALUES ($1, 'first') RETURNING id`, [w.rows[0].id]);
            await c.query(`INSERT INTO ${SCHEMA}.note_tags VALUES ($1, 'new')`, [n.rows[0].id]);
            break;
          }
          case 1:
          case 2:
            await c.query(`UPDATE ${SCHEMA}.notes SET title = title || '+', version = version + 1 WHERE id IN (SELECT id FROM ${SCHEMA}.notes ORDER BY random() LIMIT 3)`);
            break;
          case 3:
            await c.query(`DELETE FROM ${SCHEMA}.notes WHERE id = (SELECT id FROM ${SCHEMA}.notes ORDER BY random() LIMIT 1)`);
            break;
          case 4:
            // A key that changes: the old row goes, the new one comes.
            await c.query(`UPDATE ${SCHEMA}.note_tags SET tag = tag || 'x' WHERE (note_id, tag) = (SELECT note_id, tag FROM ${SCHEMA}.note_tags ORDER BY random() LIMIT 1)`);
            break;
          default:
            await c.query(`DELETE FROM ${SCHEMA}.workspaces WHERE id = (SELECT id FROM ${SCHEMA}.workspaces ORDER BY random() LIMIT 1)`);
        }
        done++;
      }
    } finally {
      await c.end();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return done;
    },
  };
}

describe('carve move (two real databases)', () => {
  let from: TestDatabase;
  let to: TestDatabase;
  let src: Client;
  let dst: Client;
  const t = () => ({ fromUrl: from.url, toUrl: to.url, schema: SCHEMA, actor: 'move.spec' });

  beforeEach(async () => {
    from = await createTestDatabase('carving_move_from');
    to = await createTestDatabase('carving_move_to');
    src = new Client({ connectionString: from.url });
    dst = new Client({ connectionString: to.url });
    await src.connect();
    await dst.connect();
    await src.query(DDL);
    await dst.query(DDL);
  });
  afterEach(async () => {
    await src?.end();
    await dst?.end();
    await from?.drop();
    await to?.drop();
  });

  it('moves a schema while it is written to: the target ends equal to the source, row for row', async () => {
    await seed(src, 40, 50); // 2,000 notes
    const plan = await planMove({ ...t(), sampleRows: 200 });
    expect(plan.blockers).toEqual([]);
    expect(plan.tables.map((x) => x.name)).toEqual(['workspaces', 'notes', 'note_tags']);
    expect(plan.estimate?.rowsPerSecond).toBeGreaterThan(0);

    await startMove(t());
    const writer = startWriter(from.url);
    const progress: CopyProgress[] = [];
    const copied = await copyMove(t(), { batchSize: 250, onProgress: (p) => progress.push(p) });
    expect(copied.tables.map((x) => x.name)).toEqual(['workspaces', 'notes', 'note_tags']);
    expect(progress.some((p) => p.table === 'notes' && !p.done)).toBe(true);
    expect(progress.filter((p) => p.done).map((p) => p.table)).toEqual(['workspaces', 'notes', 'note_tags']);

    // Changes keep coming while the first passes apply.
    const first = await applyMove(t());
    expect(first.changes).toBeGreaterThan(0);
    const statements = await writer.stop();
    expect(statements).toBeGreaterThan(5);
    await applyMove(t());

    const status = await moveStatus(t());
    expect(status).toMatchObject({ backlog: 0, lagMs: 0 });
    expect(status.state?.phase).toBe('copied');
    const v = await verifyMove(t());
    expect(v).toMatchObject({ ok: true, backlog: 0 });
    // Independently of verify: the rows themselves.
    const [a, b] = [await dump(src), await dump(dst)];
    expect(b.notes.length).toBe(a.notes.length);
    expect(b).toEqual(a);

    // A change after the apply is captured and shows as backlog, and verify sees the drift.
    await src.query(`UPDATE ${SCHEMA}.notes SET title = 'late' WHERE id = (SELECT min(id) FROM ${SCHEMA}.notes)`);
    expect((await moveStatus(t())).backlog).toBe(1);
    const drift = await verifyMove(t());
    expect(drift.ok).toBe(false);
    expect(drift.tables.filter((x) => !x.equal).map((x) => x.name)).toEqual(['notes']);
    await applyMove(t());
    expect((await verifyMove(t())).ok).toBe(true);

    // Stop removes the capture: the source writes without triggers, and carve_move records it.
    await stopMove(t());
    const triggers = await src.query(`SELECT count(*)::int AS n FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT tg.tgisinternal`, [SCHEMA]);
    expect(triggers.rows[0].n).toBe(0);
    expect((await moveStatus(t())).state?.phase).toBe('stopped');
  });

  it('a copy interrupted part way resumes where it stopped and copies every row once', async () => {
    await seed(src, 20, 100);
    await startMove(t());
    const abort = new AbortController();
    // Aborted (as Ctrl-C does) after a committed batch: the copy returns with notes unfinished.
    const part = await copyMove(t(), {
      batchSize: 100,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.table === 'notes' && p.rowsDone >= 500) abort.abort();
      },
    });
    expect(part.tables.map((x) => x.name)).toEqual(['workspaces', 'notes']);
    const mid = await moveStatus(t());
    expect(mid.state?.phase).toBe('copying');
    const notesMid = mid.tables.find((x) => x.name === 'notes');
    expect(notesMid).toMatchObject({ finished: false });
    expect(notesMid!.rowsCopied).toBeGreaterThanOrEqual(500);
    expect(notesMid!.rowsCopied).toBeLessThan(2000);

    const resumed: CopyProgress[] = [];
    await copyMove(t(), { batchSize: 100, onProgress: (p) => resumed.push(p) });
    // The resumed copy starts past what was already copied (workspaces is not copied again).
    expect(resumed.some((p) => p.table === 'workspaces' && !p.done)).toBe(false);
    await applyMove(t());
    expect((await verifyMove(t())).ok).toBe(true);
    expect(await dump(dst)).toEqual(await dump(src));
  });

  it('a throttled copy: its ceiling makes 50 ms batches; the load throttle pauses it while the target answers slowly, says why, and it ends with every row', async () => {
    await seed(src, 10, 300); // 3,000 notes
    // The probe's latency is the knob's delay on each database (a real pg_sleep); it counts its runs.
    for (const c of [src, dst]) {
      await c.query('CREATE TABLE public.knob (delay float8 NOT NULL, probes int NOT NULL)');
      await c.query('INSERT INTO public.knob VALUES (0, 0)');
    }
    const targetProbes = async () => (await dst.query('SELECT probes FROM public.knob')).rows[0].probes as number;
    await startMove(t());
    const seen: CopyProgress[] = [];
    let slowed: Promise<unknown> | undefined;
    const run = copyMove(t(), {
      maxRowsPerSecond: 2000, // 100 rows a batch
      throttle: { probeSql: 'UPDATE public.knob SET probes = probes + 1 RETURNING pg_sleep(delay)', maxLatencyMs: 20, intervalMs: 0 },
      onProgress: (p) => {
        seen.push(p);
        if (p.table === 'notes' && p.rowsDone >= 400) slowed ??= dst.query('UPDATE public.knob SET delay = 0.06');
      },
    });
    const failed = run.then(() => false, () => true);
    const until = async (what: string, cond: () => boolean | Promise<boolean>) => {
      const deadline = Date.now() + 30_000;
      while (!(await cond())) {
        if ((await Promise.race([failed, Promise.resolve(false)])) || Date.now() > deadline) throw new Error(`never: ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until('the throttle to pause the copy', () => seen.some((p) => p.throttle?.paused));
    const paused = seen.find((p) => p.throttle?.paused)!;
    expect(paused.throttle!.reason).toMatch(/^target latency \d+ ms > \d+ ms$/);
    // While paused the probes go on and no batch is written.
    const where = () => ({ table: seen.at(-1)!.table, rowsDone: seen.at(-1)!.rowsDone });
    const heldAt = where();
    const probesAt = await targetProbes();
    await until('five more probes while paused', async () => (await targetProbes()) >= probesAt + 5);
    expect(where()).toEqual(heldAt);
    expect(heldAt).toMatchObject({ table: 'notes' });
    expect(heldAt.rowsDone).toBeLessThan(3000);

    await dst.query('UPDATE public.knob SET delay = 0');
    const report = await run;
    expect(report.throttledMs).toBeGreaterThan(0);
    expect(report.slowedBy).toMatch(/^target latency/);
    // Batches of 100 (50 ms of 2,000 rows/s).
    const notes = [...new Set(seen.filter((p) => p.table === 'notes').map((p) => p.rowsDone))];
    const steps = notes.slice(1).map((n, i) => n - notes[i]);
    expect(Math.max(...steps)).toBe(100);
    expect(report.tables.find((x) => x.name === 'notes')!.rows).toBe(3000);
    await applyMove(t());
    expect((await verifyMove(t())).ok).toBe(true);
    expect(await dump(dst)).toEqual(await dump(src));
  });

  it('refuses what it cannot move, with the code and the step to take, and changes nothing', async () => {
    await src.query(`CREATE TABLE ${SCHEMA}.log (at timestamptz, line text)`);
    await dst.query(`CREATE TABLE ${SCHEMA}.log (at timestamptz, line text)`);
    // A row the source does not have blocks; one it has (as migrations seed on both sides) does not.
    await src.query(`INSERT INTO ${SCHEMA}.workspaces (id, name) VALUES (1, 'seeded by a migration')`);
    await dst.query(`INSERT INTO ${SCHEMA}.workspaces (id, name) VALUES (1, 'seeded by a migration'), (2, 'only on the target')`);
    const plan = await planMove(t());
    expect(plan.blockers.map((b) => [b.code, b.table])).toEqual(
      expect.arrayContaining([
        ['no_primary_key', 'log'],
        ['target_not_empty', 'workspaces'],
      ]),
    );
    expect(plan.blockers.find((b) => b.code === 'target_not_empty')?.message).toContain('holds 1 row(s) on the target that the source does not have');
    for (const b of plan.blockers) expect(b.next.length).toBeGreaterThan(0);
    await expect(startMove(t())).rejects.toBeInstanceOf(MoveError);
    await expect(startMove(t())).rejects.toMatchObject({ code: 'no_primary_key' });
    // Nothing installed on the source.
    const installed = await src.query(`SELECT to_regclass('carve_move.moves') AS t`);
    expect(installed.rows[0].t).toBeNull();
    const triggers = await src.query(`SELECT count(*)::int AS n FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT tg.tgisinternal`, [SCHEMA]);
    expect(triggers.rows[0].n).toBe(0);
  });

  it('refuses steps out of order, and a second start', async () => {
    await seed(src, 2, 2);
    await expect(copyMove(t())).rejects.toMatchObject({ code: 'no_move' });
    await startMove(t());
    await expect(startMove(t())).rejects.toMatchObject({ code: 'already_started' });
    await expect(applyMove(t())).rejects.toMatchObject({ code: 'out_of_order' });
    await expect(verifyMove(t())).rejects.toMatchObject({ code: 'out_of_order' });
  });

  it('refuses TRUNCATE on a captured table (it would empty the source behind the capture)', async () => {
    await seed(src, 2, 2);
    await startMove(t());
    const before = Number((await src.query(`SELECT count(*) FROM ${SCHEMA}.note_tags`)).rows[0].count);
    expect(before).toBeGreaterThan(0);
    await expect(src.query(`TRUNCATE ${SCHEMA}.note_tags`)).rejects.toMatchObject({ code: 'CV409', message: expect.stringMatching(/carve move/) });
    expect(Number((await src.query(`SELECT count(*) FROM ${SCHEMA}.note_tags`)).rows[0].count)).toBe(before);
  });
});

describe('carve move between two Postgres servers', () => {
  // The test database's server (DATABASE_URL: the machine's Postgres 15 locally, embedded 18 in
  // CI) and a second embedded Postgres 18 started here: locally this is a major-version move.
  it('moves a schema to another server and back, row for row', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-move-pg-'));
    const second = await startEmbeddedPostgres({ dataDir, port: await freePorts(1), timeoutMs: 120_000 });
    const from = await createTestDatabase('carving_move_servers');
    const admin = new Client({ connectionString: second.url });
    const src = new Client({ connectionString: from.url });
    let dst: Client | undefined;
    try {
      await admin.connect();
      await admin.query('CREATE DATABASE carve_move_target');
      const toUrl = second.url.replace(/\/postgres$/, '/carve_move_target');
      dst = new Client({ connectionString: toUrl });
      await src.connect();
      await dst.connect();
      await src.query(DDL);
      await dst.query(DDL);
      await seed(src, 10, 50);
      const t = { fromUrl: from.url, toUrl, schema: SCHEMA, actor: 'move.spec' };
      const plan = await planMove(t);
      expect(plan.blockers).toEqual([]);
      expect(plan.source.server).not.toBe(plan.target.server);
      await startMove(t);
      await copyMove(t);
      await src.query(`UPDATE ${SCHEMA}.notes SET title = 'after the copy' WHERE id % 10 = 0`);
      await applyMove(t);
      expect(await verifyMove(t)).toMatchObject({ ok: true });
      await switchMove(t, { verify: 'full' });
      // Keys handed out on the new server come after the source's.
      const w = await dst.query(`INSERT INTO ${SCHEMA}.workspaces (name) VALUES ('on the new server') RETURNING id`);
      expect(Number(w.rows[0].id)).toBeGreaterThan(10);
      await rollbackMove(t);
      expect(await dump(src)).toEqual(await dump(dst));
      expect((await src.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.workspaces WHERE name = 'on the new server'`)).rows[0].n).toBe(1);
    } finally {
      await src.end().catch(() => undefined);
      await dst?.end().catch(() => undefined);
      await admin.end().catch(() => undefined);
      await from.drop();
      await second.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
