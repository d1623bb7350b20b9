/** What the guard counts: failures of the upstream only (src/guard/outcome.ts). */
import { GuardState } from '@carve/shared-routing';
import { guardOutcome, hasRetryAfter, type ServiceResult } from '../src/guard/outcome';

describe('guard outcomes', () => {
  const answer = (status: number, retryAfter = false): ServiceResult => ({ kind: 'answer', status, retryAfter });

  it.each([
    ['a 200', answer(200), 'ok'],
    ['a 201', answer(201), 'ok'],
    ['a 304', answer(304), 'ok'],
    ['a 400 (malformed input, e.g. ?sort=constructor)', answer(400), 'ok'],
    ['a 404', answer(404), 'ok'],
    ['a 409 (not_source_of_truth, even with Retry-After)', answer(409, true), 'ok'],
    ['a 413 from the upstream', answer(413), 'ok'],
    ['a 429', answer(429, true), 'ok'],
    ['a 500', answer(500), 'error'],
    ['a 502', answer(502), 'error'],
    ['a 503 without Retry-After', answer(503), 'error'],
    ['a 504', answer(504), 'error'],
    ['a 500 with Retry-After (only a 503 is a shed)', answer(500, true), 'error'],
    ['a connection error', { kind: 'connect' } as ServiceResult, 'error'],
    ['a timeout', { kind: 'timeout' } as ServiceResult, 'error'],
    ['an open breaker', { kind: 'breaker-open' } as ServiceResult, 'error'],
  ])('counts %s as %s', (_what, result, expected) => {
    expect(guardOutcome(result)).toBe(expected);
  });

  it.each([
    ['a 503 with Retry-After (a deliberate shed: write_fenced)', answer(503, true)],
    ['a client that went away', { kind: 'client-gone' } as ServiceResult],
    ['a request body over the limit', { kind: 'body-too-large' } as ServiceResult],
  ])('does not count %s at all', (_what, result) => {
    expect(guardOutcome(result)).toBeNull();
  });

  it('finds Retry-After in a raw header list, whatever its case', () => {
    expect(hasRetryAfter(['content-type', 'application/problem+json', 'Retry-After', '1'])).toBe(true);
    expect(hasRetryAfter([Buffer.from('retry-after'), Buffer.from('2')])).toBe(true);
    expect(hasRetryAfter(['content-type', 'text/plain', 'x-retry-after-ish', '1'])).toBe(false);
    expect(hasRetryAfter(null)).toBe(false);
  });

  it('never trips on 60 answers of 400 or 60 sheds, and trips on upstream failures', () => {
    const config = { maxErrorRate: 0.05, windowMs: 30_000, minRequests: 50 };
    const state = new GuardState(config);
    const record = (r: ServiceResult) => {
      const o = guardOutcome(r);
      return o === null ? state.evaluate() : state.observe(o);
    };
    for (let i = 0; i < 60; i++) expect(record(answer(400)).trip).toBe(false);
    for (let i = 0; i < 60; i++) expect(record(answer(503, true)).trip).toBe(false);
    for (let i = 0; i < 60; i++) expect(record({ kind: 'client-gone' }).trip).toBe(false);
    expect(state.stats()).toMatchObject({ ok: 60, error: 0, total: 60 });
    let tripped = false;
    for (let i = 0; i < 10 && !tripped; i++) tripped = record(answer(502)).trip;
    expect(tripped).toBe(true);
  });
});
