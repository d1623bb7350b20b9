/**
 * The verified-token cache: a hit skips verification, a token is remembered only until its own
 * `exp`, failures are never remembered, and the cache is a bounded LRU.
 */
import type { Identity, TokenVerifier } from '@carve/shared-http';
import { cachedVerifier } from '../src/edge/identity';

/** A JWT-shaped token (only its payload matters to the cache). */
const jwt = (name: string, exp?: number) =>
  `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: name, ...(exp !== undefined ? { exp } : {}) })).toString('base64url')}.sig-${name}`;

function counting(fail: (token: string) => Error | null = () => null) {
  const calls: string[] = [];
  const verify: TokenVerifier = (token) => {
    calls.push(token);
    const err = fail(token);
    if (err) throw err;
    return { userId: token.slice(-6), workspaceId: 'ws-1', role: 'maker' } satisfies Identity;
  };
  return { verify, calls };
}

describe('cachedVerifier', () => {
  it('verifies a token once and answers the same identity from the cache', () => {
    const { verify, calls } = counting();
    const cached = cachedVerifier(verify, 10, () => 1_000_000);
    const t = jwt('alice', 2000);
    const first = cached(t);
    expect(cached(t)).toEqual(first);
    expect(cached(t)).toEqual(first);
    expect(calls).toEqual([t]);
  });

  it('forgets a token at its exp: the next use is verified again (and may fail then)', () => {
    let now = 1_000_000;
    let expired = false;
    const { verify, calls } = counting(() => (expired ? new Error('expired') : null));
    const cached = cachedVerifier(verify, 10, () => now);
    const t = jwt('bob', 1005); // exp 1005 s = 1_005_000 ms
    cached(t);
    now = 1_004_999;
    cached(t);
    expect(calls).toHaveLength(1);
    now = 1_005_000;
    expired = true;
    expect(() => cached(t)).toThrow('expired');
    expect(calls).toHaveLength(2);
  });

  it('remembers a token without exp for at most 10 minutes', () => {
    let now = 0;
    const { verify, calls } = counting();
    const cached = cachedVerifier(verify, 10, () => now);
    const t = jwt('no-exp');
    cached(t);
    now = 599_999;
    cached(t);
    expect(calls).toHaveLength(1);
    now = 600_000;
    cached(t);
    expect(calls).toHaveLength(2);
  });

  it('never remembers a failure', () => {
    const { verify, calls } = counting(() => new Error('forged'));
    const cached = cachedVerifier(verify, 10, () => 0);
    const t = jwt('mallory', 9_999_999);
    expect(() => cached(t)).toThrow('forged');
    expect(() => cached(t)).toThrow('forged');
    expect(calls).toHaveLength(2);
  });

  it('is bounded, and forgets the least recently used token first', () => {
    const { verify, calls } = counting();
    const cached = cachedVerifier(verify, 2, () => 0);
    const [a, b, c] = [jwt('aaaaaa', 100), jwt('bbbbbb', 100), jwt('cccccc', 100)];
    cached(a);
    cached(b);
    cached(a); // a is now the most recently used
    cached(c); // evicts b
    expect(calls).toEqual([a, b, c]);
    cached(a);
    expect(calls).toEqual([a, b, c]);
    cached(b);
    expect(calls).toEqual([a, b, c, b]);
  });
});
