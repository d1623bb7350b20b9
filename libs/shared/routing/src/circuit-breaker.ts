import { SlidingWindowCounter } from './window';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  readonly failureThreshold?: number;
  /**
   * Optionally also open when, over `windowMs`, at least `minRequests` requests completed and
   * the share of failures reached `threshold` (0..1).
   */
  readonly failureRate?: { readonly threshold: number; readonly minRequests: number; readonly windowMs: number };
  /** How long the breaker stays open before one probe is let through. Default 10 s. */
  readonly cooldownMs?: number;
  /**
   * How long a probe may stay unanswered before another one is allowed (a probe whose outcome
   * is never reported must not keep the breaker half-open forever). Default: cooldownMs.
   */
  readonly probeTimeoutMs?: number;
  readonly now?: () => number;
  /** Called on every state change, e.g. to update a metric or write a log line. */
  readonly onStateChange?: (from: BreakerState, to: BreakerState, reason: string) => void;
}

export interface BreakerSnapshot {
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
  /** When the breaker last opened (ms), if it is open or half-open. */
  readonly openedAt?: number;
  /** Why it last changed state. */
  readonly reason: string;
}

/**
 * A circuit breaker for one upstream.
 *
 *   closed ──(failureThreshold consecutive failures, or failure rate)──► open
 *   open ──(cooldownMs elapsed; the next request is the probe)──► half-open
 *   half-open ──(probe succeeds)──► closed
 *   half-open ──(probe fails)──► open (cooldown starts again)
 *
 * Use: `if (breaker.allowRequest()) { send; breaker.onSuccess() or breaker.onFailure() }`,
 * otherwise answer from the monolith. In half-open only one request at a time is let through,
 * and the first outcome reported decides; outcomes reported while open are ignored. Keep
 * cooldownMs above the upstream timeout so that late outcomes of requests sent before the
 * breaker opened cannot be taken for the probe's.
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt: number | undefined;
  private probeSince: number | undefined;
  private why = 'initial';
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly probeTimeoutMs: number;
  private readonly now: () => number;
  private readonly window: SlidingWindowCounter | undefined;

  constructor(private readonly options: CircuitBreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? 5;
    this.cooldownMs = options.cooldownMs ?? 10_000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? this.cooldownMs;
    this.now = options.now ?? Date.now;
    if (!(this.threshold >= 1)) throw new RangeError(`failureThreshold must be at least 1, got ${this.threshold}`);
    if (!(this.cooldownMs >= 0)) throw new RangeError(`cooldownMs must not be negative, got ${this.cooldownMs}`);
    if (options.failureRate) this.window = new SlidingWindowCounter({ windowMs: options.failureRate.windowMs, now: this.now });
  }

  /** The state now (an open breaker whose cooldown has passed reads as half-open). */
  get state(): BreakerState {
    this.tick();
    return this.current;
  }

  snapshot(): BreakerSnapshot {
    this.tick();
    return { state: this.current, consecutiveFailures: this.consecutive, openedAt: this.openedAt, reason: this.why };
  }

  /** Whether to send this request to the upstream. In half-open, true reserves the single probe. */
  allowRequest(): boolean {
    this.tick();
    if (this.current === 'closed') return true;
    if (this.current === 'open') return false;
    const t = this.now();
    // Stryker disable next-line ConditionalExpression: equivalent for `probeSince !== undefined` (t - undefined is NaN: not below the timeout); the line's other mutants are killed
    if (this.probeSince !== undefined && t - this.probeSince < this.probeTimeoutMs) return false;
    this.probeSince = t;
    return true;
  }

  onSuccess(): void {
    this.tick();
    if (this.current === 'open') return;
    if (this.current === 'half-open') {
      this.close('probe succeeded');
      return;
    }
    this.consecutive = 0;
    this.window?.record('ok');
  }

  onFailure(): void {
    this.tick();
    if (this.current === 'open') return;
    if (this.current === 'half-open') {
      this.open('probe failed');
      return;
    }
    this.consecutive += 1;
    this.window?.record('error');
    if (this.consecutive >= this.threshold) {
      this.open(`${this.consecutive} consecutive failures`);
      return;
    }
    const rate = this.options.failureRate;
    // Stryker disable next-line LogicalOperator: equivalent, the window exists exactly when failureRate is set
    if (rate && this.window) {
      const c = this.window.counts();
      if (c.total >= rate.minRequests && c.error / c.total >= rate.threshold) {
        this.open(`failure rate ${((c.error / c.total) * 100).toFixed(1)}% (${c.error} of ${c.total}) reached ${(rate.threshold * 100).toFixed(1)}%`);
      }
    }
  }

  /** Opens the breaker by hand (e.g. the upstream's health check failed). */
  trip(reason = 'tripped by hand'): void {
    this.open(reason);
  }

  /** Closes the breaker by hand and forgets its history. */
  reset(reason = 'reset by hand'): void {
    this.close(reason);
  }

  private tick(): void {
    // Stryker disable next-line ConditionalExpression: equivalent for `openedAt !== undefined` (an open breaker always has it); the line's other mutants are killed
    if (this.current === 'open' && this.openedAt !== undefined && this.now() - this.openedAt >= this.cooldownMs) {
      this.probeSince = undefined;
      this.transition('half-open', `cooldown of ${this.cooldownMs}ms elapsed`);
    }
  }

  private open(reason: string): void {
    this.openedAt = this.now();
    this.probeSince = undefined;
    this.transition('open', reason);
  }

  private close(reason: string): void {
    this.consecutive = 0;
    this.openedAt = undefined;
    this.probeSince = undefined;
    this.window?.reset();
    this.transition('closed', reason);
  }

  private transition(to: BreakerState, reason: string): void {
    const from = this.current;
    this.current = to;
    this.why = reason;
    if (from !== to) this.options.onStateChange?.(from, to, reason);
  }
}
