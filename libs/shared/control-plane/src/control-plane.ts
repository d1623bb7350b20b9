/**
 * The control plane client: every gateway replica (and any tool) reads and changes route
 * overrides through it, and subscribes to changes.
 *
 * A change is one transaction: bump `carve.control_state.version` (a row lock that serialises
 * changes), write the override, write the audit entry, `pg_notify('carve_control', ...)`.
 * Listeners wake at commit; a replica that missed the NOTIFY sees the version move at its next
 * poll (see subscription.ts).
 */
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { routeContext, upsertContextTrip } from './guard-trips';
import {
  addNoise,
  type FieldPathCount,
  insertMismatch,
  type MismatchPage,
  type MismatchQuery,
  type MismatchRetention,
  mismatchPathCounts,
  noisePaths,
  queryMismatches,
} from './mismatches';
import { CONTROL_SCHEMA, migrateControlPlane, pendingControlMigrations, type ControlMigrationReport } from './migrate';
import { ControlSubscription, type SubscribeOptions } from './subscription';
import {
  type AuditEntry,
  CONTROL_CHANNEL,
  type ControlNotice,
  type ControlSnapshot,
  type GuardEvent,
  type GuardTripInput,
  type GuardTripResult,
  type MismatchInput,
  OVERRIDE_MODES,
  type OverrideChange,
  type OverrideMode,
  type RouteState,
  type SetOverrideInput,
  type ShadowMismatch,
  type StoredOverride,
  type StoredWorkspaceOverride,
} from './types';
import { iso } from '@carve/shared-kernel';

export interface ControlPlaneOptions {
  /** Postgres connection string (DATABASE_URL). */
  readonly url: string;
  /**
   * Run pending migrations on connect (default true). With false, connect only checks that none
   * is pending and throws ControlPlaneNotMigratedError otherwise: a role without DDL on schema
   * `carve` (a deployed gateway's) relies on migrations a migrator role ran before it.
   */
  readonly migrate?: boolean;
  /** Pool size (default 4). */
  readonly poolSize?: number;
  /** Shown in pg_stat_activity (default `carve-control-plane`). */
  readonly applicationName?: string;
  /** Latest shadow mismatches kept per route (default 50). */
  readonly keepMismatches?: number;
  /** Shadow mismatches older than this (ms) are deleted as their route gets a new one (default 7 days). */
  readonly keepMismatchesForMs?: number;
  /** Connection timeout in ms (default 5000). */
  readonly connectTimeoutMs?: number;
}

