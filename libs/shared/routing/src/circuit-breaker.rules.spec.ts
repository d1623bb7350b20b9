import { CircuitBreaker, type BreakerState } from './index';

// The breaker's rules one at a time: what opens it, what it ignores, and its defaults.

function setup(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  let t = 0;
  const changes: Array<[BreakerState, BreakerState, string]> = [];
  const breaker = new CircuitBreaker({ now: () => t, onStateChange: (...c) => changes.push(c), ...options });
  return { breaker, changes, advance: (ms: number) => (t += ms) };
}

const times = (n: number, f: () => void) => {
  for (let i = 0; i < n; i++) f();
};

describe('CircuitBreaker failure rate', () => {
  const rate = { failureThreshold: 100, failureRate: { threshold: 0.6, minRequests: 4, windowMs: 60_000 } };

  it('counts successes in the window: a few failures among many successes stay below the rate', () => {
    const { breaker } = setup(rate);
    times(10, () => breaker.onSuccess());
    times(4, () => breaker.onFailure()); // 4 of 14 = 29%
    expect(breaker.state).toBe('closed');
    times(11, () => breaker.onFailure()); // 15 of 25 = 60%
    expect(breaker.snapshot()).toMatchObject({ state: 'open', reason: 'failure rate 60.0% (15 of 25) reached 60.0%' });
  });

  it('does not open below the rate once minRequests is reached', () => {
    const { breaker } = setup(rate);
    breaker.onSuccess();
    breaker.onSuccess();
    breaker.onFailure();
    breaker.onSuccess(); // 1 of 4 = 25%
    breaker.onFailure(); // 2 of 5 = 40%
    expect(breaker.state).toBe('closed');
  });

  it('waits for minRequests even when every request failed', () => {
    const { breaker } = setup(rate);
    times(3, () => breaker.onFailure());
    expect(breaker.state).toBe('closed');
    breaker.onFailure();
    expect(breaker.snapshot()).toMatchObject({ state: 'open', reason: 'failure rate 100.0% (4 of 4) reached 60.0%' });
  });

  it('starts the rate afresh after the probe closed the breaker', () => {
    const { breaker, advance } = setup({ ...rate, cooldownMs: 1_000 });
    times(4, () => breaker.onFailure());
    advance(1_000);
    expect(breaker.allowRequest()).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe('closed');
    // The four old failures are forgotten: three new ones are below minRequests.
    times(3, () => breaker.onFailure());
    expect(breaker.state).toBe('closed');
  });
});

describe('CircuitBreaker while open', () => {
  it('ignores a late failure: the cooldown is not restarted and the count does not grow', () => {
    const { breaker, advance, changes } = setup({ failureThreshold: 3, cooldownMs: 10_000 });
    times(3, () => breaker.onFailure());
    const opened = breaker.snapshot();
    advance(6_000);
    breaker.onFailure();
    expect(breaker.snapshot()).toEqual(opened);
    advance(4_000);
    expect(breaker.state).toBe('half-open');
    expect(changes.map(([from, to]) => `${from}->${to}`)).toEqual(['closed->open', 'open->half-open']);
  });

  it('ignores a late success: the failure count and the window keep what opened it', () => {
    const { breaker } = setup({ failureThreshold: 3, cooldownMs: 10_000 });
    times(3, () => breaker.onFailure());
    const opened = breaker.snapshot();
    breaker.onSuccess();
    expect(breaker.snapshot()).toEqual(opened);
    expect(breaker.snapshot().consecutiveFailures).toBe(3);
  });
});

describe('CircuitBreaker defaults and hand operations', () => {
  it('opens after 5 consecutive failures and stays open 10 s by default', () => {
    const { breaker, advance } = setup();
    times(4, () => breaker.onFailure());
    expect(breaker.state).toBe('closed');
    breaker.onFailure();
    expect(breaker.snapshot()).toMatchObject({ state: 'open', consecutiveFailures: 5, openedAt: 0, reason: '5 consecutive failures' });
    advance(9_999);
    expect(breaker.state).toBe('open');
    advance(1);
    expect(breaker.snapshot()).toMatchObject({ state: 'half-open', reason: 'cooldown of 10000ms elapsed' });
  });

  it('lets another probe through after one cooldown when the probe never reports (probeTimeoutMs defaults to cooldownMs)', () => {
    const { breaker, advance } = setup({ failureThreshold: 1, cooldownMs: 3_000 });
    breaker.onFailure();
    advance(3_000);
    expect(breaker.allowRequest()).toBe(true);
    advance(2_999);
    expect(breaker.allowRequest()).toBe(false);
    advance(1);
    expect(breaker.allowRequest()).toBe(true);
  });

  it('starts closed, with no failures, never opened, for the reason "initial"', () => {
    expect(setup().breaker.snapshot()).toEqual({ state: 'closed', consecutiveFailures: 0, openedAt: undefined, reason: 'initial' });
  });

  it('reports a state change only when the state changes', () => {
    const { breaker, changes } = setup({ failureThreshold: 1 });
    breaker.reset();
    breaker.trip();
    breaker.trip('again');
    breaker.reset();
    expect(changes).toEqual([
      ['closed', 'open', 'tripped by hand'],
      ['open', 'closed', 'reset by hand'],
    ]);
    expect(breaker.snapshot()).toEqual({ state: 'closed', consecutiveFailures: 0, openedAt: undefined, reason: 'reset by hand' });
  });

  it('a reset forgets the consecutive failures', () => {
    const { breaker } = setup({ failureThreshold: 3 });
    times(2, () => breaker.onFailure());
    breaker.reset();
    times(2, () => breaker.onFailure());
    expect(breaker.state).toBe('closed');
  });

  it('rejects a negative cooldown, and accepts zero', () => {
    expect(() => new CircuitBreaker({ cooldownMs: -1 })).toThrow('cooldownMs must not be negative, got -1');
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow('failureThreshold must be at least 1, got 0');
    expect(new CircuitBreaker({ cooldownMs: 0, failureThreshold: 1 }).state).toBe('closed');
  });

  it('works on the wall clock when no clock is given', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    const before = Date.now();
    breaker.onFailure();
    const { openedAt } = breaker.snapshot();
    expect(openedAt).toBeGreaterThanOrEqual(before);
    expect(openedAt).toBeLessThanOrEqual(Date.now());
  });
});
