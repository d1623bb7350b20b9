/**
 * Timed canary ramps: `carve stage <context> canary --ramp 1,5,25,50 --every 10m` raises the
 * canary percent step by step on a schedule kept in the control plane (`carve.ramps`), so it
 * survives restarts of the CLI and of every gateway.
 *
 * Whoever is alive applies the steps: every gateway replica runs `Ramps.tick` every second. A
 * due ramp row is taken with `SELECT ... FOR UPDATE SKIP LOCKED`, so exactly one replica applies
 * a step, under the context's lock and through `StageStore.moveRoutesAndStage`, the path of
 * `carve stage <context> canary --percent N`: the same route checks, the audit entry (action
 * `stage.set`, `after.ramp` = the step) and the NOTIFY every replica follows. A step whose percent
 * the stage already has (a replica died after applying it, before recording it) is recorded
 * without being applied again.
 *
 * A ramp pauses by itself when the guard trips on one of the context's routes (an open trip in
 * `carve.context_guard_trips`), when a step is refused (a route a live replica does not serve), or
 * when the percent was set by hand since its last step; it stops when the context left the canary
 * stage. Its state changes are audited as `ramp.*`.
 */
import { audited, bumpControlVersion, ContextBusyError, RouteRefusedError, type RoutedContext, type StageStore } from './stage-store';
import { checkTransition } from './stages';
import type { PoolClient } from 'pg';
import { isoOrNull as iso } from '@carve/shared-kernel';

export type RampState = 'running' | 'paused' | 'done' | 'stopped';

export interface RampRecord {
  readonly context: string;
  /** The canary percents, in order. */
  readonly steps: readonly number[];
  readonly everyMs: number;
  /** Index of the last step applied. */
  readonly step: number;
  /** The percent of the last step applied. */
  readonly percent: number;
  readonly state: RampState;
  /** The next step and when it is due (running), or which one resuming leads to (paused). */
  readonly next: { readonly step: number; readonly percent: number; readonly at: string | null } | null;
  /** Why it paused or stopped by itself (a guard trip, a refused step), or who paused it. */
  readonly pausedWhy: string | null;
  readonly actor: string;
  readonly reason: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

/** A ramp command refused, with a stable code. */
export class RampError extends Error {
  constructor(
    message: string,
    readonly code: 'bad_ramp' | 'no_ramp' | 'ramp_active' | 'ramp_state' | 'guard_tripped',
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'RampError';
  }
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };
const MAX_STEPS = 20;

/** `30s`, `10m`, `2h` in milliseconds (whole numbers; from 1 s to 24 h). */
export function parseRampInterval(text: string): number {
  const m = /^\s*(\d+)\s*([smh])\s*$/.exec(text);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1000 || ms > 24 * UNIT_MS.h) {
    throw new RampError(`--every must be a whole number of seconds, minutes or hours from 1s to 24h, got "${text}"`, 'bad_ramp', 'e.g. --every 30s, --every 10m, --every 1h');
  }
  return ms;
}

/** `1,5,25,50`: canary percents above 0, at most 100, rising. */
export function parseRampSteps(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const steps = parts.map(Number);
  const bad = parts.find((p, i) => p === '' || !Number.isFinite(steps[i]) || steps[i] <= 0 || steps[i] > 100);
  if (bad !== undefined || steps.length === 0) {
    throw new RampError(`--ramp takes canary percents above 0 and at most 100, comma-separated, got "${text}"`, 'bad_ramp', 'e.g. --ramp 1,5,25,50');
  }
  if (steps.length > MAX_STEPS) throw new RampError(`--ramp takes at most ${MAX_STEPS} steps, got ${steps.length}`, 'bad_ramp');
  if (steps.some((p, i) => i > 0 && p <= steps[i - 1])) throw new RampError(`--ramp steps must rise, got "${text}"`, 'bad_ramp', 'e.g. --ramp 1,5,25,50');
  return steps;
}

