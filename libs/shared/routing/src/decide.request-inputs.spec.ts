import { decide, stickyBucket, stickyKeyOf } from './index';
import { canaryRoute as route } from './table.fixtures';

// How decide reads the request: repeated headers, empty ids, ids on the lists, and the
// fallback of a canary decision.

describe('decide: what it reads from the request', () => {
  it('takes the first value of a repeated force header', () => {
    const r = route({ percent: 0 });
    expect(decide(r, { method: 'GET', operator: true, headers: { 'x-carve-target': ['service', 'monolith'] } })).toMatchObject({ primary: 'service', reason: 'forced' });
    expect(decide(r, { method: 'GET', operator: true, headers: { 'x-carve-target': ['monolith', 'service'] } })).toMatchObject({ primary: 'monolith', upstream: 'monolith', reason: 'forced' });
  });

  it('treats an empty user id or header value as no sticky key', () => {
    expect(decide(route({ percent: 100, stickyBy: 'user' }), { method: 'GET', tenantId: 't', userId: '' })).toMatchObject({ reason: 'no-sticky-key' });
    expect(decide(route({ percent: 100, stickyBy: 'header:x-session' }), { method: 'GET', headers: { 'x-session': '' } })).toMatchObject({ reason: 'no-sticky-key' });
    expect(stickyKeyOf(route({ stickyBy: 'none' }), { method: 'GET', tenantId: 't' })).toBeUndefined();
    expect(stickyKeyOf(route({ stickyBy: 'tenant' }), { method: 'GET', tenantId: 't', userId: 'u' })).toBe('t');
    expect(stickyKeyOf(route({ stickyBy: 'user' }), { method: 'GET', tenantId: 't', userId: 'u' })).toBe('u');
  });

  it('finds a user on the lists without a tenant, and ignores empty ids', () => {
    const r = route({ percent: 0, allow: ['u-allowed'], deny: ['u-denied'] });
    expect(decide(r, { method: 'GET', userId: 'u-allowed' })).toMatchObject({ primary: 'service', reason: 'allow-list' });
    expect(decide(route({ percent: 100, deny: ['u-denied'] }), { method: 'GET', tenantId: 't', userId: 'u-denied' })).toMatchObject({ primary: 'monolith', reason: 'deny-list' });
    expect(decide(route({ percent: 0, allow: ['x'] }), { method: 'GET', tenantId: '', userId: '' }).reason).toBe('no-sticky-key');
  });

  it('lets a canary decision fall back to the monolith for reads answered by the service only', () => {
    const tenants = Array.from({ length: 200 }, (_, i) => `tenant-${i}`);
    const inside = tenants.find((t) => stickyBucket('insights', t) < 5000)!;
    const outside = tenants.find((t) => stickyBucket('insights', t) >= 5000)!;
    expect(decide(route(), { method: 'GET', tenantId: inside })).toMatchObject({ primary: 'service', upstream: 'insights', fallback: true });
    expect(decide(route(), { method: 'POST', tenantId: inside })).toMatchObject({ primary: 'service', fallback: false });
    expect(decide(route(), { method: 'GET', tenantId: outside })).toMatchObject({ primary: 'monolith', upstream: 'monolith', fallback: false });
    expect(decide(route({ fallback: false }), { method: 'GET', tenantId: inside })).toMatchObject({ primary: 'service', fallback: false });
  });

  it('leaves an operator request that forces no side to the route, with or without headers', () => {
    const r = route({ mode: 'service', percent: undefined });
    expect(decide(r, { method: 'GET', operator: true })).toMatchObject({ primary: 'service', reason: 'mode-service' });
    expect(decide(r, { method: 'GET', operator: true, force: null, headers: { 'x-other': 'monolith' } })).toMatchObject({ primary: 'service', reason: 'mode-service' });
  });
});
