/**
 * The guard: automatic rollback of a route to the monolith when the service misbehaves.
 *
 * Every request that reached the service on a guarded route is one outcome in the route's
 * sliding window (@carve/shared-routing GuardState): `ok`, `error` (connection error, timeout,
 * 5xx) or, for shadow copies, `mismatch`. When the error rate or the mismatch rate passes the
 * route's threshold (with at least `minRequests` samples), the gateway moves the route to
 * `monolith` through the control plane (actor `guard`, the reason carrying the figures), so
 * every replica follows within the control plane's propagation time, and applies it here at
 * once. When the control plane is unreachable, this replica still rolls the route back for
 * itself (and says so in its log and its status).
 */
import { type GuardConfig, GuardState, type GuardStats, type Outcome, type Route } from '@carve/shared-routing';
import type { ControlPlaneClient, StoredOverride } from '@carve/shared-control-plane';
import type { Logger } from '@carve/shared-http';
import type { GatewayMetrics } from '../plugins/metrics';
import type { RoutingState } from '../route-table/routing-state';

export interface GuardTrip {
  readonly at: string;
  readonly reason: string;
  readonly stats: GuardStats;
  /** `control-plane` when recorded there, `local-only` when the control plane could not be reached. */
  readonly recorded: 'pending' | 'control-plane' | 'local-only';
}

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
    const trip: GuardTrip = { at, reason, stats, recorded: 'pending' };
    this.lastTrips.set(route.id, trip);
    this.log.warn({ route: route.id, mode: route.mode, percent: route.percent, reason, stats }, `guard: rolling route ${route.id} back to the monolith: ${reason}`);
    this.controlPlane
      .recordGuardTrip({
        routeId: route.id,
        reason,
        stats: { ...stats, mode: route.mode, percent: route.percent },
        gateway: this.gatewayId,
        before: { mode: route.mode, percent: route.percent, source: route.overridden ? 'override' : 'file' },
      })
      .then((result) => {
        this.lastTrips.set(route.id, { ...trip, recorded: 'control-plane' });
        if (result.change) this.routing.applyLocal(route.id, result.change.override, result.change.version);
      })
      .catch((err: Error) => {
        this.lastTrips.set(route.id, { ...trip, recorded: 'local-only' });
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
