import { GuardState } from './index';

// The guard trips strictly above each threshold, counts every outcome in the rates, and names
// its window the way the route table writes durations.

const fixedClock = () => 0;
function guardWith(counts: { ok?: number; error?: number; mismatch?: number }, config: Partial<ConstructorParameters<typeof GuardState>[0]> = {}) {
  const g = new GuardState({ maxErrorRate: 0.05, maxMismatchRate: 0.1, windowMs: 30_000, minRequests: 10, ...config }, { now: fixedClock });
  for (const outcome of ['ok', 'error', 'mismatch'] as const) for (let i = 0; i < (counts[outcome] ?? 0); i++) g.record(outcome);
  return g;
}

describe('GuardState thresholds', () => {
  it('does not trip at exactly the mismatch threshold, and trips just above it', () => {
    expect(guardWith({ ok: 90, mismatch: 10 }).evaluate().trip).toBe(false);
    expect(guardWith({ ok: 89, mismatch: 11 }).evaluate()).toMatchObject({
      trip: true,
      reason: 'mismatch rate 11.0% > 10.0% over the last 30s (11 mismatches in 100 requests)',
    });
  });

  it('trips at exactly minRequests samples, not one fewer', () => {
    expect(guardWith({ error: 9 }).evaluate().trip).toBe(false);
    expect(guardWith({ error: 10 }).evaluate().trip).toBe(true);
  });

  it('reports the error rate before the mismatch rate when both are over', () => {
    const v = guardWith({ ok: 70, error: 10, mismatch: 20 }).evaluate();
    expect(v.trip && v.reason).toBe('error rate 10.0% > 5.0% over the last 30s (10 errors in 100 requests)');
  });

  it('counts mismatches in the total the error rate is a share of, and errors in the mismatch rate', () => {
    // 5 errors in 100 outcomes (50 of them mismatches) is 5%: not above 5%.
    expect(guardWith({ ok: 45, error: 5, mismatch: 50 }, { maxMismatchRate: undefined }).evaluate().trip).toBe(false);
    // 10 mismatches in 100 outcomes (5 of them errors) is 10%: not above 10%.
    expect(guardWith({ ok: 85, error: 5, mismatch: 10 }).evaluate().trip).toBe(false);
  });

  it('reports zero rates, not NaN, without samples', () => {
    expect(guardWith({}).stats()).toEqual({ ok: 0, error: 0, mismatch: 0, total: 0, errorRate: 0, mismatchRate: 0 });
  });

  it.each([
    [3_600_000, '1h'],
    [7_200_000, '2h'],
    [120_000, '2m'],
    [90_000, '90s'],
    [1_500, '1500ms'],
  ])('names a window of %i ms "%s"', (windowMs, text) => {
    const v = guardWith({ error: 10 }, { windowMs }).evaluate();
    expect(v.trip && v.reason).toBe(`error rate 100.0% > 5.0% over the last ${text} (10 errors in 10 requests)`);
  });
});
