import { spawn } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { type BackfillProgress, readCheckpoints, runBackfill } from '../src';
import { createWidgetSchemas, seedWidgets, widgets } from './support/widgets';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

describe('backfill (real Postgres)', () => {
  let db: TestDatabase;
  let c: Client;

  beforeEach(async () => {
    db = await createTestDatabase('carving_backfill');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await createWidgetSchemas(c);
  });

  afterEach(async () => {
    await c?.end();
    await db?.drop();
  });

  const mismatches = async () =>
    (
      await c.query(`SELECT count(*)::int AS n FROM mono.widgets m FULL JOIN svc.widgets s ON s.id = m.id
                      WHERE s.id IS NULL OR m.id IS NULL OR s.label <> upper(m.name) OR s.aggregate_version <> m.version`)
    ).rows[0].n;

  it('copies every row, reshaped, with progress, and a second run changes nothing', async () => {
    await seedWidgets(c, 2500);
    const seen: BackfillProgress[] = [];
    const report = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, batchSize: 1000, onProgress: (p) => seen.push(p) });
    expect(report).toMatchObject({ context: 'widgets', rows: 2500, rowsWritten: 2500, complete: true });
    expect(report.sources[0]).toMatchObject({ name: 'widgets', rows: 2500, batches: 3, resumedAfterRows: 0, skipped: false });
    expect(await mismatches()).toBe(0);
    expect((await c.query(`SELECT colour_code FROM svc.widgets WHERE id = md5('w1')::uuid`)).rows[0].colour_code).toBe('#0f0');
    expect(seen.at(-1)).toMatchObject({ source: 'widgets', rowsDone: 2500, total: 2500, done: true, etaMs: 0 });
    expect(seen.some((p) => !p.done && p.rowsDone === 1000 && Number.isFinite(p.etaMs))).toBe(true);

    // The planner's statistics are there at once (no waiting for autovacuum), taken after the last row.
    expect(report.analyzed).toContain('widgets');
    const stats = (await c.query(`SELECT reltuples::int AS n FROM pg_class WHERE oid = 'svc.widgets'::regclass`)).rows[0];
    expect(stats.n).toBe(2500);

    const again = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url });
    expect(again.sources[0]).toMatchObject({ skipped: true, rows: 0 });
    expect(again.analyzed).toEqual([]);
    const restarted = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, restart: true, batchSize: 700 });
    expect(restarted).toMatchObject({ rows: 2500, rowsWritten: 0, complete: true });
    expect((await c.query('SELECT count(*)::int AS n FROM svc.widgets')).rows[0].n).toBe(2500);
  });

  it('takes the COPY path (read ahead on a second connection, text round trip) when told the source is elsewhere, with the same result', async () => {
    await seedWidgets(c, 1234);
    const report = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, batchSize: 100, direct: false });
    expect(report).toMatchObject({ rows: 1234, rowsWritten: 1234, complete: true });
    expect(report.sources[0].batches).toBe(13);
    expect(await mismatches()).toBe(0);
    const [cp] = await readCheckpoints(c, 'widgets');
    expect(cp.lastKey).toEqual([(await c.query('SELECT id::text AS k FROM mono.widgets ORDER BY id DESC LIMIT 1')).rows[0].k]);
  });

  /** A real server error in the batch's own transaction, as Postgres raises it for a deadlock. */
  const raise = (code: string) => `DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '${code}'; END $$`;

  it('writes a batch again when it loses a deadlock (40P01) to a concurrent writer: every row once, checkpoint counted once', async () => {
    await seedWidgets(c, 2500);
    const attempts: string[] = [];
    const report = await runBackfill({
      context: widgets,
      sourceUrl: db.url,
      targetUrl: db.url,
      batchSize: 1000,
      hooks: {
        beforeCommit: async ({ batch, attempt, query }) => {
          attempts.push(`${batch}.${attempt}`);
          if (batch === 2 && attempt === 1) await query(raise('40P01'));
        },
      },
    });
    expect(attempts).toEqual(['1.1', '2.1', '2.2', '3.1']);
    expect(report).toMatchObject({ rows: 2500, rowsWritten: 2500, complete: true });
    expect(report.sources[0]).toMatchObject({ batches: 3, conflictRetries: 1 });
    expect(await mismatches()).toBe(0);
    const [cp] = await readCheckpoints(c, 'widgets');
    expect(cp).toMatchObject({ rowsDone: 2500, batches: 3 });
  });

  it('does not retry other errors, and gives up on a batch that keeps losing (the error is reported; the checkpoint stays at the last good batch)', async () => {
    await seedWidgets(c, 1500);
    let tries = 0;
    const failWith = (code: string) => {
      tries = 0;
      return runBackfill({
        context: widgets,
        sourceUrl: db.url,
        targetUrl: db.url,
        restart: true,
        batchSize: 1000,
        hooks: {
          beforeCommit: async ({ batch, query }) => {
            if (batch !== 2) return;
            tries += 1;
            await query(raise(code));
          },
        },
      });
    };
    await expect(failWith('23514')).rejects.toMatchObject({ code: '23514' }); // check_violation
    expect(tries).toBe(1);
    let [cp] = await readCheckpoints(c, 'widgets');
    expect(cp).toMatchObject({ rowsDone: 1000, finishedAt: null });
    await expect(failWith('40001')).rejects.toMatchObject({ code: '40001' }); // serialization_failure
    expect(tries).toBe(5);
    [cp] = await readCheckpoints(c, 'widgets');
    expect(cp).toMatchObject({ rowsDone: 1000, finishedAt: null });
  });

  it('never overwrites a newer state that forward sync applied before or during the run', async () => {
    await seedWidgets(c, 900);
    // Before the run: an event for a row far down the key order made it newer already.
    const late = (await c.query('SELECT id FROM mono.widgets ORDER BY id DESC LIMIT 1')).rows[0].id;
    await c.query(`INSERT INTO svc.widgets VALUES ($1, $2, 'FROM AN EVENT', '#abc', 50)`, [late, '11111111-1111-4111-8111-111111111111']);
    const ordered = (await c.query('SELECT id FROM mono.widgets ORDER BY id')).rows.map((r) => r.id as string);
    const [early, middle] = [ordered[10], ordered[500]];
    const report = await runBackfill({
      context: widgets,
      sourceUrl: db.url,
      targetUrl: db.url,
      batchSize: 200,
      hooks: {
        afterBatch: async ({ batch }) => {
          if (batch !== 1) return;
          // During the run: an event for a row already copied, and one for a row not copied yet.
          await c.query(`UPDATE svc.widgets SET label = 'UPDATED BY EVENT', aggregate_version = 60 WHERE id = $1`, [early]);
          await c.query(`UPDATE mono.widgets SET name = 'updated by event', version = 60 WHERE id = $1`, [early]);
          await c.query(`INSERT INTO svc.widgets VALUES ($1, $2, 'CREATED BY EVENT', '#def', 70)`, [middle, '22222222-2222-4222-8222-222222222222']);
        },
      },
    });
    expect(report.complete).toBe(true);
    const rows = (await c.query('SELECT id, label, aggregate_version FROM svc.widgets WHERE id = ANY($1)', [[late, early, middle]])).rows;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(late)).toMatchObject({ label: 'FROM AN EVENT', aggregate_version: 50 });
    expect(byId.get(early)).toMatchObject({ label: 'UPDATED BY EVENT', aggregate_version: 60 });
    expect(byId.get(middle)).toMatchObject({ label: 'CREATED BY EVENT', aggregate_version: 70 });
    expect(report.rowsWritten).toBe(900 - 2); // the two rows the events made newer were left alone
  });

  it('resumes from its checkpoint after being killed (SIGKILL) mid-way, with no duplicates', async () => {
    await seedWidgets(c, 3000);
    const child = spawn(process.execPath, ['-r', path.join(ROOT, 'tools/scripts/register-ts.js'), path.join(__dirname, 'fixtures/backfill-child.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, BATCH_SIZE: '100', PAUSE_MS: '40' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the child never reached batch 5: ${out} ${err}`)), 60_000);
        child.stdout.on('data', (d) => {
          out += d;
          if (/batch 5 /.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      process.kill(child.pid!, 'SIGKILL');
      expect(await exited).toBe('SIGKILL');
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }
    const [cp] = await readCheckpoints(c, 'widgets');
    expect(cp.finishedAt).toBeNull();
    expect(cp.rowsDone).toBeGreaterThanOrEqual(500);
    expect(cp.rowsDone % 100).toBe(0);
    expect(cp.rowsDone).toBeLessThan(3000);
    const copied = (await c.query('SELECT count(*)::int AS n FROM svc.widgets')).rows[0].n;
    expect(copied).toBe(cp.rowsDone); // what is committed is exactly what the checkpoint says

    const resumed = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, batchSize: 100 });
    expect(resumed.sources[0].resumedAfterRows).toBe(cp.rowsDone);
    expect(resumed.rows).toBe(3000 - cp.rowsDone);
    expect(resumed.complete).toBe(true);
    expect((await c.query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM svc.widgets')).rows[0]).toEqual({ n: 3000, d: 3000 });
    expect(await mismatches()).toBe(0);
    const [done] = await readCheckpoints(c, 'widgets');
    expect(done).toMatchObject({ rowsDone: 3000 });
    expect(done.finishedAt).not.toBeNull();
  });

  it('keeps to --max-rows-per-second', async () => {
    await seedWidgets(c, 600);
    const t0 = Date.now();
    const report = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, batchSize: 10_000, maxRowsPerSecond: 1000 });
    const ms = Date.now() - t0;
    expect(report.rows).toBe(600);
    expect(ms).toBeGreaterThanOrEqual(550); // 600 rows at 1000/s: each batch waits for its budget
    expect(report.sources[0].batches).toBe(12); // 50 ms of budget each
    const slow = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, restart: true, maxRowsPerSecond: 200 });
    expect(slow.sources[0].batches).toBe(60);
    expect(slow.ms).toBeGreaterThanOrEqual(2900);
    expect(slow.rowsPerSecond).toBeLessThanOrEqual(205);
  });

  it('refuses a second concurrent run of the same context', async () => {
    await seedWidgets(c, 300);
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('carve.backfill'), hashtext('widgets'))`);
      await expect(runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url })).rejects.toThrow('a backfill of widgets is already running');
    } finally {
      await holder.end();
    }
  });
});
