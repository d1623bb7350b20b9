/**
 * Per-tenant limits at the proxy, checked after the token and the route match and before the
 * body is read or anything is sent upstream:
 *
 * - Concurrency (this replica): requests of one tenant in flight at once, gateway-wide
 *   (CARVE_TENANT_CONCURRENCY) and per route where the route table says (`limits.concurrency`).
 *   Over it: 429 `too_many_in_flight`, Retry-After 1.
 * - Rate (token bucket): gateway-wide (CARVE_TENANT_RATE_PER_SECOND / _BURST) and per route
 *   (`limits.ratePerSecond` / `burst`), in the rate store (this process, or Redis shared by the
 *   replicas: rate-store.ts). Over it: 429 `rate_limited`, Retry-After the seconds until a token.
 *
 * The tenant is the token's workspace; a request without a token (outside /api/, public
 * paths) is counted by its client address.
 *
 * With N workers (CARVE_GATEWAY_WORKERS) and no shared rate store, each worker's buckets hold
 * 1/N of every rate and burst (`rateShare` N; a bucket holds at least one token), so the
 * process as a whole allows the configured rate. The concurrency limits stay per worker.
 */
import { ProblemError } from '@carve/shared-http';
import type { Route } from '@carve/shared-routing';
import type { RateStore } from './rate-store';

export interface TenantLimits {
  /** In flight per tenant on this replica (0: no limit). */
  readonly concurrency: number;
  /** Token bucket refill per tenant, requests per second (0: no limit). */
  readonly ratePerSecond: number;
  /** Token bucket size (default: one second of the rate, at least 1). */
  readonly burst?: number;
}

/** A 429 with its Retry-After (seconds). */
export class LimitedError extends ProblemError {
  constructor(
    code: 'rate_limited' | 'too_many_in_flight',
    detail: string,
    readonly retryAfterSec: number,
  ) {
    super(429, code, detail);
  }
}

const GLOBAL = '*';

export class TenantLimiter {
  private readonly inFlight = new Map<string, number>();

  /**
   * @param rateShare what every rate and burst is divided by: the number of workers sharing this
   *   process's limits through buckets of their own (1 with a shared store, or one worker).
   */
  constructor(
    private readonly limits: TenantLimits,
    readonly store: RateStore,
    private readonly rateShare = 1,
  ) {
    if (!(Number.isInteger(rateShare) && rateShare >= 1)) throw new Error(`rateShare must be a positive integer, got ${rateShare}`);
  }

  /** The key of a request's tenant. */
  static tenantKey(workspaceId: string | undefined, clientIp: string | undefined): string {
    return workspaceId !== undefined ? `t:${workspaceId}` : `ip:${clientIp ?? '?'}`;
  }

  /**
   * Takes the concurrency slots of a request: a release function (call it once, when the
   * response is over), or throws LimitedError.
   */
  enter(tenant: string, route: Route | null): (() => void) | null {
    const global = this.limits.concurrency;
    const own = route?.limits?.concurrency ?? 0;
    if (global <= 0 && own <= 0) return null;
    const gk = GLOBAL + tenant;
    const rk = own > 0 ? `${route!.id}|${tenant}` : '';
    const g = this.inFlight.get(gk) ?? 0;
    if (global > 0 && g >= global) {
      throw new LimitedError('too_many_in_flight', `This tenant already has ${g} requests in flight at the gateway (limit ${global}).`, 1);
    }
    const r = rk ? (this.inFlight.get(rk) ?? 0) : 0;
    if (rk && r >= own) {
      throw new LimitedError('too_many_in_flight', `This tenant already has ${r} requests in flight on route ${route!.id} (limit ${own}).`, 1);
    }
    this.inFlight.set(gk, g + 1);
    if (rk) this.inFlight.set(rk, r + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.dec(gk);
      if (rk) this.dec(rk);
    };
  }

  /**
   * Spends the request's rate tokens: 0 to go, else the ms until it may (sync with the local
   * store, a promise with a shared one).
   */
  rate(tenant: string, route: Route | null): number | Promise<number> {
    const gRate = this.limits.ratePerSecond;
    const rRate = route?.limits?.ratePerSecond ?? 0;
    if (gRate <= 0 && rRate <= 0) return 0;
    const store = this.store;
    const n = this.rateShare;
    const burstOf = (rate: number, burst: number | undefined) => Math.max(1, (burst ?? Math.max(1, Math.ceil(rate))) / n);
    const routeTake = () => (rRate > 0 ? store.take(`${route!.id}|${tenant}`, rRate / n, burstOf(rRate, route!.limits!.burst)) : 0);
    if (gRate <= 0) return routeTake();
    const first = store.take(GLOBAL + tenant, gRate / n, burstOf(gRate, this.limits.burst));
    if (typeof first === 'number') return first > 0 ? first : routeTake();
    return first.then((w) => (w > 0 ? w : routeTake()));
  }

  /** The 429 of a rate verdict. */
  static rateLimited(waitMs: number): LimitedError {
    const sec = Math.max(1, Math.ceil(waitMs / 1000));
    return new LimitedError('rate_limited', `Too many requests for this tenant; try again in ${sec} s.`, sec);
  }

  /** Tenants with requests in flight (tests, the admin API). */
  inFlightOf(tenant: string): number {
    return this.inFlight.get(GLOBAL + tenant) ?? 0;
  }

  private dec(key: string): void {
    const n = (this.inFlight.get(key) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(key);
    else this.inFlight.set(key, n);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
