import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { type BackfillProgress, MIN_DUTY, nextDuty, runBackfill, waitAfter } from '../src';
import { createWidgetSchemas, seedWidgets, widgets } from './support/widgets';

const limits = { latencyMs: 20, lagMs: 1000 };
const REASON = /^database latency (\d+) ms > (\d+) ms$/;

describe('load throttle: the rule', () => {
  it('halves the duty cycle when a database is over a limit, down to the floor, and says which and why', () => {
    expect(nextDuty(1, { source: { latencyMs: 2 }, target: { latencyMs: 35 } }, limits)).toEqual({ duty: 0.5, reason: 'target latency 35 ms > 20 ms', over: true });
    expect(nextDuty(0.5, { target: { latencyMs: 3, lagMs: 2500 } }, limits)).toEqual({ duty: 0.25, reason: 'target replica lag 2500 ms > 1000 ms', over: true });
    expect(nextDuty(0.06, { source: { latencyMs: 50 } }, limits).duty).toBe(MIN_DUTY);
    expect(nextDuty(MIN_DUTY, { source: { latencyMs: 50 } }, limits)).toMatchObject({ duty: MIN_DUTY, over: true });
    // At the limit is not over it.
    expect(nextDuty(1, { source: { latencyMs: 20, lagMs: 1000 } }, limits).over).toBe(false);
  });

  it('raises the duty cycle by a tenth only when every figure is under half its limit, and holds in between', () => {
    expect(nextDuty(0.5, { source: { latencyMs: 9 }, target: { latencyMs: 4, lagMs: 400 } }, limits)).toEqual({ duty: 0.6, reason: null, over: false });
    expect(nextDuty(0.95, { source: { latencyMs: 1 } }, limits).duty).toBe(1);
    expect(nextDuty(0.5, { source: { latencyMs: 11 } }, limits)).toEqual({ duty: 0.5, reason: null, over: false });
    expect(nextDuty(0.5, { source: { latencyMs: 1, lagMs: 600 } }, limits).duty).toBe(0.5);
  });

  it('waits after a batch so that the backfill works its duty cycle of the time', () => {
    expect(waitAfter(100, 1)).toBe(0);
    expect(waitAfter(100, 0.5)).toBe(100);
    expect(waitAfter(100, 0.25)).toBe(300);
    expect(waitAfter(1000, MIN_DUTY)).toBe(5000); // capped: the next probe decides what follows
    expect(waitAfter(0, 0.5)).toBe(0);
  });
});

describe('load throttle: a backfill against a database that slows down (real Postgres)', () => {
  let db: TestDatabase;
  let c: Client;

  beforeEach(async () => {
    db = await createTestDatabase('carving_throttle');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await createWidgetSchemas(c);
    // The probe's latency is the knob's delay (a real pg_sleep on the server); it counts its runs.
    await c.query('CREATE TABLE public.knob (delay float8 NOT NULL, probes int NOT NULL)');
    await c.query('INSERT INTO public.knob VALUES (0, 0)');
  });

  afterEach(async () => {
    await c?.end();
    await db?.drop();
  });

  const knob = async () => (await c.query('SELECT delay, probes FROM public.knob')).rows[0] as { delay: number; probes: number };
  const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('slows down, pauses while the database answers slowly (no batch written), says why, and finishes with every row once it recovers', async () => {
    await seedWidgets(c, 3000);
    const seen: BackfillProgress[] = [];
    let batches = 0;
    const run = runBackfill({
      context: widgets,
      sourceUrl: db.url,
      targetUrl: db.url,
      batchSize: 100,
      throttle: { probeSql: 'UPDATE public.knob SET probes = probes + 1 RETURNING pg_sleep(delay)', maxLatencyMs: 20, intervalMs: 0 },
      onProgress: (p) => seen.push(p),
      hooks: {
        afterBatch: async ({ batch }) => {
          batches = batch;
          if (batch === 2) await c.query('UPDATE public.knob SET delay = 0.06');
        },
      },
    });
    const failed = run.then(() => false, () => true);

    await until('the throttle to pause the backfill', async () => (await Promise.race([failed, Promise.resolve(false)])) || seen.some((p) => p.throttle?.paused));
    const paused = seen.find((p) => p.throttle?.paused)!;
    expect(paused.throttle).toMatchObject({ duty: MIN_DUTY, reason: expect.stringMatching(REASON) });
    // The limit is 20 ms or four times the latency measured before the first batch, whichever is
    // larger (a few ms here); the probe now takes 60 ms or more.
    const [, latency, limit] = REASON.exec(paused.throttle!.reason!)!.map(Number);
    expect(latency).toBeGreaterThanOrEqual(60);
    expect(limit).toBeGreaterThanOrEqual(20);
    expect(limit).toBeLessThan(60);
    // Duty cycles on the way down, each half the one before.
    const duties = [...new Set(seen.map((p) => p.throttle?.duty).filter((d) => d !== undefined))];
    expect(duties.slice(0, 4)).toEqual([1, 0.5, 0.25, 0.125]);

    // While paused, the probe keeps running and no batch is written.
    const heldAt = batches;
    const probesAt = (await knob()).probes;
    await until('five more probes while paused', async () => (await knob()).probes >= probesAt + 5);
    expect(batches).toBe(heldAt);
    expect(paused.rowsDone).toBeLessThan(3000);

    await c.query('UPDATE public.knob SET delay = 0');
    const report = await run;
    expect(report).toMatchObject({ rows: 3000, rowsWritten: 3000, complete: true });
    expect(report.sources[0].throttledMs).toBeGreaterThan(0);
    expect(report.sources[0].slowedBy).toMatch(REASON);
    // After the recovery the duty cycle climbs back.
    const afterPause = seen.slice(seen.indexOf(paused) + 1).map((p) => p.throttle!.duty);
    expect(Math.max(...afterPause)).toBeGreaterThan(MIN_DUTY);
    const rows = (await c.query(`SELECT count(*)::int AS n FROM svc.widgets`)).rows[0].n;
    expect(rows).toBe(3000);
  }, 120_000);

  it('without a throttle nothing is probed', async () => {
    await seedWidgets(c, 300);
    const report = await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, batchSize: 100 });
    expect(report.sources[0]).toMatchObject({ rows: 300, throttledMs: 0, slowedBy: null });
    expect((await knob()).probes).toBe(0);
  });
});
