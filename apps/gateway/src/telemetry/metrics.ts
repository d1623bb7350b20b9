/**
 * The gateway's Prometheus metrics, on the platform registry (`app.platform.metrics`, served at
 * /metrics). Label children for (route, target) are created once and cached, and update their
 * series in place (prom-fast.ts): the hot path never hashes label sets.
 *
 * With workers (CARVE_GATEWAY_WORKERS), /metrics is the sum over the workers, except the gauges
 * of a state (route mode and percent, breaker state), which take their highest value: a breaker
 * shows open while any worker's is.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ROUTE_MODES, type RouteTable } from '@carve/shared-routing';
import { counterChild, histogramChild } from './prom-fast';

/** Route label of requests no route matched (they go to the default upstream). */
export const DEFAULT_ROUTE_LABEL = '_default';

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface RouteTargetMetrics {
  /** Counts a request that was answered, by status class, and observes its duration. */
  done(status: number, seconds: number): void;
}

export type UpstreamErrorKind = 'timeout' | 'connect' | '5xx' | 'breaker-open' | 'body-too-large';
export type ShadowResult = 'match' | 'mismatch' | 'noise' | 'error' | 'skipped';
export const BREAKER_STATE_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

export class GatewayMetrics {
  private readonly requests: Counter<'route' | 'target' | 'status_class'>;
  private readonly duration: Histogram<'route' | 'target'>;
  private readonly errors: Counter<'route' | 'target' | 'kind'>;
  private readonly fallbacks: Counter<'route' | 'from' | 'reason'>;
  private readonly breaker: Gauge<'upstream'>;
  private readonly breakerTransitions: Counter<'upstream' | 'to'>;
  private readonly shadow: Counter<'route' | 'result'>;
  private readonly mismatches: Counter<'route'>;
  private readonly mode: Gauge<'route' | 'mode'>;
  private readonly percent: Gauge<'route'>;
  private readonly guardTrips: Counter<'route'>;
  private readonly guardDegradedTotal: Counter<'route'>;
  private readonly reloads: Counter<'result'>;
  private readonly children = new Map<string, Map<string, RouteTargetMetrics>>();
  private knownRoutes = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'carve_gateway_requests_total',
      help: 'Requests answered, by route, target upstream and status class',
      labelNames: ['route', 'target', 'status_class'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'carve_gateway_request_duration_seconds',
      help: 'Time from the request reaching the gateway to the response finishing, by route and target',
      labelNames: ['route', 'target'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.errors = new Counter({
      name: 'carve_gateway_upstream_errors_total',
      help: 'Upstream failures (timeout, connect, 5xx, breaker-open, body-too-large), by route and target',
      labelNames: ['route', 'target', 'kind'] as const,
      registers,
    });
    this.fallbacks = new Counter({
      name: 'carve_gateway_fallbacks_total',
      help: 'Requests retried on the monolith after the service failed (or while its breaker was open)',
      labelNames: ['route', 'from', 'reason'] as const,
      registers,
    });
    this.breaker = new Gauge({
      name: 'carve_gateway_breaker_state',
      help: 'Circuit breaker per upstream: 0 closed, 1 half-open, 2 open',
      labelNames: ['upstream'] as const,
      aggregator: 'max',
      registers,
    });
    this.breakerTransitions = new Counter({
      name: 'carve_gateway_breaker_transitions_total',
      help: 'Circuit breaker state changes per upstream',
      labelNames: ['upstream', 'to'] as const,
      registers,
    });
    this.shadow = new Counter({
      name: 'carve_gateway_shadow_comparisons_total',
      help: 'Shadowed requests by result: match, mismatch, error (the service failed), skipped (busy, too large)',
      labelNames: ['route', 'result'] as const,
      registers,
    });
    this.mismatches = new Counter({
      name: 'carve_gateway_shadow_mismatches_total',
      help: 'Shadow comparisons where the service answered differently from the monolith',
      labelNames: ['route'] as const,
      registers,
    });
    this.mode = new Gauge({
      name: 'carve_gateway_route_mode',
      help: 'Current mode of each route (1 for the mode in force, 0 for the others)',
      labelNames: ['route', 'mode'] as const,
      aggregator: 'max',
      registers,
    });
    this.percent = new Gauge({
      name: 'carve_gateway_route_percent',
      help: 'Share of sticky keys on the service for each route (canary percent; 100 in service mode)',
      labelNames: ['route'] as const,
      aggregator: 'max',
      registers,
    });
    this.guardTrips = new Counter({
      name: 'carve_gateway_guard_trips_total',
      help: 'Guard trips per route: each a rollback to the monolith, or (carve_gateway_guard_degraded_total) a write route kept on the service',
      labelNames: ['route'] as const,
      registers,
    });
    this.guardDegradedTotal = new Counter({
      name: 'carve_gateway_guard_degraded_total',
      help: 'Guard trips on a write route the guard kept on the service (its context\'s writes are the service\'s): the context is degraded; alert on any increase',
      labelNames: ['route'] as const,
      registers,
    });
    this.reloads = new Counter({
      name: 'carve_gateway_route_table_reloads_total',
      help: 'Route table file reloads: applied or refused (invalid)',
      labelNames: ['result'] as const,
      registers,
    });
  }

  forRouteTarget(route: string, target: string): RouteTargetMetrics {
    let byTarget = this.children.get(route);
    if (!byTarget) this.children.set(route, (byTarget = new Map()));
    let m = byTarget.get(target);
    if (!m) {
      const byClass = STATUS_CLASSES.map((c) => counterChild(this.requests, { route, target, status_class: c }));
      const observe = histogramChild(this.duration, { route, target });
      m = {
        done(status, seconds) {
          const i = Math.floor(status / 100) - 1;
          byClass[i >= 0 && i < 5 ? i : 4]();
          observe(seconds);
        },
      };
      byTarget.set(target, m);
    }
    return m;
  }

  upstreamError(route: string, target: string, kind: UpstreamErrorKind): void {
    this.errors.labels(route, target, kind).inc();
  }

  fallback(route: string, from: string, reason: string): void {
    this.fallbacks.labels(route, from, reason).inc();
  }

  breakerState(upstream: string, state: keyof typeof BREAKER_STATE_VALUE, transition = true): void {
    this.breaker.labels(upstream).set(BREAKER_STATE_VALUE[state]);
    if (transition) this.breakerTransitions.labels(upstream, state).inc();
  }

  shadowResult(route: string, result: ShadowResult): void {
    this.shadow.labels(route, result).inc();
    if (result === 'mismatch') this.mismatches.labels(route).inc();
  }

  guardTrip(route: string): void {
    this.guardTrips.labels(route).inc();
  }

  guardDegraded(route: string): void {
    this.guardDegradedTotal.labels(route).inc();
  }

  reload(result: 'applied' | 'refused'): void {
    this.reloads.labels(result).inc();
  }

  /** Sets the mode and percent gauges from the table in force (routes gone from it are removed). */
  routeTable(table: RouteTable): void {
    const now = new Set<string>();
    for (const r of table.routes) {
      now.add(r.id);
      for (const m of ROUTE_MODES) this.mode.labels(r.id, m).set(m === r.mode ? 1 : 0);
      this.percent.labels(r.id).set(r.percent);
    }
    for (const id of this.knownRoutes) {
      if (now.has(id)) continue;
      for (const m of ROUTE_MODES) this.mode.remove(id, m);
      this.percent.remove(id);
    }
    this.knownRoutes = now;
  }
}
