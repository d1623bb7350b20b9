import { SlidingWindowCounter, type Outcome, type WindowCounts } from './window';

export interface GuardConfig {
  readonly maxErrorRate: number;
  readonly maxMismatchRate?: number;
  readonly windowMs: number;
  readonly minRequests: number;
}

export interface GuardStats extends WindowCounts {
  readonly errorRate: number;
  readonly mismatchRate: number;
}

export type GuardVerdict =
  | { readonly trip: false; readonly stats: GuardStats }
  | { readonly trip: true; readonly reason: string; readonly stats: GuardStats };

export interface GuardStateOptions {
  readonly now?: () => number;
  readonly bucketMs?: number;
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

function windowText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * The automatic rollback rule of one route. Record exactly one outcome per request that reached
 * the service on this route: `ok`, `error` (connection error, timeout, 5xx) or, for a shadowed
 * request whose answer differed from the monolith's, `mismatch`. The rates are shares of all
 * recorded outcomes in the window. `evaluate` trips when there are at least `minRequests`
 * samples and the error rate exceeds `maxErrorRate`, or the mismatch rate exceeds
 * `maxMismatchRate` (when set). Equal to the threshold does not trip.
 */
export class GuardState {
  private readonly counter: SlidingWindowCounter;

  constructor(
    readonly config: GuardConfig,
    options: GuardStateOptions = {},
  ) {
    this.counter = new SlidingWindowCounter({ windowMs: config.windowMs, bucketMs: options.bucketMs, now: options.now });
  }

  record(outcome: Outcome): void {
    this.counter.record(outcome);
  }

  /** Records an outcome and evaluates in one call. */
  observe(outcome: Outcome): GuardVerdict {
    this.counter.record(outcome);
    return this.evaluate();
  }

  stats(): GuardStats {
    const c = this.counter.counts();
    return { ...c, errorRate: c.total ? c.error / c.total : 0, mismatchRate: c.total ? c.mismatch / c.total : 0 };
  }

  evaluate(): GuardVerdict {
    const stats = this.stats();
    const { maxErrorRate, maxMismatchRate, minRequests, windowMs } = this.config;
    if (stats.total < minRequests) return { trip: false, stats };
    const over = `over the last ${windowText(windowMs)}`;
    if (stats.errorRate > maxErrorRate) {
      return {
        trip: true,
        stats,
        reason: `error rate ${pct(stats.errorRate)} > ${pct(maxErrorRate)} ${over} (${stats.error} errors in ${stats.total} requests)`,
      };
    }
    const maxMismatch = maxMismatchRate ?? Number.POSITIVE_INFINITY; // unset: no mismatch rate trips
    if (stats.mismatchRate > maxMismatch) {
      return {
        trip: true,
        stats,
        reason: `mismatch rate ${pct(stats.mismatchRate)} > ${pct(maxMismatch)} ${over} (${stats.mismatch} mismatches in ${stats.total} requests)`,
      };
    }
    return { trip: false, stats };
  }

  /** Forgets every sample, e.g. after the route was rolled back or its mode changed. */
  reset(): void {
    this.counter.reset();
  }
}
