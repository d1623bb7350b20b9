/** Durations as the route table writes them: `500ms`, `30s`, `5m`, `1h`. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds in a duration like `30s`, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^([1-9][0-9]*)(ms|s|m|h)$/.exec(text);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

export type Outcome = 'ok' | 'error' | 'mismatch';

export interface WindowCounts {
  readonly ok: number;
  readonly error: number;
  readonly mismatch: number;
  readonly total: number;
}

export interface SlidingWindowOptions {
  readonly windowMs: number;
  /** Bucket width; defaults to 1 second, widened so a window never has more than 600 buckets. */
  readonly bucketMs?: number;
  /** Clock, in milliseconds; injectable for tests. */
  readonly now?: () => number;
}

/**
 * Outcome counts over the last `windowMs`, kept in a ring of fixed-width buckets: recording and
 * reading cost O(1) amortised, and memory does not grow with traffic. The window moves one
 * bucket at a time, so it covers between `windowMs - bucketMs` and `windowMs` of history.
 * A clock that goes backwards counts into the newest bucket.
 */
export class SlidingWindowCounter {
  readonly windowMs: number;
  readonly bucketMs: number;
  private readonly now: () => number;
  private readonly size: number;
  private readonly ok: Float64Array;
  private readonly error: Float64Array;
  private readonly mismatch: Float64Array;
  private epoch = Number.NEGATIVE_INFINITY;
  private totals = { ok: 0, error: 0, mismatch: 0 };

  constructor(options: SlidingWindowOptions) {
    if (!(options.windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${options.windowMs}`);
    this.windowMs = options.windowMs;
    let bucketMs = Math.min(options.bucketMs ?? 1000, options.windowMs);
    if (!(bucketMs > 0)) throw new RangeError(`bucketMs must be positive, got ${options.bucketMs}`);
    if (options.windowMs / bucketMs > 600) bucketMs = Math.ceil(options.windowMs / 600);
    this.bucketMs = bucketMs;
    this.size = Math.ceil(options.windowMs / bucketMs);
    this.now = options.now ?? Date.now;
    this.ok = new Float64Array(this.size);
    this.error = new Float64Array(this.size);
    this.mismatch = new Float64Array(this.size);
  }

  record(outcome: Outcome, count = 1): void {
    const slot = this.advance();
    this[outcome][slot] += count;
    this.totals[outcome] += count;
  }

  counts(): WindowCounts {
    this.advance();
    const { ok, error, mismatch } = this.totals;
    return { ok, error, mismatch, total: ok + error + mismatch };
  }

  reset(): void {
    this.ok.fill(0);
    this.error.fill(0);
    this.mismatch.fill(0);
    this.totals = { ok: 0, error: 0, mismatch: 0 };
  }

  /** Expires buckets that left the window; returns the current bucket's slot. */
  private advance(): number {
    const epoch = Math.floor(this.now() / this.bucketMs);
    if (epoch > this.epoch) {
      const from = Math.max(this.epoch + 1, epoch - this.size + 1);
      if (epoch - this.epoch >= this.size) this.reset();
      else {
        for (let e = from; e <= epoch; e++) {
          const s = e % this.size;
          this.totals.ok -= this.ok[s];
          this.totals.error -= this.error[s];
          this.totals.mismatch -= this.mismatch[s];
          this.ok[s] = 0;
          this.error[s] = 0;
          this.mismatch[s] = 0;
        }
      }
      this.epoch = epoch;
    }
    return ((this.epoch % this.size) + this.size) % this.size;
  }
}
