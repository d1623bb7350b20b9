import { randomUUID } from 'node:crypto';
import {
  BUCKETS,
  decide,
  fmix32,
  fnv1a32,
  formatRouteTableErrors,
  percentThreshold,
  stickyBucket,
  validateRouteTable,
  type DecisionContext,
  type Route,
  type RouteDoc,
} from './index';

function route(doc: Partial<RouteDoc> = {}): Route {
  const result = validateRouteTable({
    upstreams: { monolith: { url: 'http://m' }, insights: { url: 'http://i' }, roadmaps: { url: 'http://r' } },
    default: 'monolith',
    routes: [{ id: 'r', match: { path: '/x' }, target: 'insights', mode: 'canary', percent: 30, ...doc }],
  });
  if (!result.ok) throw new Error(formatRouteTableErrors(result.errors));
  return result.table.routes[0];
}

const get = (ctx: Partial<DecisionContext> = {}): DecisionContext => ({ method: 'GET', ...ctx });
const tenants = Array.from({ length: 10_000 }, () => randomUUID());
const onService = (r: Route, ids: readonly string[]) => ids.filter((tenantId) => decide(r, get({ tenantId })).primary === 'service');

describe('the sticky hash', () => {
  it('is 32-bit FNV-1a over UTF-8 (reference vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // Multi-byte characters hash as their UTF-8 bytes.
    const bytesHash = (s: string) => {
      let h = 0x811c9dc5;
      for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      return h;
    };
    for (const s of ['é', 'Zürich', '東京', '😀 tenant', 'a\ud800b']) expect(fnv1a32(s)).toBe(bytesHash(s));
  });

  it('finishes with fmix32 and lands in 0..9999', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    for (const t of tenants.slice(0, 1000)) {
      const b = stickyBucket('insights', t);
      expect(Number.isInteger(b) && b >= 0 && b < BUCKETS).toBe(true);
    }
  });

  it('spreads sequential ids evenly (the reason for the finaliser)', () => {
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 10_000; i++) counts[Math.floor(stickyBucket('insights', `tenant-${i}`) / 1000)]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(100);
  });

  it('turns a percent into a bucket threshold in steps of 0.01', () => {
    expect([0, 0.01, 12.345, 30, 100].map(percentThreshold)).toEqual([0, 1, 1235, 3000, 10_000]);
  });
});