/** A change the control plane refused (bad mode, percent, empty reason). */
export class ControlPlaneValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field} ${message}`);
    this.name = 'ControlPlaneValidationError';
  }
}

/** Connecting with `migrate: false` found control-plane migrations not yet applied. */
export class ControlPlaneNotMigratedError extends Error {
  constructor(readonly pending: readonly string[]) {
    super(
      `the control plane (schema ${CONTROL_SCHEMA}) lacks ${pending.length === 1 ? 'migration' : 'migrations'} ${pending.join(', ')}: ` +
        `run its migrations first, as a role that may create in schema ${CONTROL_SCHEMA}`,
    );
    this.name = 'ControlPlaneNotMigratedError';
  }
}

const ROUTE_TARGET = (routeId: string) => `route:${routeId}`;

export class ControlPlaneClient {
  readonly pool: Pool;
  private readonly retention: MismatchRetention;
  private readonly subscriptions = new Set<ControlSubscription>();
  private closed = false;

  private constructor(private readonly options: ControlPlaneOptions) {
    const config: PoolConfig = {
      connectionString: options.url,
      max: options.poolSize ?? 4,
      application_name: options.applicationName ?? 'carve-control-plane',
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
    };
    this.pool = new Pool(config);
    // An idle client that loses its connection must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    this.retention = {
      keep: Math.max(1, Math.floor(options.keepMismatches ?? 50)),
      keepForMs: Math.max(1, Math.floor(options.keepMismatchesForMs ?? 7 * 24 * 3600_000)),
    };
  }

  /** Connects (and migrates, unless `migrate: false`). */
  static async connect(options: ControlPlaneOptions): Promise<ControlPlaneClient> {
    const client = new ControlPlaneClient(options);
    try {
      if (options.migrate !== false) await client.migrate();
      else {
        const pending = await pendingControlMigrations(client.pool);
        if (pending.length > 0) throw new ControlPlaneNotMigratedError(pending);
      }
    } catch (err) {
      await client.pool.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  migrate(): Promise<ControlMigrationReport> {
    return migrateControlPlane(this.pool);
  }

  /** The control plane's version: it grows by one with every change. */
  async version(): Promise<number> {
    const r = await this.pool.query('SELECT version FROM carve.control_state WHERE id = 1');
    return Number(r.rows[0]?.version ?? 0);
  }

  async listOverrides(): Promise<StoredOverride[]> {
    const r = await this.pool.query('SELECT * FROM carve.route_overrides ORDER BY route_id');
    return r.rows.map(toOverride);
  }

  /** Every per-workspace override (of one context, if given), by route then workspace. */
  async listWorkspaceOverrides(context?: string): Promise<StoredWorkspaceOverride[]> {
    const r = context
      ? await this.pool.query('SELECT * FROM carve.workspace_route_overrides WHERE context = $1 ORDER BY route_id, workspace_id', [context])
      : await this.pool.query('SELECT * FROM carve.workspace_route_overrides ORDER BY route_id, workspace_id');
    return r.rows.map(toWorkspaceOverride);
  }

  /** The version, every override and every per-workspace override, read in one snapshot. */
  async snapshot(): Promise<{ version: number; overrides: StoredOverride[]; workspaceOverrides: StoredWorkspaceOverride[] }> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const r = await c.query(
        `SELECT s.version AS state_version, o.*
           FROM carve.control_state s LEFT JOIN carve.route_overrides o ON true
          WHERE s.id = 1 ORDER BY o.route_id`,
      );
      const w = await c.query('SELECT * FROM carve.workspace_route_overrides ORDER BY route_id, workspace_id');
      await c.query('COMMIT');
      const version = Number(r.rows[0]?.state_version ?? 0);
      return { version, overrides: r.rows.filter((row) => row.route_id !== null).map(toOverride), workspaceOverrides: w.rows.map(toWorkspaceOverride) };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async getOverride(routeId: string): Promise<StoredOverride | null> {
    const r = await this.pool.query('SELECT * FROM carve.route_overrides WHERE route_id = $1', [routeId]);
    return r.rows[0] ? toOverride(r.rows[0]) : null;
  }

  /** Sets a route's mode (and percent): override, audit and NOTIFY in one transaction. */
  async setOverride(input: SetOverrideInput): Promise<OverrideChange> {
    checkOverride(input);
    return this.change(async (c, version) => {
      const previous = await currentOverride(c, input.routeId);
      const r = await c.query(
        `INSERT INTO carve.route_overrides (route_id, mode, percent, updated_by, updated_at, reason, version)
              VALUES ($1, $2, $3, $4, now(), $5, $6)
         ON CONFLICT (route_id) DO UPDATE
              SET mode = EXCLUDED.mode, percent = EXCLUDED.percent, updated_by = EXCLUDED.updated_by,
                  updated_at = EXCLUDED.updated_at, reason = EXCLUDED.reason, version = EXCLUDED.version
         RETURNING *`,
        [input.routeId, input.mode, input.percent ?? null, input.actor, input.reason, version],
      );
      const override = toOverride(r.rows[0]);
      const audit = await writeAudit(c, {
        actor: input.actor,
        action: input.action ?? 'route.set',
        target: ROUTE_TARGET(input.routeId),
        reason: input.reason,
        before: input.before !== undefined ? input.before : stateOf(previous),
        after: { ...stateOf(override), source: 'override' },
      });
      return { value: { version, override, previous, audit }, audit, wrote: true };
    });
  }

  /**
   * Removes a route's override (the file's mode applies again), audited and notified. Returns
   * null, writing nothing, when the route had no override.
   */
  async clearOverride(routeId: string, actor: string, reason: string, before?: RouteState | null): Promise<OverrideChange | null> {
    checkText('actor', actor);
    checkText('reason', reason);
    return this.change<OverrideChange | null>(async (c, version) => {
      const previous = await currentOverride(c, routeId);
      if (!previous) return { value: null, audit: null, wrote: false };
      await c.query('DELETE FROM carve.route_overrides WHERE route_id = $1', [routeId]);
      const audit = await writeAudit(c, {
        actor,
        action: 'route.clear',
        target: ROUTE_TARGET(routeId),
        reason,
        before: before !== undefined ? before : stateOf(previous),
        after: { source: 'file' },
      });
      return { value: { version, override: null, previous, audit }, audit, wrote: true };
    });
  }

  /**
   * Records that a gateway's guard found a route misbehaving and, unless `rollback: false`,
   * moves the route to the monolith in the same transaction (actor `guard`). When the route's
   * override already is `monolith` (another replica was faster), only the event is recorded.
   *
   * A route a carving command named is looked up with its context's stage (guard-trips.ts): a
   * write route of a context whose writes the service owns is never moved (the context is
   * marked degraded instead, audited as `context.guard-degraded`); any other such trip is
   * recorded on the context as `rolled-back`.
   */
  async recordGuardTrip(input: GuardTripInput): Promise<GuardTripResult> {
    checkText('routeId', input.routeId);
    checkText('reason', input.reason);
    const rollback = input.rollback !== false;
    return this.change<GuardTripResult>(async (c, version) => {
      const previous = await currentOverride(c, input.routeId);
      const owned = await routeContext(c, input.routeId);
      const degrade = owned !== null && owned.kind === 'write' && owned.owner === 'service';
      const doRollback = rollback && !degrade && previous?.mode !== 'monolith';
      const ev = await c.query(
        `INSERT INTO carve.guard_events (route_id, reason, stats, gateway, rolled_back) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [input.routeId, input.reason, input.stats ? JSON.stringify(input.stats) : null, input.gateway ?? null, doRollback],
      );
      const event = toGuardEvent(ev.rows[0]);
      const context = owned
        ? await upsertContextTrip(c, { ...owned, action: degrade ? 'degraded' : 'rolled-back', reason: input.reason, stats: input.stats, gateway: input.gateway })
        : null;
      if (degrade) {
        const audit = await writeAudit(c, {
          actor: 'guard',
          action: 'context.guard-degraded',
          target: `context:${owned.context}`,
          reason: `${input.routeId}: ${input.reason}`,
          before: { stage: owned.stage, owner: owned.owner },
          after: { stage: owned.stage, owner: owned.owner, degraded: true, route: input.routeId, ...(input.gateway ? { gateway: input.gateway } : {}) },
        });
        return { value: { event, change: null, context }, audit, wrote: true };
      }
      if (!doRollback) return { value: { event, change: null, context }, audit: null, wrote: true };
      const r = await c.query(
        `INSERT INTO carve.route_overrides (route_id, mode, percent, updated_by, updated_at, reason, version)
              VALUES ($1, 'monolith', NULL, 'guard', now(), $2, $3)
         ON CONFLICT (route_id) DO UPDATE
              SET mode = 'monolith', percent = NULL, updated_by = 'guard', updated_at = now(),
                  reason = EXCLUDED.reason, version = EXCLUDED.version
         RETURNING *`,
        [input.routeId, `guard: ${input.reason}`, version],
      );
      const override = toOverride(r.rows[0]);
      const audit = await writeAudit(c, {
        actor: 'guard',
        action: 'route.guard-rollback',
        target: ROUTE_TARGET(input.routeId),
        reason: input.reason,
        before: input.before !== undefined ? input.before : stateOf(previous),
        after: { ...stateOf(override), source: 'override', ...(input.gateway ? { gateway: input.gateway } : {}) },
      });
      return { value: { event, change: { version, override, previous, audit }, context }, audit, wrote: true };
    });
  }

  async guardEvents(options: { routeId?: string; limit?: number } = {}): Promise<GuardEvent[]> {
    const limit = clampLimit(options.limit, 50);
    const r = options.routeId
      ? await this.pool.query('SELECT * FROM carve.guard_events WHERE route_id = $1 ORDER BY id DESC LIMIT $2', [options.routeId, limit])
      : await this.pool.query('SELECT * FROM carve.guard_events ORDER BY id DESC LIMIT $1', [limit]);
    return r.rows.map(toGuardEvent);
  }

  /**
   * Stores one shadow mismatch, counts its field paths and trims the route's samples to the
   * latest `keepMismatches` none older than `keepMismatchesForMs`, in one statement.
   */
  recordMismatch(input: MismatchInput): Promise<ShadowMismatch> {
    return insertMismatch(this.pool, input, this.retention);
  }

  /** The latest stored mismatches (of one route), newest first. */
  async mismatches(options: { routeId?: string; limit?: number } = {}): Promise<ShadowMismatch[]> {
    return (await this.browseMismatches({ routeId: options.routeId, limit: options.limit })).items;
  }

  /** One page of stored mismatches, newest first, filtered by route, field path and time. */
  browseMismatches(query: MismatchQuery = {}): Promise<MismatchPage> {
    return queryMismatches(this.pool, query, clampLimit(query.limit, 20));
  }

  /** How many mismatches of a route differed in each field path (kept beyond the samples). */
  mismatchPathCounts(routeId: string): Promise<FieldPathCount[]> {
    return mismatchPathCounts(this.pool, routeId);
  }

  /** Adds to a route's noise baseline: field paths where two answers of the monolith differed. */
  recordNoise(routeId: string, counts: ReadonlyMap<string, number>): Promise<void> {
    return addNoise(this.pool, routeId, counts);
  }

  /** The noise baseline of a route (of every route when none is given). */
  noise(routeId?: string): Promise<FieldPathCount[]> {
    return noisePaths(this.pool, routeId);
  }

  /** The audit trail, newest first. `target` filters (e.g. `route:notes-read`); `beforeId` pages. */
  async audit(options: { limit?: number; target?: string; beforeId?: number } = {}): Promise<AuditEntry[]> {
    const limit = clampLimit(options.limit, 50);
    const where: string[] = [];
    const params: unknown[] = [];
    if (options.target) {
      params.push(options.target);
      where.push(`target = $${params.length}`);
    }
    if (options.beforeId !== undefined) {
      params.push(options.beforeId);
      where.push(`id < $${params.length}`);
    }
    params.push(limit);
    const r = await this.pool.query(
      `SELECT * FROM carve.audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(toAudit);
  }

  /**
   * Calls `onChange` with every override whenever the control plane's version moves, and once
   * at the start. LISTEN on a dedicated connection (reconnecting on errors) wakes it at once;
   * a poll (default every second) catches whatever a lost connection missed.
   */
  subscribe(onChange: (snapshot: ControlSnapshot) => void, options: SubscribeOptions = {}): ControlSubscription {
    if (this.closed) throw new Error('control plane client is closed');
    const sub = new ControlSubscription(this.options.url, () => this.snapshot(), onChange, options, () => this.subscriptions.delete(sub));
    this.subscriptions.add(sub);
    sub.start();
    return sub;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.pool.end().catch(() => undefined);
  }

  /**
   * Runs `fn` in a transaction after bumping the version, and NOTIFYs listeners with the audit
   * entry it returns. When `fn` says it wrote nothing, the transaction is rolled back (the
   * version does not move, nobody is woken).
   */
  private async change<T>(fn: (c: PoolClient, version: number) => Promise<{ value: T; audit: AuditEntry | null; wrote: boolean }>): Promise<T> {
    const c = await this.pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      try {
        const v = await c.query('UPDATE carve.control_state SET version = version + 1, updated_at = now() WHERE id = 1 RETURNING version');
        const version = Number(v.rows[0].version);
        const { value, audit, wrote } = await fn(c, version);
        if (!wrote) {
          await c.query('ROLLBACK');
          return value;
        }
        if (audit) {
          const notice: ControlNotice = { version, action: audit.action, target: audit.target, actor: audit.actor };
          await c.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, JSON.stringify(notice)]);
        }
        await c.query('COMMIT');
        return value;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      }
    } finally {
      c.release(broken);
    }
  }
}

// -------------------------------------------------------------------------------------------

function checkText(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '') throw new ControlPlaneValidationError(field, 'must be a non-empty string');
  if (value.length > 2000) throw new ControlPlaneValidationError(field, 'must be at most 2000 characters long');
}

function checkOverride(input: SetOverrideInput): void {
  checkText('routeId', input.routeId);
  checkText('actor', input.actor);
  checkText('reason', input.reason);
  if (!(OVERRIDE_MODES as readonly string[]).includes(input.mode)) {
    throw new ControlPlaneValidationError('mode', `must be one of ${OVERRIDE_MODES.join(', ')}, got ${JSON.stringify(input.mode)}`);
  }
  const p = input.percent;
  if (p !== undefined && p !== null) {
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100) {
      throw new ControlPlaneValidationError('percent', `must be a number from 0 to 100, got ${JSON.stringify(p)}`);
    }
    if (input.mode !== 'canary') throw new ControlPlaneValidationError('percent', `is only for mode canary, not ${input.mode}`);
  }
}

function clampLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(1000, Math.max(1, Math.floor(limit)));
}

async function currentOverride(c: PoolClient, routeId: string): Promise<StoredOverride | null> {
  const r = await c.query('SELECT * FROM carve.route_overrides WHERE route_id = $1', [routeId]);
  return r.rows[0] ? toOverride(r.rows[0]) : null;
}

async function writeAudit(
  c: PoolClient,
  e: { actor: string; action: string; target: string; reason: string; before: unknown; after: unknown },
): Promise<AuditEntry> {
  const r = await c.query(
    'INSERT INTO carve.audit (actor, action, target, reason, before, after) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [e.actor, e.action, e.target, e.reason, e.before == null ? null : JSON.stringify(e.before), e.after == null ? null : JSON.stringify(e.after)],
  );
  return toAudit(r.rows[0]);
}

function stateOf(o: StoredOverride | null): RouteState | null {
  return o ? { mode: o.mode, percent: o.percent, source: 'override' } : null;
}


function toOverride(row: any): StoredOverride {
  return {
    routeId: row.route_id,
    mode: row.mode as OverrideMode,
    percent: row.percent === null ? null : Number(row.percent),
    updatedBy: row.updated_by,
    updatedAt: iso(row.updated_at),
    reason: row.reason,
    version: Number(row.version),
  };
}

function toWorkspaceOverride(row: any): StoredWorkspaceOverride {
  return {
    routeId: row.route_id,
    workspaceId: row.workspace_id,
    side: row.side === 'service' ? 'service' : 'monolith',
    context: row.context,
    updatedBy: row.updated_by,
    updatedAt: iso(row.updated_at),
    reason: row.reason,
    version: Number(row.version),
  };
}

function toAudit(row: any): AuditEntry {
  return {
    id: Number(row.id),
    at: iso(row.at),
    actor: row.actor,
    action: row.action,
    target: row.target,
    reason: row.reason,
    before: row.before,
    after: row.after,
  };
}

function toGuardEvent(row: any): GuardEvent {
  return {
    id: Number(row.id),
    at: iso(row.at),
    routeId: row.route_id,
    reason: row.reason,
    stats: row.stats,
    gateway: row.gateway,
    rolledBack: row.rolled_back,
  };
}