/** `10m`, `90s`, `2h30m`: how an interval is shown. */
export function formatRampInterval(ms: number): string {
  if (ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  return `${Math.round(ms / 1000)}s`;
}

function toRamp(row: any): RampRecord {
  const steps = (row.steps as unknown[]).map(Number);
  const step = Number(row.step);
  const state = row.state as RampState;
  const hasNext = step + 1 < steps.length && (state === 'running' || state === 'paused');
  return {
    context: row.context,
    steps,
    everyMs: Number(row.every_ms),
    step,
    percent: steps[step],
    state,
    next: hasNext ? { step: step + 1, percent: steps[step + 1], at: iso(row.next_at ?? null) } : null,
    pausedWhy: row.paused_why ?? null,
    actor: row.actor,
    reason: row.reason,
    startedAt: iso(row.started_at)!,
    updatedAt: iso(row.updated_at)!,
    updatedBy: row.updated_by,
  };
}

const stateOf = (r: RampRecord | null) => (r ? { state: r.state, step: r.step, percent: r.percent, steps: r.steps, everyMs: r.everyMs } : null);

/** What one tick did. */
export interface RampTickEvent {
  readonly context: string;
  readonly what: 'step' | 'done' | 'paused' | 'stopped';
  readonly step?: number;
  readonly percent?: number;
  readonly why?: string;
}

export class Ramps {
  constructor(private readonly stages: StageStore) {}

  private get pool() {
    return this.stages.cp.pool;
  }

  async get(context: string): Promise<RampRecord | null> {
    const r = await this.pool.query('SELECT * FROM carve.ramps WHERE context = $1', [context]);
    return r.rows[0] ? toRamp(r.rows[0]) : null;
  }

  /** Refuses when the context has a ramp running or paused (one ramp per context at a time). */
  async requireNone(context: string): Promise<void> {
    const cur = await this.get(context);
    if (cur && (cur.state === 'running' || cur.state === 'paused')) {
      throw new RampError(
        `${context} has a ramp ${cur.state} (step ${cur.step + 1} of ${cur.steps.length}, ${cur.percent}%)`,
        'ramp_active',
        `\`carve ramp ${context} stop\` first, or \`carve ramp ${context} ${cur.state === 'paused' ? 'resume' : 'status'}\``,
      );
    }
  }

  /**
   * Records a ramp whose first step (`steps[0]`) has just been applied; the next is due `everyMs`
   * from now. Replaces a finished or stopped ramp of the context.
   */
  async create(context: string, steps: readonly number[], everyMs: number, who: { actor: string; reason: string }): Promise<RampRecord> {
    return this.rampChange(context, async (c, before, version) => {
      if (before && (before.state === 'running' || before.state === 'paused')) await this.requireNone(context);
      const last = steps.length === 1;
      const r = await c.query(
        `INSERT INTO carve.ramps (context, steps, every_ms, step, state, next_at, paused_why, actor, reason, started_at, updated_at, updated_by)
              VALUES ($1, $2::double precision[], $3::bigint, 0, $4::text, CASE WHEN $4::text = 'running' THEN now() + $3::bigint * interval '1 millisecond' END, NULL, $5, $6, now(), now(), $5)
         ON CONFLICT (context) DO UPDATE SET steps = EXCLUDED.steps, every_ms = EXCLUDED.every_ms, step = 0, state = EXCLUDED.state,
              next_at = EXCLUDED.next_at, paused_why = NULL, actor = EXCLUDED.actor, reason = EXCLUDED.reason,
              started_at = now(), updated_at = now(), updated_by = EXCLUDED.updated_by
         RETURNING *`,
        [context, steps, everyMs, last ? 'done' : 'running', who.actor, who.reason],
      );
      const after = toRamp(r.rows[0]);
      await audited(c, version, { ...who, action: 'ramp.start' }, context, stateOf(before), stateOf(after));
      return after;
    });
  }

  /** Pauses a running ramp (the percent stays where it is). */
  pause(context: string, who: { actor: string; reason: string }): Promise<RampRecord> {
    return this.transition(context, who, 'ramp.pause', ['running'], (c) =>
      c.query(`UPDATE carve.ramps SET state = 'paused', next_at = NULL, paused_why = $2, updated_at = now(), updated_by = $3 WHERE context = $1 RETURNING *`, [
        context,
        `paused by ${who.actor}: ${who.reason}`,
        who.actor,
      ]),
    );
  }

  /**
   * Resumes a paused ramp: its next step is due one interval from now. Refused while the guard
   * has an open trip on the context (acknowledge it first: the step would be refused anyway).
   */
  async resume(context: string, who: { actor: string; reason: string }): Promise<RampRecord> {
    const trips = await this.stages.openGuardTrips(context);
    if (trips.length) {
      const t = trips[0];
      throw new RampError(
        `${context}: the guard tripped on ${t.routeId} (${t.reason}); the ramp stays paused`,
        'guard_tripped',
        `find the cause first (\`carve status ${context}\`); then \`carve stage ${context} canary --percent <p> --ack-guard-trip\` and \`carve ramp ${context} resume\``,
      );
    }
    return this.transition(context, who, 'ramp.resume', ['paused'], (c) =>
      c.query(
        `UPDATE carve.ramps SET state = 'running', next_at = now() + every_ms * interval '1 millisecond', paused_why = NULL, updated_at = now(), updated_by = $2
          WHERE context = $1 RETURNING *`,
        [context, who.actor],
      ),
    );
  }

  /** Stops a running or paused ramp for good (the percent stays where it is). */
  stop(context: string, who: { actor: string; reason: string }): Promise<RampRecord> {
    return this.transition(context, who, 'ramp.stop', ['running', 'paused'], (c) => this.setStopped(c, context, `stopped by ${who.actor}: ${who.reason}`, who.actor));
  }

  /**
   * One round of the scheduler: pauses the running ramps of contexts the guard tripped on, then
   * applies every due step (each ramp row taken with SKIP LOCKED: a row another replica is
   * applying is left to it). Returns what it did.
   */
  async tick(actor: string): Promise<RampTickEvent[]> {
    const events: RampTickEvent[] = [];
    const tripped = await this.pool.query(
      `SELECT DISTINCT ON (r.context) r.context, t.route_id, t.reason FROM carve.ramps r
         JOIN carve.context_guard_trips t ON t.context = r.context AND t.resolved_at IS NULL
        WHERE r.state = 'running' ORDER BY r.context, t.last_at DESC`,
    );
    for (const row of tripped.rows) {
      const why = `the guard tripped on ${row.route_id}: ${row.reason}`;
      const paused = await this.pauseBy(row.context, actor, why);
      if (paused) events.push({ context: row.context, what: 'paused', why });
    }
    for (let i = 0; i < 100; i++) {
      const e = await this.applyDue(actor);
      if (!e) break;
      events.push(e);
    }
    return events;
  }

  /** Applies the next step of one due ramp, if there is one nobody else is applying. */
  private async applyDue(actor: string): Promise<RampTickEvent | null> {
    try {
      return await this.stages.transaction(async (c) => {
        const due = await c.query(`SELECT * FROM carve.ramps WHERE state = 'running' AND next_at <= now() ORDER BY next_at LIMIT 1 FOR UPDATE SKIP LOCKED`);
        return due.rows[0] ? this.applyStep(c, toRamp(due.rows[0]), actor) : null;
      });
    } catch (err) {
      if (err instanceof ContextBusyError) return null; // a carve command holds the context: the step stays due
      throw err;
    }
  }

  /**
   * The step, then the ramp row (in `c`, which holds it locked). The row is written after the
   * step's own transactions committed: the control-plane version's row lock they take must not
   * be held by `c` meanwhile.
   */
  private async applyStep(c: PoolClient, ramp: RampRecord, actor: string): Promise<RampTickEvent> {
    const step = ramp.step + 1;
    const percent = ramp.steps[step];
    const of = ramp.steps.length;
    const routes = await c.query('SELECT route_id AS id, kind FROM carve.context_routes WHERE context = $1 ORDER BY route_id', [ramp.context]);
    const ctx: RoutedContext = { name: ramp.context, routes: routes.rows };
    const outcome = await this.stages.withContextLock(ramp.context, async (): Promise<{ stopped?: string; paused?: string }> => {
      const cur = await this.stages.get(ramp.context);
      const check = checkTransition(cur.stage, 'canary', 'stage');
      if (cur.stage !== 'canary' || !check.ok) return { stopped: `${ramp.context} left the canary stage (now ${cur.stage})` };
      if (cur.canaryPercent === percent) return {}; // applied before, not recorded: recorded now
      if (cur.canaryPercent !== ramp.percent) return { paused: `the canary percent was set to ${cur.canaryPercent}% by ${cur.updatedBy ?? 'someone'} since step ${step} (${ramp.percent}%)` };
      try {
        await this.stages.moveRoutesAndStage(ctx, 'canary', {
          percent,
          actor,
          reason: `ramp step ${step + 1}/${of} (${percent}%): ${ramp.reason}`,
          expected: 'canary',
          details: { ramp: { step: step + 1, of, startedBy: ramp.actor } },
        });
        return {};
      } catch (err) {
        if (err instanceof RouteRefusedError) return { paused: `step ${step + 1} (${percent}%) refused: ${err.message} [${err.code}]` };
        throw err;
      }
    });
    const version = await bumpControlVersion(c);
    const who = { actor, reason: ramp.reason };
    if (outcome.stopped) {
      const after = toRamp((await this.setStopped(c, ramp.context, outcome.stopped, actor)).rows[0]);
      await audited(c, version, { ...who, action: 'ramp.stop' }, ramp.context, stateOf(ramp), { ...stateOf(after), why: outcome.stopped });
      return { context: ramp.context, what: 'stopped', why: outcome.stopped };
    }
    if (outcome.paused) {
      const r = await c.query(`UPDATE carve.ramps SET state = 'paused', next_at = NULL, paused_why = $2, updated_at = now(), updated_by = $3 WHERE context = $1 RETURNING *`, [ramp.context, outcome.paused, actor]);
      await audited(c, version, { ...who, action: 'ramp.pause' }, ramp.context, stateOf(ramp), { ...stateOf(toRamp(r.rows[0])), why: outcome.paused });
      return { context: ramp.context, what: 'paused', why: outcome.paused };
    }
    const last = step === of - 1;
    const r = await c.query(
      `UPDATE carve.ramps SET step = $2, state = $3::text, next_at = CASE WHEN $3::text = 'running' THEN now() + every_ms * interval '1 millisecond' END,
              updated_at = now(), updated_by = $4 WHERE context = $1 RETURNING *`,
      [ramp.context, step, last ? 'done' : 'running', actor],
    );
    if (last) await audited(c, version, { ...who, action: 'ramp.done' }, ramp.context, stateOf(ramp), stateOf(toRamp(r.rows[0])));
    return { context: ramp.context, what: last ? 'done' : 'step', step: step + 1, percent };
  }

  private setStopped(c: PoolClient, context: string, why: string, actor: string) {
    return c.query(`UPDATE carve.ramps SET state = 'stopped', next_at = NULL, paused_why = $2, updated_at = now(), updated_by = $3 WHERE context = $1 RETURNING *`, [context, why, actor]);
  }

  /**
   * One transaction on the context's ramp row: the row locked first (waiting for a step being
   * applied to it), then the control-plane version bumped, then `fn`. The scheduler takes them in
   * the same order (the row, then, after the step's own transactions, the version): no deadlock.
   */
  private async rampChange<T>(context: string, fn: (c: PoolClient, before: RampRecord | null, version: number) => Promise<T>): Promise<T> {
    return this.stages.transaction(async (c) => {
      const r = await c.query('SELECT * FROM carve.ramps WHERE context = $1 FOR UPDATE', [context]);
      const version = await bumpControlVersion(c);
      return fn(c, r.rows[0] ? toRamp(r.rows[0]) : null, version);
    });
  }

  /** Pauses the context's ramp if it is still running (the scheduler, on a guard trip); false when it was not. */
  private async pauseBy(context: string, actor: string, why: string): Promise<boolean> {
    return this.rampChange(context, async (c, before, version) => {
      if (before?.state !== 'running') return false;
      const r = await c.query(`UPDATE carve.ramps SET state = 'paused', next_at = NULL, paused_why = $2, updated_at = now(), updated_by = $3 WHERE context = $1 RETURNING *`, [context, why, actor]);
      await audited(c, version, { actor, reason: why, action: 'ramp.pause' }, context, stateOf(before), stateOf(toRamp(r.rows[0])));
      return true;
    });
  }

  /** A ramp state change by a person: refused unless the ramp is in one of `from`. */
  private transition(
    context: string,
    who: { actor: string; reason: string },
    action: string,
    from: readonly RampState[],
    update: (c: PoolClient) => Promise<{ rows: any[] }>,
  ): Promise<RampRecord> {
    return this.rampChange(context, async (c, before, version) => {
      if (!before) throw new RampError(`${context} has no ramp`, 'no_ramp', `start one: \`carve stage ${context} canary --ramp 1,5,25,50 --every 10m\``);
      if (!from.includes(before.state)) {
        throw new RampError(`${context}'s ramp is ${before.state}, not ${from.join(' or ')}`, 'ramp_state', `\`carve ramp ${context} status\` shows it`);
      }
      const after = toRamp((await update(c)).rows[0]);
      await audited(c, version, { ...who, action }, context, stateOf(before), stateOf(after));
      return after;
    });
  }
}
