/**
 * The carving stage of each context, in the control plane (`carve.context_stages`), and the
 * route overrides each stage implies, applied through the ControlPlaneClient so that every
 * gateway replica follows (NOTIFY at commit, poll as the fallback: within 2 s).
 *
 * A stage change is one transaction in the control plane's own pattern: bump
 * `carve.control_state.version`, write the stage row, write the audit entry (target
 * `context:<name>`, who, why, before, after), `pg_notify('carve_control', ...)`. Route changes are
 * each their own audited override. Commands on one context are serialised by an advisory lock
 * (`withContextLock`), so two people cannot move one context at the same time.
 */
import type { ControlPlaneClient, OverrideChange, StoredOverride } from '@carve/shared-control-plane';
import type { PoolClient } from 'pg';
import type { CarvableContext } from './context';
import { isStage, type Owner, ownerAt, routeSettingFor, type RouteSetting, type Stage } from './stages';

export interface StageRecord {
  readonly context: string;
  readonly stage: Stage;
  readonly previousStage: Stage | null;
  /** Canary percent (stage canary). */
  readonly canaryPercent: number | null;
  /** Who owns the context's writes. */
  readonly owner: Owner;
  /** Since when the current owner owns them (null: always the monolith). */
  readonly ownerSince: string | null;
  readonly updatedAt: string | null;
  readonly updatedBy: string | null;
  readonly reason: string | null;
  /** The control-plane version the stage was written at. */
  readonly version: number;
}

export interface StageChange {
  readonly before: StageRecord;
  readonly after: StageRecord;
  readonly version: number;
  readonly auditId: number;
}

export interface RouteChange {
  readonly routeId: string;
  readonly before: RouteSetting | null;
  readonly after: RouteSetting;
  /** The control-plane version it committed at, or null when the route already was so. */
  readonly version: number | null;
}

/** Another carve command holds the context's lock. */
export class ContextBusyError extends Error {
  constructor(readonly context: string) {
    super(`another carve command is changing ${context} right now`);
    this.name = 'ContextBusyError';
  }
}

export const CONTEXT_TARGET = (context: string) => `context:${context}`;

const iso = (d: Date | string | null) => (d === null || d === undefined ? null : (d instanceof Date ? d : new Date(d)).toISOString());

function toRecord(context: string, row: any | undefined): StageRecord {
  if (!row) {
    return { context, stage: 'created', previousStage: null, canaryPercent: null, owner: 'monolith', ownerSince: null, updatedAt: null, updatedBy: null, reason: null, version: 0 };
  }
  const stage: Stage = isStage(row.stage) ? row.stage : 'created';
  return {
    context,
    stage,
    previousStage: isStage(row.previous_stage) ? row.previous_stage : null,
    canaryPercent: row.canary_percent === null || row.canary_percent === undefined ? null : Number(row.canary_percent),
    owner: row.owner === 'service' ? 'service' : 'monolith',
    ownerSince: iso(row.owner_since ?? null),
    updatedAt: iso(row.updated_at ?? null),
    updatedBy: row.updated_by ?? null,
    reason: row.reason ?? null,
    version: Number(row.version ?? 0),
  };
}

const stateOf = (r: StageRecord) => ({ stage: r.stage, owner: r.owner, ...(r.stage === 'canary' ? { percent: r.canaryPercent } : {}) });

export class StageStore {
  constructor(readonly cp: ControlPlaneClient) {}

  async get(context: string): Promise<StageRecord> {
    const r = await this.cp.pool.query('SELECT * FROM carve.context_stages WHERE context = $1', [context]);
    return toRecord(context, r.rows[0]);
  }

  async list(): Promise<StageRecord[]> {
    const r = await this.cp.pool.query('SELECT * FROM carve.context_stages ORDER BY context');
    return r.rows.map((row) => toRecord(row.context, row));
  }

  /**
   * Runs `fn` holding the context's advisory lock (session level, on a dedicated connection).
   * Refuses at once when another command holds it.
   */
  async withContextLock<T>(context: string, fn: () => Promise<T>): Promise<T> {
    const c = await this.cp.pool.connect();
    let locked = false;
    try {
      const r = await c.query(`SELECT pg_try_advisory_lock(hashtext('carve.carving'), hashtext($1)) AS ok`, [context]);
      locked = r.rows[0].ok === true;
      if (!locked) throw new ContextBusyError(context);
      return await fn();
    } finally {
      if (locked) await c.query(`SELECT pg_advisory_unlock(hashtext('carve.carving'), hashtext($1))`, [context]).catch(() => undefined);
      c.release();
    }
  }

