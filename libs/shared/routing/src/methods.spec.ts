import { canFallback, canShadow, isIdempotentMethod, isSafeMethod } from './index';

const METHODS = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'POST', 'PATCH', 'CONNECT'];
const which = (f: (m: string) => boolean) => METHODS.filter(f);

describe('method rules', () => {
  it('retries on the monolith only GET, HEAD and OPTIONS (not PUT or DELETE, though idempotent)', () => {
    expect(which(canFallback)).toEqual(['GET', 'HEAD', 'OPTIONS']);
  });

  it('shadows only GET and HEAD', () => {
    expect(which(canShadow)).toEqual(['GET', 'HEAD']);
  });

  it('knows the RFC 9110 safe and idempotent methods', () => {
    expect(which(isSafeMethod)).toEqual(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
    expect(which(isIdempotentMethod)).toEqual(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
  });

  it('reads methods case-insensitively', () => {
    expect([canFallback('get'), canShadow('head'), canFallback('post')]).toEqual([true, true, false]);
  });
});
