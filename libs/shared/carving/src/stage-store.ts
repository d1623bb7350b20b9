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
import {
  type ControlPlaneClient,
  type ContextGuardTrip,
  contextGuardTrips,
  DEFAULT_REPLICA_LIVE_MS,
  type GatewayReplica,
  listGatewayReplicas,
  type OverrideChange,
  recordContextRoutes,
  replicasMissing,
  resolveContextTrips,
  type StoredOverride,
} from '@carve/shared-control-plane';
import type { PoolClient } from 'pg';
import { pgTransactions } from '@carve/shared-messaging';
import type { CarvableContext } from './context';
import { isStage, type Owner, ownerAt, routeSettingFor, type RouteSetting, type Stage } from './stages';
import { type WorkspaceStageRecord, workspaceRouteSides } from './workspace-stages';
import { isoOrNull as iso } from '@carve/shared-kernel';

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

/**
 * A route switch refused before anything changed, with a stable code:
 * - `route_not_served`: a live gateway replica's route table does not define the route (the
 *   switch would do nothing there);
 * - `guard_tripped`: the guard moved the read route to the monolith, and the switch would undo
 *   that without an acknowledgement.
 */
export class RouteRefusedError extends Error {
  constructor(
    message: string,
    readonly code: 'route_not_served' | 'guard_tripped',
    readonly hint: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'RouteRefusedError';
  }
}

export interface StageStoreOptions {
  /** A gateway replica that reported within this many ms is live (default DEFAULT_REPLICA_LIVE_MS). */
  readonly replicaLiveMs?: number;
}

export const CONTEXT_TARGET = (context: string) => `context:${context}`;

/** What switching a context's routes needs of its descriptor: its name and routes (a ramp step reads them from `carve.context_routes`). */
export type RoutedContext = Pick<CarvableContext, 'name' | 'routes'>;


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

function toWorkspaceRecord(row: any): WorkspaceStageRecord {
  return {
    context: row.context,
    workspaceId: row.workspace_id,
    stage: isStage(row.stage) ? row.stage : 'created',
    owner: row.owner === 'service' ? 'service' : 'monolith',
    ownerSince: iso(row.owner_since ?? null),
    updatedAt: iso(row.updated_at)!,
    updatedBy: row.updated_by,
    reason: row.reason,
    version: Number(row.version),
  };
}

/** What one per-workspace stage change did (the audit's `after`, and the command's answer). */
export interface WorkspaceStageChange {
  readonly workspaces: readonly string[];
  /** Each workspace's stage before (its own, else the context's). */
  readonly before: Readonly<Record<string, Stage>>;
  /** The stage they are at now; `followsContext` when that is the context's (their rows were removed). */
  readonly stage: Stage;
  readonly followsContext: boolean;
  readonly routes: ReadonlyArray<{ routeId: string; side: 'monolith' | 'service' }>;
  readonly version: number;
  readonly auditId: number;
}

const stateOf = (r: StageRecord) => ({ stage: r.stage, owner: r.owner, ...(r.stage === 'canary' ? { percent: r.canaryPercent } : {}) });

/** Bumps the control plane's version in `c`'s transaction (its row lock serialises changes); returns the new one. */
export async function bumpControlVersion(c: PoolClient): Promise<number> {
  const v = await c.query('UPDATE carve.control_state SET version = version + 1, updated_at = now() WHERE id = 1 RETURNING version');
  return Number(v.rows[0].version);
}

/** The audit entry of a context's change (target `context:<name>`) and the NOTIFY every gateway replica wakes on. */
export async function audited(c: PoolClient, version: number, who: { actor: string; reason: string; action: string }, context: string, before: unknown, after: unknown): Promise<number> {
  const a = await c.query('INSERT INTO carve.audit (actor, action, target, reason, before, after) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id', [
    who.actor,
    who.action,
    CONTEXT_TARGET(context),
    who.reason,
    JSON.stringify(before),
    JSON.stringify(after),
  ]);
  await c.query('SELECT pg_notify($1, $2)', ['carve_control', JSON.stringify({ version, action: who.action, target: CONTEXT_TARGET(context), actor: who.actor })]);
  return Number(a.rows[0].id);
}

