/**
 * The guard and the carving stages, in the control plane.
 *
 * The carving commands record which context each route belongs to and whether it reads or
 * writes (`carve.context_routes`). When a gateway's guard trips on such a route,
 * `ControlPlaneClient.recordGuardTrip` looks the route up in the same transaction:
 *
 * - a write route of a context whose writes the service owns (`context_stages.owner = 'service'`)
 *   is never moved: moving it would send writes to a monolith that does not own them. The trip
 *   is recorded as `degraded`; the way out is `carve rollback <context>` (a fenced handover);
 * - any other route of a context is rolled back to the monolith as before, and the trip is
 *   recorded on the context (`rolled-back`), so a later `carve stage` does not silently undo it.
 *
 * A trip stays open until its route is set to the monolith by a carving command (it then says
 * what the guard said) or someone acknowledges it (`carve stage ... --ack-guard-trip`).
 */
import type { Pool, PoolClient } from 'pg';
import { isoOrNull as iso } from '@carve/shared-kernel';

export type RouteKind = 'read' | 'write';
export type GuardTripAction = 'rolled-back' | 'degraded';

export interface ContextRoute {
  readonly routeId: string;
  readonly context: string;
  readonly kind: RouteKind;
}

export interface ContextGuardTrip {
  readonly id: number;
  readonly context: string;
  readonly routeId: string;
  readonly kind: RouteKind;
  readonly action: GuardTripAction;
  /** The context's stage when it (first) tripped. */
  readonly stage: string;
  readonly reason: string;
  readonly stats: Record<string, unknown> | null;
  readonly gateway: string | null;
  /** How many times the guard tripped on the route while this trip was open. */
  readonly trips: number;
  readonly firstAt: string;
  readonly lastAt: string;
  readonly resolvedAt: string | null;
  readonly resolvedBy: string | null;
  readonly resolution: string | null;
}

type Queryable = Pool | PoolClient;


function toTrip(row: any): ContextGuardTrip {
  return {
    id: Number(row.id),
    context: row.context,
    routeId: row.route_id,
    kind: row.kind,
    action: row.action,
    stage: row.stage,
    reason: row.reason,
    stats: row.stats ?? null,
    gateway: row.gateway ?? null,
    trips: Number(row.trips),
    firstAt: iso(row.first_at)!,
    lastAt: iso(row.last_at)!,
    resolvedAt: iso(row.resolved_at),
    resolvedBy: row.resolved_by ?? null,
    resolution: row.resolution ?? null,
  };
}

/** Records (or refreshes) which context each route belongs to and its kind. */
export async function recordContextRoutes(db: Queryable, context: string, routes: ReadonlyArray<{ id: string; kind: RouteKind }>): Promise<void> {
  for (const r of routes) {
    await db.query(
      `INSERT INTO carve.context_routes (route_id, context, kind, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (route_id) DO UPDATE SET context = EXCLUDED.context, kind = EXCLUDED.kind, updated_at = now()
       WHERE context_routes.context IS DISTINCT FROM EXCLUDED.context OR context_routes.kind IS DISTINCT FROM EXCLUDED.kind`,
      [r.id, context, r.kind],
    );
  }
}

/**
 * The context a route belongs to, its kind, and the context's stage and writes owner (the stage
 * row locked FOR SHARE, so a concurrent stage change waits for the caller's transaction).
 */
export async function routeContext(c: PoolClient, routeId: string): Promise<(ContextRoute & { stage: string; owner: 'monolith' | 'service' }) | null> {
  const r = await c.query('SELECT route_id, context, kind FROM carve.context_routes WHERE route_id = $1', [routeId]);
  const row = r.rows[0];
  if (!row) return null;
  const s = await c.query('SELECT stage, owner FROM carve.context_stages WHERE context = $1 FOR SHARE', [row.context]);
  const st = s.rows[0];
  return { routeId: row.route_id, context: row.context, kind: row.kind, stage: st?.stage ?? 'created', owner: st?.owner === 'service' ? 'service' : 'monolith' };
}

/** Opens a trip on the route, or counts one more on its open trip. */
export async function upsertContextTrip(
  c: PoolClient,
  input: ContextRoute & { stage: string; action: GuardTripAction; reason: string; stats?: Record<string, unknown>; gateway?: string },
): Promise<ContextGuardTrip> {
  const r = await c.query(
    `INSERT INTO carve.context_guard_trips (context, route_id, kind, action, stage, reason, stats, gateway)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (route_id) WHERE resolved_at IS NULL DO UPDATE SET
          trips = context_guard_trips.trips + 1, last_at = now(), reason = EXCLUDED.reason, stats = EXCLUDED.stats,
          gateway = EXCLUDED.gateway, action = EXCLUDED.action, context = EXCLUDED.context, kind = EXCLUDED.kind
     RETURNING *`,
    [input.context, input.routeId, input.kind, input.action, input.stage, input.reason, input.stats ? JSON.stringify(input.stats) : null, input.gateway ?? null],
  );
  return toTrip(r.rows[0]);
}

/** The context's guard trips, newest first: the open ones only unless `all`. */
export async function contextGuardTrips(db: Queryable, context: string, options: { all?: boolean; limit?: number } = {}): Promise<ContextGuardTrip[]> {
  const r = await db.query(
    `SELECT * FROM carve.context_guard_trips WHERE context = $1 ${options.all ? '' : 'AND resolved_at IS NULL'} ORDER BY id DESC LIMIT $2`,
    [context, Math.max(1, Math.min(options.limit ?? 50, 500))],
  );
  return r.rows.map(toTrip);
}

/** Closes the open trips of these routes; returns the ones it closed. */
export async function resolveContextTrips(db: Queryable, routeIds: readonly string[], by: string, resolution: string): Promise<ContextGuardTrip[]> {
  if (routeIds.length === 0) return [];
  const r = await db.query(
    `UPDATE carve.context_guard_trips SET resolved_at = now(), resolved_by = $2, resolution = $3
      WHERE route_id = ANY($1) AND resolved_at IS NULL RETURNING *`,
    [[...routeIds], by, resolution],
  );
  return r.rows.map(toTrip);
}
