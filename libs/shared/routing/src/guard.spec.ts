import { GuardState, parseDuration, SlidingWindowCounter, validateRouteTable } from './index';

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('parseDuration', () => {
  it('reads ms, s, m and h', () => {
    expect(['500ms', '30s', '5m', '1h'].map(parseDuration)).toEqual([500, 30_000, 300_000, 3_600_000]);
  });
  it.each(['', '30', '0s', '-1s', '1.5s', '30 s', '1d', 's'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('SlidingWindowCounter', () => {
  it('counts outcomes within the window and forgets them after it', () => {
    const c = clock();
    const w = new SlidingWindowCounter({ windowMs: 10_000, now: c.now });
    w.record('ok');
    w.record('error');
    c.advance(5_000);
    w.record('mismatch');
    w.record('ok', 2);
    expect(w.counts()).toEqual({ ok: 3, error: 1, mismatch: 1, total: 5 });
    c.advance(5_000); // the first second has left the window
    expect(w.counts()).toEqual({ ok: 2, error: 0, mismatch: 1, total: 3 });
    c.advance(4_999);
    expect(w.counts().total).toBe(3);
    c.advance(1);
    expect(w.counts()).toEqual({ ok: 0, error: 0, mismatch: 0, total: 0 });
  });

  it('keeps exact totals over many rotations and after a long silence', () => {
    const c = clock(0);
    const w = new SlidingWindowCounter({ windowMs: 3_000, now: c.now });
    for (let i = 0; i < 100; i++) {
      w.record(i % 3 === 0 ? 'error' : 'ok');
      c.advance(500);
    }
    // Now is 50.0 s: the window is the buckets of seconds 48, 49 and 50, which hold the records
    // made at 48.0, 48.5, 49.0 and 49.5 s (i = 96..99; 96 and 99 were errors).
    expect(w.counts()).toEqual({ ok: 2, error: 2, mismatch: 0, total: 4 });
    c.advance(3_600_000);
    expect(w.counts().total).toBe(0);
    w.record('ok');
    expect(w.counts().total).toBe(1);
  });

  it('counts into the newest bucket when the clock goes backwards', () => {
    const c = clock(10_000);
    const w = new SlidingWindowCounter({ windowMs: 2_000, now: c.now });
    w.record('ok');
    c.advance(-5_000);
    w.record('error');
    expect(w.counts()).toMatchObject({ ok: 1, error: 1 });
  });

  it('widens buckets so a long window stays small, and rejects nonsense', () => {
    expect(new SlidingWindowCounter({ windowMs: 3_600_000 }).bucketMs).toBe(6_000);
    expect(new SlidingWindowCounter({ windowMs: 30_000 }).bucketMs).toBe(1_000);
    expect(new SlidingWindowCounter({ windowMs: 500 }).bucketMs).toBe(500);
    expect(() => new SlidingWindowCounter({ windowMs: 0 })).toThrow(RangeError);
  });
});

describe('GuardState', () => {
  const config = { maxErrorRate: 0.05, maxMismatchRate: 0.1, windowMs: 30_000, minRequests: 50 };

  it('does not trip below minRequests, however bad', () => {
    const g = new GuardState(config, { now: clock().now });
    for (let i = 0; i < 49; i++) g.record('error');
    expect(g.evaluate()).toMatchObject({ trip: false, stats: { total: 49, error: 49, errorRate: 1 } });
    expect(g.observe('error')).toMatchObject({ trip: true });
  });

  it('trips when the error rate passes the threshold, with a reason', () => {
    const g = new GuardState(config, { now: clock().now });
    for (let i = 0; i < 95; i++) g.record('ok');
    for (let i = 0; i < 5; i++) g.record('error');
    expect(g.evaluate().trip).toBe(false); // exactly 5% is not above 5%
    const verdict = g.observe('error');
    expect(verdict).toEqual({
      trip: true,
      reason: 'error rate 5.9% > 5.0% over the last 30s (6 errors in 101 requests)',
      stats: { ok: 95, error: 6, mismatch: 0, total: 101, errorRate: 6 / 101, mismatchRate: 0 },
    });
  });

  it('trips on the mismatch rate when one is set', () => {
    const g = new GuardState(config, { now: clock().now });
    for (let i = 0; i < 80; i++) g.record('ok');
    for (let i = 0; i < 20; i++) g.record('mismatch');
    const v = g.evaluate();
    expect(v.trip && v.reason).toBe('mismatch rate 20.0% > 10.0% over the last 30s (20 mismatches in 100 requests)');
    const noMismatchLimit = new GuardState({ maxErrorRate: 0.05, windowMs: 30_000, minRequests: 50 }, { now: clock().now });
    for (let i = 0; i < 100; i++) noMismatchLimit.record('mismatch');
    expect(noMismatchLimit.evaluate().trip).toBe(false);
  });

  it('recovers as bad samples leave the window', () => {
    const c = clock();
    const g = new GuardState(config, { now: c.now });
    for (let i = 0; i < 60; i++) g.record('error');
    expect(g.evaluate().trip).toBe(true);
    c.advance(31_000);
    for (let i = 0; i < 60; i++) g.record('ok');
    expect(g.evaluate()).toMatchObject({ trip: false, stats: { total: 60, errorRate: 0 } });
  });

  it('forgets everything on reset', () => {
    const g = new GuardState(config, { now: clock().now });
    for (let i = 0; i < 60; i++) g.record('error');
    g.reset();
    expect(g.stats().total).toBe(0);
  });
});

describe('a guard from the route table', () => {
  it('takes route.guard as it is compiled', () => {
    const result = validateRouteTable({
      upstreams: { m: { url: 'http://m' }, s: { url: 'http://s' } },
      default: 'm',
      routes: [{ id: 'r', match: { path: '/x' }, target: 's', mode: 'service', guard: { maxErrorRate: 0.5, window: '10s', minRequests: 4 } }],
    });
    if (!result.ok) throw new Error('invalid');
    const c = clock();
    const g = new GuardState(result.table.routes[0].guard!, { now: c.now });
    ['ok', 'error', 'error', 'error'].forEach((o) => g.record(o as 'ok' | 'error'));
    expect(g.evaluate()).toMatchObject({ trip: true, reason: 'error rate 75.0% > 50.0% over the last 10s (3 errors in 4 requests)' });
  });
});