  /**
   * Writes the stage (and the owner it implies), audited and notified, in one transaction.
   * `expected` guards against a concurrent change: the stored stage must still be it.
   */
  async set(
    context: string,
    next: { stage: Stage; canaryPercent?: number | null },
    who: { actor: string; reason: string; action: string; expected?: Stage; details?: Record<string, unknown> },
  ): Promise<StageChange> {
    const c = await this.cp.pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      try {
        const v = await c.query('UPDATE carve.control_state SET version = version + 1, updated_at = now() WHERE id = 1 RETURNING version');
        const version = Number(v.rows[0].version);
        const cur = await c.query('SELECT * FROM carve.context_stages WHERE context = $1 FOR UPDATE', [context]);
        const before = toRecord(context, cur.rows[0]);
        if (who.expected && before.stage !== who.expected) {
          throw new Error(`${context} moved to ${before.stage} meanwhile (expected ${who.expected}); nothing was changed`);
        }
        const owner = ownerAt(next.stage);
        const ownerChanged = owner !== before.owner;
        const r = await c.query(
          `INSERT INTO carve.context_stages (context, stage, previous_stage, canary_percent, owner, owner_since, updated_at, updated_by, reason, version)
                VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 = 'service' THEN now() ELSE NULL END, now(), $6, $7, $8)
           ON CONFLICT (context) DO UPDATE SET
                stage = EXCLUDED.stage, previous_stage = context_stages.stage, canary_percent = EXCLUDED.canary_percent,
                owner = EXCLUDED.owner,
                owner_since = CASE WHEN $9 THEN EXCLUDED.owner_since ELSE context_stages.owner_since END,
                updated_at = now(), updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason, version = EXCLUDED.version
           RETURNING *`,
          [context, next.stage, cur.rows[0] ? before.stage : null, next.stage === 'canary' ? (next.canaryPercent ?? null) : null, owner, who.actor, who.reason, version, ownerChanged],
        );
        const after = toRecord(context, r.rows[0]);
        const a = await c.query(
          'INSERT INTO carve.audit (actor, action, target, reason, before, after) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
          [who.actor, who.action, CONTEXT_TARGET(context), who.reason, JSON.stringify(stateOf(before)), JSON.stringify({ ...stateOf(after), ...(who.details ?? {}) })],
        );
        await c.query('SELECT pg_notify($1, $2)', ['carve_control', JSON.stringify({ version, action: who.action, target: CONTEXT_TARGET(context), actor: who.actor })]);
        await c.query('COMMIT');
        return { before, after, version, auditId: Number(a.rows[0].id) };
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      }
    } finally {
      (c as PoolClient).release(broken);
    }
  }

  /**
   * Sets every route of the context to what `stage` implies (only `kinds`, if given), as audited
   * overrides. A route whose override already says so is left alone.
   */
  async applyRoutes(
    ctx: CarvableContext,
    stage: Stage,
    opts: { percent?: number | null; actor: string; reason: string; kinds?: ReadonlyArray<'read' | 'write'>; action?: string },
  ): Promise<RouteChange[]> {
    const overrides = new Map<string, StoredOverride>((await this.cp.listOverrides()).map((o) => [o.routeId, o]));
    const out: RouteChange[] = [];
    for (const route of ctx.routes) {
      if (opts.kinds && !opts.kinds.includes(route.kind)) continue;
      const want = routeSettingFor(stage, route.kind, opts.percent);
      const cur = overrides.get(route.id);
      const before: RouteSetting | null = cur ? { mode: cur.mode, ...(cur.mode === 'canary' && cur.percent !== null ? { percent: cur.percent } : {}) } : null;
      if (cur && cur.mode === want.mode && (want.mode !== 'canary' || cur.percent === want.percent)) {
        out.push({ routeId: route.id, before, after: want, version: null });
        continue;
      }
      const change: OverrideChange = await this.cp.setOverride({
        routeId: route.id,
        mode: want.mode,
        percent: want.mode === 'canary' ? want.percent : null,
        actor: opts.actor,
        reason: `carving ${ctx.name} → ${stage}: ${opts.reason}`,
        action: opts.action ?? 'route.set',
      });
      out.push({ routeId: route.id, before, after: want, version: change.version });
    }
    return out;
  }
}
