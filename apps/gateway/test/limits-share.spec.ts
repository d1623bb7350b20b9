/**
 * The per-tenant rates of one worker among N (CARVE_GATEWAY_WORKERS, buckets in process): each
 * worker's buckets hold 1/N of the rate and of the burst, gateway-wide and per route, and never
 * less than one token.
 */
import type { Route } from '@carve/shared-routing';
import { LocalBuckets } from '../src/limits/rate-store';
import { TenantLimiter } from '../src/limits/tenant-limiter';

function limiter(limits: { ratePerSecond: number; burst?: number }, share: number) {
  let now = 0;
  const l = new TenantLimiter({ concurrency: 0, ...limits }, new LocalBuckets(1000, () => now), share);
  return { l, advance: (ms: number) => (now += ms) };
}

/** How many of `n` requests at one instant the limiter lets through. */
const allowed = (l: TenantLimiter, n: number, route: Route | null = null) => Array.from({ length: n }, () => l.rate('t:ws', route)).filter((w) => w === 0).length;

describe('per-tenant rate limits shared by workers', () => {
  it('gives each of 2 workers half the burst and half the rate, gateway-wide', () => {
    const one = limiter({ ratePerSecond: 10, burst: 20 }, 1);
    const half = limiter({ ratePerSecond: 10, burst: 20 }, 2);
    expect([allowed(one.l, 50), allowed(half.l, 50)]).toEqual([20, 10]);
    one.advance(1000);
    half.advance(1000);
    expect([allowed(one.l, 50), allowed(half.l, 50)]).toEqual([10, 5]);
  });

  it("divides a route's own rate and burst (its default burst: one second of the rate)", () => {
    const route = { id: 'r', limits: { ratePerSecond: 8 } } as unknown as Route;
    const half = limiter({ ratePerSecond: 0 }, 2);
    expect(allowed(half.l, 20, route)).toBe(4);
    half.advance(500);
    expect(allowed(half.l, 20, route)).toBe(2);
  });

  it('keeps at least one token per bucket, and refuses a share that is not a positive integer', () => {
    const many = limiter({ ratePerSecond: 1, burst: 2 }, 4);
    expect(allowed(many.l, 5)).toBe(1);
    expect(() => new TenantLimiter({ concurrency: 0, ratePerSecond: 1 }, new LocalBuckets(), 0)).toThrow('rateShare must be a positive integer, got 0');
  });
});