describe('decide: canary', () => {
  it('sends 30% of 10,000 random tenants to the service, within 3 points', () => {
    const share = onService(route({ percent: 30 }), tenants).length / tenants.length;
    expect(Math.abs(share - 0.3)).toBeLessThan(0.03);
  });

  it.each([1, 5, 50, 95])('holds other percents too (%i%%)', (percent) => {
    const share = onService(route({ percent }), tenants).length / tenants.length;
    expect(Math.abs(share - percent / 100)).toBeLessThan(0.03);
  });

  it('sends nobody at 0% and everybody at 100%', () => {
    expect(onService(route({ percent: 0 }), tenants)).toHaveLength(0);
    expect(onService(route({ percent: 100 }), tenants)).toHaveLength(tenants.length);
  });

  it('is sticky: a tenant lands on the same side on every call, and in a fresh route object', () => {
    const r = route({ percent: 30 });
    const first = tenants.map((tenantId) => decide(r, get({ tenantId })).primary);
    for (let round = 0; round < 3; round++) {
      const again = route({ percent: 30 });
      expect(tenants.map((tenantId) => decide(again, get({ tenantId, userId: randomUUID() })).primary)).toEqual(first);
    }
  });

  it('is monotonic: raising the percent only adds tenants', () => {
    const at20 = onService(route({ percent: 20 }), tenants);
    const at40 = new Set(onService(route({ percent: 40 }), tenants));
    expect(at20.length).toBeGreaterThan(1500);
    expect(at20.filter((t) => !at40.has(t))).toEqual([]);
    expect(at40.size).toBeGreaterThan(at20.length + 1500);
    // And at every step on the way up.
    let previous = new Set<string>();
    for (let percent = 0; percent <= 100; percent += 10) {
      const now = new Set(onService(route({ percent }), tenants));
      expect([...previous].filter((t) => !now.has(t))).toEqual([]);
      previous = now;
    }
  });

  it('moves a tenant on every route of one cohort together (the cohort defaults to the target)', () => {
    const a = onService(route({ id: 'notes', percent: 30 }), tenants);
    const b = onService(route({ id: 'customers', match: { path: '/y' }, percent: 30 }), tenants);
    expect(b).toEqual(a);
  });

  it('starts with different tenants on another cohort', () => {
    const insights = new Set(onService(route({ percent: 30 }), tenants));
    const roadmaps = onService(route({ target: 'roadmaps', percent: 30 }), tenants);
    const both = roadmaps.filter((t) => insights.has(t)).length / tenants.length;
    expect(Math.abs(both - 0.09)).toBeLessThan(0.02); // independent: 30% of 30%
    expect(onService(route({ target: 'roadmaps', cohort: 'insights', percent: 30 }), tenants)).toEqual([...insights]);
  });

  it('deny beats allow beats the bucket, for tenant or user ids', () => {
    const [inside, outside] = [tenants.find((t) => stickyBucket('insights', t) < 3000)!, tenants.find((t) => stickyBucket('insights', t) >= 3000)!];
    const r = route({ percent: 30, allow: [outside, 'user-allowed', 'both'], deny: [inside, 'user-denied'] });
    expect(decide(r, get({ tenantId: inside }))).toMatchObject({ primary: 'monolith', reason: 'deny-list' });
    expect(decide(r, get({ tenantId: outside }))).toMatchObject({ primary: 'service', reason: 'allow-list' });
    expect(decide(r, get({ tenantId: 'x', userId: 'user-allowed' }))).toMatchObject({ primary: 'service', reason: 'allow-list' });
    expect(decide(r, get({ tenantId: outside, userId: 'user-denied' }))).toMatchObject({ primary: 'monolith', reason: 'deny-list' });
    expect(decide(route({ percent: 100, deny: ['t'] }), get({ tenantId: 't' })).primary).toBe('monolith');
    expect(decide(route({ percent: 0, allow: ['t'] }), get({ tenantId: 't' })).primary).toBe('service');
  });

  it('reports the bucket and why', () => {
    const r = route({ percent: 30 });
    const d = decide(r, get({ tenantId: 'w1' }));
    expect(d.bucket).toBe(stickyBucket('insights', 'w1'));
    expect(d.reason).toBe(d.bucket! < 3000 ? 'canary-in' : 'canary-out');
    expect(d.upstream).toBe(d.primary === 'service' ? 'insights' : 'monolith');
  });

  it('keeps a request without a sticky key on the monolith', () => {
    expect(decide(route({ percent: 100 }), get())).toMatchObject({ primary: 'monolith', reason: 'no-sticky-key' });
    expect(decide(route({ percent: 100 }), get({ tenantId: '' }))).toMatchObject({ primary: 'monolith', reason: 'no-sticky-key' });
    expect(decide(route({ percent: 100, stickyBy: 'header:x-session' }), get({ tenantId: 't' })).reason).toBe('no-sticky-key');
  });

  it('sticks by user when asked', () => {
    const r = route({ percent: 30, stickyBy: 'user' });
    const users = tenants.slice(0, 2000);
    const sides = users.map((userId) => decide(r, get({ userId, tenantId: 'same-tenant' })).primary);
    expect(new Set(sides)).toEqual(new Set(['service', 'monolith'])); // not the tenant's single bucket
    expect(users.map((userId) => decide(r, get({ userId, tenantId: randomUUID() })).primary)).toEqual(sides);
  });

  it('sticks by a header value when asked (the first, if repeated)', () => {
    const r = route({ percent: 30, stickyBy: 'header:X-Session' });
    const values = tenants.slice(0, 2000);
    const sides = values.map((v) => decide(r, get({ headers: { 'x-session': v } })).primary);
    expect(values.map((v) => decide(r, get({ headers: { 'x-session': [v, 'other'] } })).primary)).toEqual(sides);
    expect(values.map((v) => stickyBucket('insights', v) < 3000)).toEqual(sides.map((s) => s === 'service'));
  });

  it('draws a random bucket per request with stickyBy none', () => {
    const r = route({ percent: 30, stickyBy: 'none' });
    expect(decide(r, get({ tenantId: 't', random: () => 0.2999 }))).toMatchObject({ primary: 'service', bucket: 2999 });
    expect(decide(r, get({ tenantId: 't', random: () => 0.3 }))).toMatchObject({ primary: 'monolith', bucket: 3000 });
    const share = Array.from({ length: 10_000 }, () => decide(r, get())).filter((d) => d.primary === 'service').length / 10_000;
    expect(Math.abs(share - 0.3)).toBeLessThan(0.03);
  });
});

