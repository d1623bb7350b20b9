/**
 * The guard: automatic rollback of a route to the monolith when the service misbehaves, unless
 * that would split the ownership of writes.
 *
 * Every request that reached the service on a guarded route is one outcome in the route's
 * sliding window (@carve/shared-routing GuardState): `ok`, `error` or, for shadow copies,
 * `mismatch`. Only failures of the upstream are errors (its 5xx, connection errors, timeouts:
 * outcome.ts); a 4xx, a 503 with Retry-After, a client's abort or an oversized body are not.
 * When the error rate or the mismatch rate passes the route's threshold (with at least
 * `minRequests` samples), the gateway reports the trip to the control plane (actor `guard`, the
 * reason carrying the figures), which decides in the same transaction, from the stage of the
 * context the route belongs to:
 *
 * - a write route of a context whose writes the service owns (writes-switched, complete) stays
 *   on the service: the monolith does not own those writes. The context is marked degraded
 *   (`carve status` shows it and names `carve rollback <context>`), the log says so at error
 *   level and `carve_gateway_guard_degraded_total` counts it (alert on it);
 * - any other route is moved to `monolith`, so every replica follows within the control plane's
 *   propagation time (applied here at once); on a carved context the trip is recorded, and
 *   `carve stage` does not undo it without `--ack-guard-trip`.
 *
 * When the control plane is unreachable, this replica still rolls a route back for itself (and
 * says so in its log and its status), except a route that matches only writes: without the
 * control plane it cannot know who owns them, so it keeps it.
 */
import { type GuardConfig, GuardState, type GuardStats, type Outcome, type Route } from '@carve/shared-routing';
import type { ControlPlaneClient, StoredOverride } from '@carve/shared-control-plane';
import type { Logger } from '@carve/shared-http';
import type { GatewayMetrics } from '../telemetry/metrics';
import type { RoutingState } from '../route-table/routing-state';

export interface GuardTrip {
  readonly at: string;
  readonly reason: string;
  readonly stats: GuardStats;
  /** `control-plane` when recorded there, `local-only` when the control plane could not be reached. */
  readonly recorded: 'pending' | 'control-plane' | 'local-only';
  /** What the trip did: moved the route to the monolith, or kept it (a context's writes the service owns). */
  readonly action: 'pending' | 'rolled-back' | 'kept';
  /** The carved context the route belongs to, and whether the trip marked it degraded. */
  readonly context?: { readonly name: string; readonly degraded: boolean };
}

/** A route that matches only writes (no GET or HEAD). */
const writeOnly = (route: Route) => !route.methods.some((m) => m === 'GET' || m === 'HEAD');

interface Entry {
  readonly key: string;
  readonly state: GuardState;
}

export interface GuardSnapshot {
  readonly config: GuardConfig | null;
  readonly stats: GuardStats | null;
  readonly lastTrip: GuardTrip | null;
}

export class Guard {
  private readonly entries = new Map<string, Entry>();
  private readonly tripping = new Set<string>();
  private readonly lastTrips = new Map<string, GuardTrip>();

  constructor(
    private readonly controlPlane: ControlPlaneClient,
    private readonly routing: RoutingState,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly gatewayId: string,
  ) {}

  /** Records the outcome of one request that reached the service on this route. */
  observe(route: Route, outcome: Outcome): void {
    const g = route.guard;
    if (!g || route.mode === 'monolith') return;
    const entry = this.entry(route);
    if (!entry) return;
    if (outcome === 'ok') {
      // A success only lowers the rates: nothing to evaluate.
      entry.state.record('ok');
      return;
    }
    const verdict = entry.state.observe(outcome);
    if (verdict.trip) this.trip(route, entry, verdict.reason, verdict.stats);
  }

  /** Forgets a route's samples (its mode or percent changed: old outcomes say nothing new). */
  reset(routeId: string): void {
    this.entries.get(routeId)?.state.reset();
  }

  snapshot(route: Route): GuardSnapshot {
    const entry = this.entry(route);
    return {
      config: entry ? entry.state.config : null,
      stats: entry ? entry.state.stats() : null,
      lastTrip: this.lastTrips.get(route.id) ?? null,
    };
  }

  private entry(route: Route): Entry | undefined {
    const g = route.guard;
    if (!g) return undefined;
    const key = `${g.maxErrorRate}|${g.maxMismatchRate ?? ''}|${g.windowMs}|${g.minRequests}`;
    let e = this.entries.get(route.id);
    if (!e || e.key !== key) {
      const config: GuardConfig = {
        maxErrorRate: g.maxErrorRate,
        ...(g.maxMismatchRate !== undefined ? { maxMismatchRate: g.maxMismatchRate } : {}),
        windowMs: g.windowMs,
        minRequests: g.minRequests,
      };
      e = { key, state: new GuardState(config) };
      this.entries.set(route.id, e);
    }
    return e;
  }

  private trip(route: Route, entry: Entry, reason: string, stats: GuardStats): void {
    if (this.tripping.has(route.id)) return;
    this.tripping.add(route.id);
    entry.state.reset();
    this.metrics.guardTrip(route.id);
    const at = new Date().toISOString();
    const trip: GuardTrip = { at, reason, stats, recorded: 'pending', action: 'pending' };
    this.lastTrips.set(route.id, trip);
    this.log.warn({ route: route.id, mode: route.mode, percent: route.percent, reason, stats }, `guard: route ${route.id} tripped: ${reason}`);
    this.controlPlane
      .recordGuardTrip({
        routeId: route.id,
        reason,
        stats: { ...stats, mode: route.mode, percent: route.percent },
        gateway: this.gatewayId,
        before: { mode: route.mode, percent: route.percent, source: route.overridden ? 'override' : 'file' },
      })
      .then((result) => {
        const ctx = result.context ?? null;
        const degraded = ctx?.action === 'degraded';
        this.lastTrips.set(route.id, {
          ...trip,
          recorded: 'control-plane',
          action: degraded ? 'kept' : 'rolled-back',
          ...(ctx ? { context: { name: ctx.context, degraded } } : {}),
        });
        if (degraded) {
          this.metrics.guardDegraded(route.id);
          this.log.error(
            { route: route.id, context: ctx.context, stage: ctx.stage, reason, stats, trips: ctx.trips },
            `guard: route ${route.id} is failing, but the service owns ${ctx.context}'s writes: kept on the service, ${ctx.context} marked degraded; next: npx carve rollback ${ctx.context}`,
          );
          return;
        }
        this.log.warn({ route: route.id, reason }, `guard: rolled route ${route.id} back to the monolith`);
        if (result.change) this.routing.applyLocal(route.id, result.change.override, result.change.version);
      })
      .catch((err: Error) => {
        if (writeOnly(route)) {
          this.lastTrips.set(route.id, { ...trip, recorded: 'local-only', action: 'kept' });
          this.metrics.guardDegraded(route.id);
          this.log.error({ err, route: route.id }, `guard: the control plane is unreachable; write route ${route.id} is kept (who owns its writes cannot be checked)`);
          return;
        }
        this.lastTrips.set(route.id, { ...trip, recorded: 'local-only', action: 'rolled-back' });
        this.log.error({ err, route: route.id }, 'guard: the control plane is unreachable; rolling back on this replica only');
        const local: StoredOverride = {
          routeId: route.id,
          mode: 'monolith',
          percent: null,
          updatedBy: 'guard',
          updatedAt: at,
          reason: `guard (local only, control plane unreachable): ${reason}`,
          version: this.routing.controlVersion,
        };
        this.routing.applyEmergency(local);
      })
      .finally(() => this.tripping.delete(route.id));
  }
}
