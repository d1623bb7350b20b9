/**
 * Timed canary ramps (real Postgres): the steps are applied on schedule by whoever ticks, each
 * exactly once even with two schedulers ticking at the same time, through the audited change of
 * `carve stage <context> canary --percent N`; a guard trip pauses the ramp with the percent
 * unchanged; a step applied but not recorded (a replica died in between) is recorded, not applied
 * again; a percent set by hand pauses the ramp; a context that left the canary stage stops it.
 */
import { createTestDatabase, type TestDatabase, waitFor } from '@carve/shared-testing';
import { Carving, formatRampInterval, parseRampInterval, parseRampSteps, RampError, type RampRecord, type RampTickEvent } from '../src';
import { widgets } from './support/widgets';

describe('timed canary ramps', () => {
  let db: TestDatabase;
  let carving: Carving;
  let other: Carving;

  beforeAll(async () => {
    db = await createTestDatabase('carving_ramps');
    carving = await Carving.connect({ url: db.url, actor: 'alice', transport: 'postgres' });
    other = await Carving.connect({ url: db.url, actor: 'bob', transport: 'postgres' });
  });

  afterAll(async () => {
    await other?.close();
    await carving?.close();
    await db?.drop();
  });

  const shadow = () => carving.stages.set('widgets', { stage: 'shadow' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
  const percent = async () => (await carving.stage(widgets)).canaryPercent;
  const readOverride = async () => carving.cp.getOverride('widgets-read');
  /** The audited step changes of the ramp: `after.ramp.step` of every stage.set entry since `sinceId`. */
  const stepAudits = async (sinceId: number) =>
    (
      await carving.cp.pool.query(
        `SELECT actor, after FROM carve.audit WHERE target = 'context:widgets' AND action = 'stage.set' AND id > $1 AND after ? 'ramp' ORDER BY id`,
        [sinceId],
      )
    ).rows.map((r) => ({ actor: r.actor as string, step: r.after.ramp.step as number, percent: r.after.percent as number }));
  const lastAuditId = async () => Number((await carving.cp.pool.query('SELECT coalesce(max(id), 0) AS id FROM carve.audit')).rows[0].id);
  /** Ticks (both schedulers at once when `both`) until the ramp is in `state`, within a deadline. */
  const tickUntil = async (state: RampRecord['state'], both = false, timeoutMs = 15_000): Promise<RampTickEvent[]> => {
    const events: RampTickEvent[] = [];
    await waitFor(
      `the ramp to be ${state}`,
      async () => {
        const rounds = await Promise.all([carving.ramps.tick('gateway a'), ...(both ? [other.ramps.tick('gateway b')] : [])]);
        events.push(...rounds.flat());
        return (await carving.ramps.get('widgets'))?.state === state;
      },
      timeoutMs,
      20,
    );
    return events;
  };

  it('parses steps and intervals, refusing what is not a rising list of percents or an interval in s, m or h', () => {
    expect(parseRampSteps('1,5, 25,50')).toEqual([1, 5, 25, 50]);
    expect(parseRampSteps('0.5,100')).toEqual([0.5, 100]);
    for (const bad of ['', '1,,5', '0,5', '5,1', '5,5', '1,101', 'a,b', '-1,5']) {
      expect(() => parseRampSteps(bad)).toThrow(RampError);
    }
    expect(() => parseRampSteps(Array.from({ length: 21 }, (_, i) => i + 1).join(','))).toThrow(/at most 20 steps/);
    expect(parseRampInterval('1s')).toBe(1000);
    expect(parseRampInterval('10m')).toBe(600_000);
    expect(parseRampInterval('2h')).toBe(7_200_000);
    for (const bad of ['10', '0s', '1.5m', '10d', 'm', '25h', '-1s']) {
      const err = (() => {
        try {
          parseRampInterval(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(RampError);
      expect((err as RampError).code).toBe('bad_ramp');
    }
    expect([600_000, 90_000, 3_600_000, 5000].map(formatRampInterval)).toEqual(['10m', '90s', '1h', '5s']);
  });

  it('raises the percent step by step to the last one, each step once though two schedulers tick together', async () => {
    await shadow();
    const since = await lastAuditId();
    const started = await carving.startRamp(widgets, { steps: [1, 5, 25, 50], everyMs: 1000, reason: 'ramp it' });
    expect(started.change.after).toMatchObject({ stage: 'canary', canaryPercent: 1 });
    expect(started.ramp).toMatchObject({ state: 'running', step: 0, percent: 1, next: { step: 1, percent: 5 } });
    expect(Date.parse(started.ramp.next!.at!) - Date.parse(started.ramp.updatedAt)).toBe(1000);
    // Not due yet: a tick does nothing.
    expect(await carving.ramps.tick('gateway a')).toEqual([]);
    expect(await percent()).toBe(1);

    const events = await tickUntil('done', true);
    expect(events.filter((e) => e.what === 'step' || e.what === 'done').map((e) => e.percent)).toEqual([5, 25, 50]);
    expect(await percent()).toBe(50);
    expect(await readOverride()).toMatchObject({ mode: 'canary', percent: 50 });
    // The first step by the command, then one audited change per step, by whichever scheduler took it.
    const audits = await stepAudits(since);
    expect(audits.map((a) => a.percent)).toEqual([5, 25, 50]);
    expect(audits.map((a) => a.step)).toEqual([2, 3, 4]);
    for (const a of audits) expect(['gateway a', 'gateway b']).toContain(a.actor);
    const ramp = await carving.ramps.get('widgets');
    expect(ramp).toMatchObject({ state: 'done', step: 3, percent: 50, next: null });
    expect((await carving.status(widgets)).ramp).toMatchObject({ state: 'done', percent: 50 });
    const actions = (await carving.cp.pool.query(`SELECT action FROM carve.audit WHERE id > $1 AND action LIKE 'ramp.%' ORDER BY id`, [since])).rows.map((r) => r.action);
    expect(actions).toEqual(['ramp.start', 'ramp.done']);
  });

  it('refuses a second ramp while one runs, and commands on a ramp in the wrong state', async () => {
    await shadow();
    await carving.startRamp(widgets, { steps: [10, 20], everyMs: 3_600_000, reason: 'slow' });
    const second = await carving.startRamp(widgets, { steps: [30, 40], everyMs: 1000, reason: 'again' }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(RampError);
    expect(second).toMatchObject({ code: 'ramp_active', hint: expect.stringContaining('carve ramp widgets stop') });
    expect(await percent()).toBe(10);
    await expect(carving.ramps.resume('widgets', { actor: 'alice', reason: 'go' })).rejects.toMatchObject({ code: 'ramp_state' });
    const paused = await carving.ramps.pause('widgets', { actor: 'alice', reason: 'lunch' });
    expect(paused).toMatchObject({ state: 'paused', pausedWhy: 'paused by alice: lunch', next: { percent: 20, at: null } });
    const stopped = await carving.ramps.stop('widgets', { actor: 'alice', reason: 'enough' });
    expect(stopped).toMatchObject({ state: 'stopped', percent: 10, next: null });
    await expect(carving.ramps.stop('widgets', { actor: 'alice', reason: 'again' })).rejects.toMatchObject({ code: 'ramp_state' });
    await expect(carving.ramps.pause('nothing', { actor: 'alice', reason: 'x' })).rejects.toMatchObject({ code: 'no_ramp' });
  });

  it('pauses on a guard trip with the percent unchanged, and resumes once the trip is acknowledged', async () => {
    await shadow();
    await carving.startRamp(widgets, { steps: [5, 10, 20], everyMs: 1000, reason: 'careful' });
    await carving.cp.recordGuardTrip({ routeId: 'widgets-read', reason: 'error rate 30.0% > 5.0% over the last 30s', gateway: 'gw-1' });
    const since = await lastAuditId();
    const events = await tickUntil('paused');
    expect(events).toEqual([{ context: 'widgets', what: 'paused', why: 'the guard tripped on widgets-read: error rate 30.0% > 5.0% over the last 30s' }]);
    const ramp = await carving.ramps.get('widgets');
    expect(ramp).toMatchObject({ state: 'paused', step: 0, percent: 5, next: { percent: 10, at: null } });
    expect(ramp!.pausedWhy).toContain('the guard tripped on widgets-read');
    expect(await percent()).toBe(5);
    expect((await readOverride())?.mode).toBe('monolith'); // the guard's decision stands
    expect(await stepAudits(since)).toEqual([]);
    expect((await carving.status(widgets)).ramp).toMatchObject({ state: 'paused', pausedWhy: expect.stringContaining('guard tripped') });

    // Resuming is refused while the trip is open; acknowledged (the stage set again), it goes on.
    await expect(carving.ramps.resume('widgets', { actor: 'alice', reason: 'go' })).rejects.toMatchObject({ code: 'guard_tripped' });
    await carving.moveTo(widgets, 'canary', { percent: 5, reason: 'cause found', ackGuardTrip: true });
    const resumed = await carving.ramps.resume('widgets', { actor: 'alice', reason: 'go' });
    expect(resumed).toMatchObject({ state: 'running', pausedWhy: null, next: { percent: 10 } });
    await tickUntil('done');
    expect(await percent()).toBe(20);
  });

  it('records a step applied but not recorded without applying it again, pauses on a percent set by hand, and stops when the context left the canary', async () => {
    await shadow();
    await carving.startRamp(widgets, { steps: [2, 4, 8], everyMs: 3_600_000, reason: 'crash' });
    // A scheduler applied step 2 and died before it recorded it; the step is due again.
    await carving.moveTo(widgets, 'canary', { percent: 4, reason: 'applied by a replica that died' });
    await carving.cp.pool.query(`UPDATE carve.ramps SET next_at = now() WHERE context = 'widgets'`);
    const since = await lastAuditId();
    const events = await carving.ramps.tick('gateway a');
    expect(events).toEqual([{ context: 'widgets', what: 'step', step: 2, percent: 4 }]);
    expect(await stepAudits(since)).toEqual([]);
    expect(await carving.ramps.get('widgets')).toMatchObject({ state: 'running', step: 1, next: { percent: 8 } });

    // Someone sets another percent by hand: the ramp pauses at its next step rather than undo it.
    await carving.moveTo(widgets, 'canary', { percent: 6, reason: 'by hand' });
    await carving.cp.pool.query(`UPDATE carve.ramps SET next_at = now() WHERE context = 'widgets'`);
    expect(await carving.ramps.tick('gateway a')).toEqual([{ context: 'widgets', what: 'paused', why: 'the canary percent was set to 6% by alice since step 2 (4%)' }]);
    expect(await percent()).toBe(6);
    await carving.ramps.resume('widgets', { actor: 'alice', reason: 'go on' });

    // Someone moves the reads over by hand: the ramp stops at its next step, the stage untouched.
    await carving.moveTo(widgets, 'reads-switched', { reason: 'by hand' });
    await carving.cp.pool.query(`UPDATE carve.ramps SET next_at = now() WHERE context = 'widgets'`);
    expect(await carving.ramps.tick('gateway a')).toEqual([{ context: 'widgets', what: 'stopped', why: 'widgets left the canary stage (now reads-switched)' }]);
    expect((await carving.stage(widgets)).stage).toBe('reads-switched');
    expect(await carving.ramps.get('widgets')).toMatchObject({ state: 'stopped', pausedWhy: 'widgets left the canary stage (now reads-switched)' });
  });
});