describe('decide: modes', () => {
  it('monolith and service modes send everything to one side', () => {
    expect(decide(route({ mode: 'monolith', percent: undefined }), get({ tenantId: 't' }))).toEqual({
      primary: 'monolith',
      upstream: 'monolith',
      shadow: false,
      fallback: false,
      reason: 'mode-monolith',
    });
    expect(decide(route({ mode: 'service', percent: undefined }), get({ tenantId: 't' }))).toEqual({
      primary: 'service',
      upstream: 'insights',
      shadow: false,
      fallback: true,
      reason: 'mode-service',
    });
  });

  it('shadow mode: the monolith answers, GET and HEAD are copied, writes never', () => {
    const r = route({ mode: 'shadow', percent: undefined });
    for (const method of ['GET', 'HEAD', 'get']) {
      expect(decide(r, { method, tenantId: 't' })).toMatchObject({ primary: 'monolith', upstream: 'monolith', shadow: true, reason: 'shadow' });
    }
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      expect(decide(r, { method, tenantId: 't' })).toMatchObject({ primary: 'monolith', shadow: false, reason: 'shadow-unsafe-method' });
    }
  });

  it('shadow mode samples at compare.sample', () => {
    const r = route({ mode: 'shadow', percent: undefined, compare: { sample: 0.25 } });
    expect(decide(r, get({ random: () => 0.2 }))).toMatchObject({ shadow: true, reason: 'shadow' });
    expect(decide(r, get({ random: () => 0.25 }))).toMatchObject({ shadow: false, reason: 'shadow-not-sampled' });
    const share = Array.from({ length: 10_000 }, () => decide(r, get())).filter((d) => d.shadow).length / 10_000;
    expect(Math.abs(share - 0.25)).toBeLessThan(0.03);
    const never = route({ mode: 'shadow', percent: undefined, compare: { sample: 0 } });
    expect(decide(never, get({ random: () => 0 })).shadow).toBe(false);
  });

  it('allows fallback only for GET, HEAD and OPTIONS answered by the service, and only when the route allows it', () => {
    const r = route({ mode: 'service', percent: undefined });
    expect(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'].map((method) => decide(r, { method }).fallback)).toEqual([
      true, true, true, false, false, false, false,
    ]);
    expect(decide(route({ mode: 'service', percent: undefined, fallback: false }), get()).fallback).toBe(false);
    expect(decide(route({ mode: 'monolith', percent: undefined }), get()).fallback).toBe(false);
  });
});

describe('decide: the force header', () => {
  const r = route({ percent: 0, deny: ['t'] });

  it('is honoured for a token with the operator claim, in any mode, over deny lists, with no shadow copy', () => {
    expect(decide(r, get({ tenantId: 't', operator: true, headers: { 'x-carve-target': 'service' } }))).toMatchObject({ primary: 'service', reason: 'forced' });
    expect(decide(route({ percent: 100 }), get({ tenantId: 't', operator: true, headers: { 'x-carve-target': 'monolith' } }))).toMatchObject({
      primary: 'monolith',
      reason: 'forced',
    });
    expect(decide(route({ mode: 'monolith', percent: undefined }), get({ operator: true, force: 'service' }))).toMatchObject({ primary: 'service', upstream: 'insights' });
    expect(decide(route({ mode: 'shadow', percent: undefined }), get({ operator: true, force: 'Service ' }))).toMatchObject({ primary: 'service', shadow: false });
  });

  it('is ignored without the claim, whatever the customer role (admin included): the route decides', () => {
    for (const role of [undefined, null, 'admin', 'maker', 'viewer', 'Admin']) {
      expect(decide(r, get({ tenantId: 'u', role, headers: { 'x-carve-target': 'service' } }))).toMatchObject({ primary: 'monolith', reason: 'canary-out' });
      expect(decide(r, get({ tenantId: 'u', role, force: 'service' })).primary).toBe('monolith');
      expect(decide(r, get({ tenantId: 'u', role, operator: false, force: 'service' })).primary).toBe('monolith');
    }
    // A write on a route the service owns stays on the service when an admin asks for the monolith.
    const write = route({ mode: 'service', percent: undefined });
    expect(decide(write, { method: 'POST', tenantId: 'u', role: 'admin', headers: { 'x-carve-target': 'monolith' } })).toMatchObject({ primary: 'service', reason: 'mode-service' });
  });

  it('ignores values other than service and monolith', () => {
    expect(decide(r, get({ tenantId: 'u', operator: true, headers: { 'x-carve-target': 'insights' } })).reason).toBe('canary-out');
  });

  it('prefers ctx.force over the header', () => {
    expect(decide(r, get({ operator: true, force: 'monolith', headers: { 'x-carve-target': 'service' } })).primary).toBe('monolith');
  });
});
