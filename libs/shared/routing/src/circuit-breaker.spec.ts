import { CircuitBreaker, type BreakerState } from './index';

function setup(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  let t = 0;
  const changes: Array<[BreakerState, BreakerState, string]> = [];
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 10_000, now: () => t, onStateChange: (...c) => changes.push(c), ...options });
  return { breaker, changes, advance: (ms: number) => (t += ms) };
}

describe('CircuitBreaker', () => {
  it('starts closed and lets everything through', () => {
    const { breaker } = setup();
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 10; i++) expect(breaker.allowRequest()).toBe(true);
  });

  it('opens after N consecutive failures, and a success resets the count', () => {
    const { breaker, changes } = setup();
    breaker.onFailure();
    breaker.onFailure();
    breaker.onSuccess();
    breaker.onFailure();
    breaker.onFailure();
    expect(breaker.state).toBe('closed');
    breaker.onFailure();
    expect(breaker.state).toBe('open');
    expect(breaker.allowRequest()).toBe(false);
    expect(changes).toEqual([['closed', 'open', '3 consecutive failures']]);
  });

  it('goes half-open after the cooldown and lets exactly one probe through', () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i++) breaker.onFailure();
    advance(9_999);
    expect(breaker.allowRequest()).toBe(false);
    advance(1);
    expect(breaker.state).toBe('half-open');
    expect(breaker.allowRequest()).toBe(true);
    expect(breaker.allowRequest()).toBe(false);
    expect(breaker.allowRequest()).toBe(false);
  });

  it('closes when the probe succeeds', () => {
    const { breaker, advance, changes } = setup();
    for (let i = 0; i < 3; i++) breaker.onFailure();
    advance(10_000);
    expect(breaker.allowRequest()).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe('closed');
    expect(breaker.allowRequest()).toBe(true);
    expect(breaker.snapshot()).toEqual({ state: 'closed', consecutiveFailures: 0, openedAt: undefined, reason: 'probe succeeded' });
    expect(changes.map(([from, to]) => `${from}->${to}`)).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    // The failure count starts over.
    breaker.onFailure();
    breaker.onFailure();
    expect(breaker.state).toBe('closed');
  });

  it('opens again when the probe fails, for a full cooldown', () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i++) breaker.onFailure();
    advance(10_000);
    expect(breaker.allowRequest()).toBe(true);
    breaker.onFailure();
    expect(breaker.snapshot()).toMatchObject({ state: 'open', openedAt: 10_000, reason: 'probe failed' });
    advance(9_999);
    expect(breaker.allowRequest()).toBe(false);
    advance(1);
    expect(breaker.allowRequest()).toBe(true);
  });

  it('ignores outcomes reported while open', () => {
    const { breaker, advance } = setup();
    for (let i = 0; i < 3; i++) breaker.onFailure();
    breaker.onSuccess();
    expect(breaker.state).toBe('open');
    advance(10_000);
    expect(breaker.state).toBe('half-open');
  });

  it('allows another probe when one never reports back', () => {
    const { breaker, advance } = setup({ probeTimeoutMs: 2_000 });
    for (let i = 0; i < 3; i++) breaker.onFailure();
    advance(10_000);
    expect(breaker.allowRequest()).toBe(true);
    advance(1_999);
    expect(breaker.allowRequest()).toBe(false);
    advance(1);
    expect(breaker.allowRequest()).toBe(true);
  });

  it('can also open on a failure rate over a window', () => {
    const { breaker, advance } = setup({ failureThreshold: 100, failureRate: { threshold: 0.5, minRequests: 10, windowMs: 10_000 } });
    // Alternating outcomes never make 100 in a row, but are 50% failures.
    for (let i = 0; i < 8; i++) {
      if (i % 2) breaker.onFailure();
      else breaker.onSuccess();
    }
    expect(breaker.state).toBe('closed'); // fewer than minRequests
    breaker.onSuccess();
    breaker.onFailure();
    expect(breaker.snapshot()).toMatchObject({ state: 'open', reason: 'failure rate 50.0% (5 of 10) reached 50.0%' });
    // Old failures leave the window.
    advance(10_000);
    breaker.allowRequest();
    breaker.onSuccess();
    for (let i = 0; i < 4; i++) breaker.onFailure();
    expect(breaker.state).toBe('closed');
  });

  it('can be tripped and reset by hand', () => {
    const { breaker } = setup();
    breaker.trip('health check failed');
    expect(breaker.snapshot()).toMatchObject({ state: 'open', reason: 'health check failed' });
    breaker.reset();
    expect(breaker.state).toBe('closed');
  });

  it('rejects a threshold below one', () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError);
  });
});