export class StageStore {
  constructor(
    readonly cp: ControlPlaneClient,
    private readonly options: StageStoreOptions = {},
  ) {}

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
    return this.controlChange(async (c, version) => {
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
      const auditId = await audited(c, version, who, context, stateOf(before), { ...stateOf(after), ...(who.details ?? {}) });
      return { before, after, version, auditId };
    });
  }

  /**
   * The routes, then the stage: what `carve stage <context> <stage>` and each step of a timed
   * ramp do once their checks passed (under the context's lock).
   */
  async moveRoutesAndStage(
    ctx: RoutedContext,
    to: Stage,
    opts: { percent?: number | null; actor: string; reason: string; ackGuardTrip?: boolean; expected: Stage; action?: string; details?: Record<string, unknown> },
  ): Promise<{ change: StageChange; routes: RouteChange[] }> {
    const routes = await this.applyRoutes(ctx, to, { percent: opts.percent, actor: opts.actor, reason: opts.reason, ackGuardTrip: opts.ackGuardTrip });
    const change = await this.set(ctx.name, { stage: to, canaryPercent: opts.percent }, { actor: opts.actor, reason: opts.reason, action: opts.action ?? 'stage.set', expected: opts.expected, details: opts.details });
    return { change, routes };
  }

  /**
   * One control-plane transaction: the version bumped first (its row lock serialises changes),
   * then `fn`; committed when it returns, rolled back when it throws.
   */
  private controlChange<T>(fn: (c: PoolClient, version: number) => Promise<T>): Promise<T> {
    return this.transaction(async (c) => fn(c, await bumpControlVersion(c)));
  }

  /** `fn` in one transaction on a connection of the control plane's pool: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    return pgTransactions(this.cp.pool)(fn);
  }

  /**
   * Sets every route of the context to what `stage` implies (only `kinds`, if given), as audited
   * overrides. A route whose override already says so is left alone. Before anything changes:
   *
   * - the context's routes and their kinds are recorded (`carve.context_routes`: the guard reads
   *   them to tell a write route whose writes the service owns);
   * - a route that is to reach the service (any mode but `monolith`) must be defined by the
   *   table of every live gateway replica (`carve.gateway_replicas`), else `route_not_served`
   *   naming the replicas. A move to the monolith is never refused: a replica without the route
   *   sends its paths to the table's default, the monolith, already;
   * - a read route the guard moved to the monolith (an open `rolled-back` trip) is not moved to
   *   canary or service without `ackGuardTrip` (`guard_tripped`); with it, the trip is closed as
   *   acknowledged.
   *
   * A route set to the monolith closes its open guard trips (the guard's decision stands).
   */
  async applyRoutes(
    ctx: RoutedContext,
    stage: Stage,
    opts: { percent?: number | null; actor: string; reason: string; kinds?: ReadonlyArray<'read' | 'write'>; action?: string; ackGuardTrip?: boolean },
  ): Promise<RouteChange[]> {
    const routes = await this.checkRoutes(ctx, stage, opts);
    if (opts.ackGuardTrip) {
      const acked = routes.filter((r) => r.want.mode === 'canary' || r.want.mode === 'service').map((r) => r.id);
      const open = (await this.openGuardTrips(ctx.name)).filter((t) => t.action === 'rolled-back' && acked.includes(t.routeId));
      await resolveContextTrips(this.cp.pool, open.map((t) => t.routeId), opts.actor, `acknowledged (carving ${ctx.name} → ${stage}: ${opts.reason})`);
    }
    const overrides = new Map<string, StoredOverride>((await this.cp.listOverrides()).map((o) => [o.routeId, o]));
    const out: RouteChange[] = [];
    for (const route of routes) {
      const want = route.want;
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
    const toMonolith = routes.filter((r) => r.want.mode === 'monolith').map((r) => r.id);
    await resolveContextTrips(this.cp.pool, toMonolith, opts.actor, `route set to the monolith (carving ${ctx.name} → ${stage}: ${opts.reason})`);
    return out;
  }

  /**
   * What `applyRoutes` checks before it changes anything, on its own (it records the context's
   * routes, and throws RouteRefusedError): a command that must not stop half-way, such as a
   * handover of the writes, runs it before it begins. Returns the routes with what the stage
   * wants of each.
   */
  async checkRoutes(
    ctx: RoutedContext,
    stage: Stage,
    opts: { percent?: number | null; kinds?: ReadonlyArray<'read' | 'write'>; ackGuardTrip?: boolean } = {},
  ): Promise<Array<RoutedContext['routes'][number] & { want: RouteSetting }>> {
    await recordContextRoutes(this.cp.pool, ctx.name, ctx.routes);
    const routes = ctx.routes.filter((r) => !opts.kinds || opts.kinds.includes(r.kind)).map((r) => ({ ...r, want: routeSettingFor(stage, r.kind, opts.percent) }));
    const toService = routes.filter((r) => r.want.mode !== 'monolith');
    if (toService.length > 0) {
      await this.checkServed(ctx, toService.map((r) => r.id));
      if (!opts.ackGuardTrip) await this.checkGuardTrips(ctx, stage, toService.filter((r) => r.want.mode === 'canary' || r.want.mode === 'service').map((r) => r.id));
    }
    return routes;
  }

  /** The workspaces of a context at a stage of their own. */
  async workspaceStages(context: string): Promise<WorkspaceStageRecord[]> {
    const r = await this.cp.pool.query('SELECT * FROM carve.workspace_stages WHERE context = $1 ORDER BY workspace_id', [context]);
    return r.rows.map(toWorkspaceRecord);
  }

  /**
   * Puts workspaces at `stage`, in one control-plane transaction: their rows in
   * `carve.workspace_stages` and their per-workspace route overrides (the side each route sends
   * them to at that stage), audited (target `context:<name>`) and notified, so every gateway
   * replica routes them by it. When `stage` is the context's own (read under the same lock), or
   * null, the rows and overrides are removed instead: the workspaces follow the context again.
   */
  async setWorkspaceStages(
    ctx: CarvableContext,
    workspaces: readonly string[],
    stage: Stage | null,
    who: { actor: string; reason: string; action: string; details?: Record<string, unknown> },
  ): Promise<WorkspaceStageChange> {
    return this.controlChange(async (c, version) => {
      const ctxRow = toRecord(ctx.name, (await c.query('SELECT * FROM carve.context_stages WHERE context = $1 FOR SHARE', [ctx.name])).rows[0]);
      const cur = await c.query('SELECT * FROM carve.workspace_stages WHERE context = $1 AND workspace_id = ANY($2) FOR UPDATE', [ctx.name, workspaces]);
      const own = new Map(cur.rows.map((row) => [row.workspace_id as string, toWorkspaceRecord(row)]));
      const before = Object.fromEntries(workspaces.map((w) => [w, own.get(w)?.stage ?? ctxRow.stage]));
      const target = stage ?? ctxRow.stage;
      const followsContext = target === ctxRow.stage;
      const routes = workspaceRouteSides(ctx, target);
      await c.query('DELETE FROM carve.workspace_route_overrides WHERE context = $1 AND workspace_id = ANY($2)', [ctx.name, workspaces]);
      if (followsContext) {
        await c.query('DELETE FROM carve.workspace_stages WHERE context = $1 AND workspace_id = ANY($2)', [ctx.name, workspaces]);
      } else {
        const owner = ownerAt(target);
        await c.query(
          `INSERT INTO carve.workspace_stages (context, workspace_id, stage, owner, owner_since, updated_at, updated_by, reason, version)
           SELECT $1, w, $3, $4, CASE WHEN $4 = 'service' THEN now() ELSE NULL END, now(), $5, $6, $7 FROM unnest($2::text[]) w
           ON CONFLICT (context, workspace_id) DO UPDATE SET stage = EXCLUDED.stage, owner = EXCLUDED.owner,
                  owner_since = CASE WHEN workspace_stages.owner = EXCLUDED.owner THEN workspace_stages.owner_since ELSE EXCLUDED.owner_since END,
                  updated_at = now(), updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason, version = EXCLUDED.version`,
          [ctx.name, workspaces, target, owner, who.actor, who.reason, version],
        );
        await c.query(
          `INSERT INTO carve.workspace_route_overrides (route_id, workspace_id, side, context, updated_by, updated_at, reason, version)
           SELECT r.route_id, w, r.side, $3, $4, now(), $5, $6
             FROM unnest($1::text[], $2::text[]) AS r(route_id, side), unnest($7::text[]) AS w`,
          [routes.map((r) => r.routeId), routes.map((r) => r.side), ctx.name, who.actor, who.reason, version, workspaces],
        );
      }
      const after = { workspaces: [...workspaces], stage: target, owner: ownerAt(target), followsContext, routes, ...(who.details ?? {}) };
      const auditId = await audited(c, version, who, ctx.name, { workspaces: before }, after);
      return { workspaces: [...workspaces], before, stage: target, followsContext, routes, version, auditId };
    });
  }

  /** The gateway replicas that reported, each marked live or not. */
  replicas(): Promise<GatewayReplica[]> {
    return listGatewayReplicas(this.cp.pool, { liveWithinMs: this.options.replicaLiveMs ?? DEFAULT_REPLICA_LIVE_MS });
  }

  /** The context's open guard trips (newest first). */
  openGuardTrips(context: string): Promise<ContextGuardTrip[]> {
    return contextGuardTrips(this.cp.pool, context);
  }

  /** Every live replica must serve every route about to reach the service. */
  private async checkServed(ctx: RoutedContext, routeIds: readonly string[]): Promise<void> {
    const replicas = await this.replicas();
    const missing = routeIds.map((id) => ({ id, replicas: replicasMissing(replicas, id) })).filter((m) => m.replicas.length > 0);
    if (missing.length === 0) return;
    const what = missing.map((m) => `${m.id} (not in the route table of ${m.replicas.map((r) => `${r.replicaId} on ${r.hostname}, table ${r.tableHash}`).join('; ')})`).join(', ');
    throw new RouteRefusedError(
      `${ctx.name}: a live gateway replica does not serve ${missing.length === 1 ? 'route' : 'routes'} ${what}; nothing was changed`,
      'route_not_served',
      `add the route to that environment's route table (apps/gateway/routes/dev.yaml, charts/gateway/routes/<environment>.yaml) and deploy it, or wait until the replica is replaced; \`carve status ${ctx.name}\` lists the replicas`,
      { routes: missing.map((m) => ({ routeId: m.id, replicas: m.replicas.map((r) => r.replicaId) })) },
    );
  }

  /** A read route the guard rolled back stays on the monolith until someone acknowledges the trip. */
  private async checkGuardTrips(ctx: RoutedContext, stage: Stage, routeIds: readonly string[]): Promise<void> {
    if (routeIds.length === 0) return;
    const open = (await this.openGuardTrips(ctx.name)).filter((t) => t.action === 'rolled-back' && routeIds.includes(t.routeId));
    if (open.length === 0) return;
    const t = open[0];
    // The cutover cannot take the flag: the reads are acknowledged by setting them again first.
    const ack = stage === 'writes-switched' ? `\`carve stage ${ctx.name} reads --ack-guard-trip\` first` : `add --ack-guard-trip`;
    throw new RouteRefusedError(
      `${ctx.name}: the guard moved ${open.map((x) => x.routeId).join(', ')} to the monolith at ${t.lastAt} (${t.reason}); ` +
        `moving ${open.length === 1 ? 'it' : 'them'} back to the service now would undo that; nothing was changed`,
      'guard_tripped',
      `find the cause first (\`carve status ${ctx.name}\`, the gateway's guard events); then say so: ${ack}`,
      { trips: open.map((x) => ({ id: x.id, routeId: x.routeId, at: x.lastAt, reason: x.reason })) },
    );
  }
}
