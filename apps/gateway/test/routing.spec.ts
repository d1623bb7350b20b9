/**
 * Routing through the real gateway: canary distribution and stickiness, allow/deny, the force
 * header, identity (JWT, x-carve-* spoofing, workspace in the path), body limit and timeout.
 */
import nodeHttp from 'node:http';
import { Readable } from 'node:stream';
import { DEV_JWT_SECRET } from '@carve/shared-http';
import type { TestDatabase } from '@carve/shared-testing';
import { createSigner } from 'fast-jwt';
import type { RunningGateway } from '../src';
import { admin, gateway, http, pool, RouteFiles, testDatabase, token } from './support/harness';
import { TestUpstream } from './support/upstream';

describe('gateway routing', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let service: TestUpstream;
  let gw: RunningGateway;

  const table = (percent = 30) => `
upstreams:
  monolith: { url: ${monolith.url}, timeoutMs: 5000 }
  insights: { url: ${service.url}, timeoutMs: 5000 }
  # The monolith again, with the short timeout the 504 test waits out (the other routes' answers
  # may take seconds on a busy machine: one process serves the client, the gateway and both
  # upstreams).
  hasty: { url: ${monolith.url}, timeoutMs: 500 }
default: monolith
routes:
  - id: slow
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/slow }
    target: hasty
    mode: service
    fallback: false
  - id: notes-read
    match: { methods: [GET, HEAD], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: canary
    percent: ${percent}
    allow: [ws-allowed]
    deny: [ws-denied]
  - id: notes-write
    match: { methods: [POST, PUT, PATCH, DELETE], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
  - id: by-user
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/members/* }
    target: insights
    mode: canary
    percent: 50
    stickyBy: user
`;

  beforeAll(async () => {
    [db, monolith, service] = await Promise.all([testDatabase('gateway_routing'), TestUpstream.start('monolith'), TestUpstream.start('service')]);
    files = new RouteFiles();
    gw = await gateway(db, files.write(table()), { bodyLimitBytes: 4096 });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([monolith?.close(), service?.close()]);
    await db?.drop();
    files?.remove();
  });

  const notes = (tid: string) => `${gw.url}/api/v1/workspaces/${tid}/notes`;
  const who = async (tid: string, headers: Record<string, string> = {}) => {
    const r = await http(notes(tid), { headers: { authorization: `Bearer ${token(tid)}`, ...headers } });
    expect(r.status).toBe(200);
    return r.json.who as string;
  };

  it('sends the canary percent of 10,000 tenants to the service (within 3 points), each with its own token', async () => {
    const tenants = Array.from({ length: 10_000 }, (_, i) => `tenant-${i}`);
    const sides = await pool(tenants, 64, (t) => who(t));
    const onService = sides.filter((s) => s === 'service').length;
    expect(Math.abs((onService / tenants.length) * 100 - 30)).toBeLessThanOrEqual(3);
    expect(monolith.count() + service.count()).toBeGreaterThanOrEqual(10_000);

    // Sticky: the same tenants land on the same side again.
    const again = await pool(tenants.slice(0, 1000), 64, (t) => who(t));
    expect(again).toEqual(sides.slice(0, 1000));

    // Raising the percent only adds tenants: nobody on the service goes back.
    const raised = await admin(gw, 'PUT', '/admin/routes/notes-read', { mode: 'canary', percent: 60, reason: 'ramp up' });
    expect(raised.status).toBe(200);
    const after = await pool(tenants.slice(0, 2000), 64, (t) => who(t));
    after.forEach((side, i) => {
      if (sides[i] === 'service') expect(side).toBe('service');
    });
    const share = after.filter((s) => s === 'service').length / after.length;
    expect(Math.abs(share * 100 - 60)).toBeLessThanOrEqual(4);
    await admin(gw, 'DELETE', '/admin/routes/notes-read/override', { reason: 'back to the file' });
  }, 60_000);

  it('keeps deny-listed tenants on the monolith and allow-listed ones on the service', async () => {
    for (let i = 0; i < 5; i++) {
      expect(await who('ws-denied')).toBe('monolith');
      expect(await who('ws-allowed')).toBe('service');
    }
  });

  it('is sticky by user when the route says so', async () => {
    const first = await Promise.all(Array.from({ length: 40 }, (_, i) => http(`${gw.url}/api/v1/workspaces/ws-1/members`, { headers: { authorization: `Bearer ${token('ws-1', { sub: `u${i}` })}` } })));
    const again = await Promise.all(Array.from({ length: 40 }, (_, i) => http(`${gw.url}/api/v1/workspaces/ws-1/members`, { headers: { authorization: `Bearer ${token('ws-1', { sub: `u${i}` })}` } })));
    expect(again.map((r) => r.json.who)).toEqual(first.map((r) => r.json.who));
    expect(new Set(first.map((r) => r.json.who)).size).toBe(2); // 40 users at 50%: both sides
  });

  it('honours x-carve-target only for tokens with the operator claim (not a customer admin), and never forwards it', async () => {
    const tid = 'ws-denied'; // always monolith unless forced
    const operatorTok = token(tid, { role: 'maker', operator: true });
    const forced = await http(notes(tid), { headers: { authorization: `Bearer ${operatorTok}`, 'x-carve-target': 'service' } });
    expect(forced.json.who).toBe('service');
    for (const role of ['admin', 'maker'] as const) {
      const customer = await http(notes(tid), { headers: { authorization: `Bearer ${token(tid, { role })}`, 'x-carve-target': 'service' } });
      expect([role, customer.json.who]).toEqual([role, 'monolith']);
    }
    const adminBack = await http(notes('ws-allowed'), { headers: { authorization: `Bearer ${token('ws-allowed', { role: 'admin' })}`, 'x-carve-target': 'monolith' } });
    expect(adminBack.json.who).toBe('service'); // the route decides
    const back = await http(notes('ws-allowed'), { headers: { authorization: `Bearer ${token('ws-allowed', { operator: true })}`, 'x-carve-target': 'monolith' } });
    expect(back.json.who).toBe('monolith');
    for (const s of [...monolith.seen, ...service.seen].slice(-3)) expect(s.headers['x-carve-target']).toBeUndefined();
  });

  it('strips every incoming x-carve-* header and sets its own from the token', async () => {
    monolith.reset();
    const r = await http(`${gw.url}/api/v1/workspaces/ws-9/features?q=1`, {
      headers: {
        authorization: `Bearer ${token('ws-9', { sub: 'alice', role: 'viewer' })}`,
        'x-carve-tenant': 'ws-other',
        'x-carve-user': 'mallory',
        'x-carve-role': 'admin',
        'x-carve-anything': 'x',
        'x-request-id': 'req-from-client-1',
      },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-request-id']).toBe('req-from-client-1');
    const seen = monolith.seen[0];
    expect(seen.url).toBe('/api/v1/workspaces/ws-9/features?q=1');
    expect(seen.headers['x-carve-tenant']).toBe('ws-9');
    expect(seen.headers['x-carve-user']).toBe('alice');
    expect(seen.headers['x-carve-role']).toBe('viewer');
    expect(seen.headers['x-carve-anything']).toBeUndefined();
    expect(seen.headers['x-request-id']).toBe('req-from-client-1');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(gw.url).host);
  });

  it('drops hop-by-hop headers, including the ones the client names in Connection', async () => {
    monolith.reset();
    // undici refuses custom Connection values, so this one goes out through node:http.
    const status = await new Promise<number>((resolve, reject) => {
      const req = nodeHttp.request(`${gw.url}/hop`, { agent: false, headers: { connection: 'keep-alive, x-drop-me', 'x-drop-me': 'hop', 'keep-alive': 'timeout=5', te: 'trailers' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const seen = monolith.seen[0];
    expect(seen.headers['x-drop-me']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
  });

  it('refuses a missing, expired, forged or malformed token with 401 and the reason', async () => {
    monolith.reset();
    const url = `${gw.url}/api/v1/workspaces/ws-1/features`;
    const missing = await http(url);
    expect(missing.status).toBe(401);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    expect(missing.json.code).toBe('token_missing');

    const expiredToken = createSigner({ key: DEV_JWT_SECRET, algorithm: 'HS256', expiresIn: 60_000, clockTimestamp: Date.now() - 3_600_000 })({
      sub: 'u',
      tid: 'ws-1',
      role: 'admin',
    });
    const expired = await http(url, { headers: { authorization: `Bearer ${expiredToken}` } });
    expect([expired.status, expired.json.code]).toEqual([401, 'token_expired']);

    const forgedToken = createSigner({ key: 'someone-elses-secret-0123456789', algorithm: 'HS256' })({ sub: 'u', tid: 'ws-1', role: 'admin' });
    const forged = await http(url, { headers: { authorization: `Bearer ${forgedToken}` } });
    expect([forged.status, forged.json.code]).toEqual([401, 'token_invalid']);

    const malformed = await http(url, { headers: { authorization: 'Bearer not.a.jwt' } });
    expect([malformed.status, malformed.json.code]).toEqual([401, 'token_invalid']);
    expect(monolith.count()).toBe(0);
  });

  it("refuses a path workspace other than the token's with 403", async () => {
    monolith.reset();
    service.reset();
    const r = await http(notes('ws-b'), { headers: { authorization: `Bearer ${token('ws-a')}` } });
    expect([r.status, r.json.code]).toEqual([403, 'workspace_mismatch']);
    // Also on paths no route matches (the conventional /api/v<n>/workspaces/<id> prefix).
    const r2 = await http(`${gw.url}/api/v1/workspaces/ws-b/features`, { headers: { authorization: `Bearer ${token('ws-a')}` } });
    expect(r2.status).toBe(403);
    expect(monolith.count() + service.count()).toBe(0);
  });

  it('passes requests outside /api/ through to the monolith without a token', async () => {
    const r = await http(`${gw.url}/some/page?x=1`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ who: 'monolith', url: '/some/page?x=1', tenant: null });
    const root = await http(`${gw.url}/`);
    expect(root.json.who).toBe('monolith');
  });

  it('refuses a malformed percent-encoding in the path with 400 bad_path, and passes a query string on as sent', async () => {
    monolith.reset();
    service.reset();
    const r = await http(`${gw.url}/api/v1/workspaces/ws-a/notes/%E0%A4%A?q=1`, { headers: { authorization: `Bearer ${token('ws-a')}` } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'bad_path' });
    expect(r.headers['x-request-id']).toBeTruthy();
    expect(monolith.count() + service.count()).toBe(0);
    // The query string is not the gateway's to judge: it reaches the upstream unchanged.
    const q = await http(`${gw.url}/api/v1/workspaces/ws-denied/notes?q=%ZZ`, { headers: { authorization: `Bearer ${token('ws-denied')}` } });
    expect(monolith.seen.map((x) => x.url)).toEqual(['/api/v1/workspaces/ws-denied/notes?q=%ZZ']);
    expect(q.headers['x-request-id']).toBeTruthy();
  });

  it('refuses bodies over the limit with 413, declared or streamed, and sends nothing upstream for a declared one', async () => {
    monolith.reset();
    const auth = { authorization: `Bearer ${token('ws-1')}`, 'content-type': 'application/json' };
    const declared = await http(notes('ws-1'), { method: 'POST', headers: auth, body: Buffer.alloc(5000, 97) });
    expect([declared.status, declared.json.code]).toEqual([413, 'payload_too_large']);
    expect(monolith.count()).toBe(0);

    async function* chunks() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 98);
    }
    const streamed = await http(notes('ws-1'), { method: 'POST', headers: auth, body: Readable.from(chunks()) });
    expect([streamed.status, streamed.json.code]).toEqual([413, 'payload_too_large']);

    const fine = await http(notes('ws-1'), { method: 'POST', headers: auth, body: JSON.stringify({ title: 'ok' }) });
    expect(fine.status).toBe(200);
    expect(monolith.seen.at(-1)?.bodyBytes).toBe(JSON.stringify({ title: 'ok' }).length);
  });

  it('answers 504 upstream_timeout when the upstream does not answer in time', async () => {
    // The route's upstream `hasty` has timeoutMs 500; undici's header timer ticks every ~0.5 s.
    monolith.reset(() => ({ delayMs: 3000, body: { late: true } }));
    try {
      const r = await http(`${gw.url}/api/v1/workspaces/ws-1/slow`, { headers: { authorization: `Bearer ${token('ws-1')}` } });
      expect([r.status, r.json.code]).toEqual([504, 'upstream_timeout']);
      expect(r.ms).toBeGreaterThanOrEqual(450);
      expect(r.ms).toBeLessThan(2000);
    } finally {
      monolith.reset();
    }
  });

  it('answers 502 upstream_unavailable when the upstream drops the connection on a write', async () => {
    monolith.reset(() => 'destroy');
    try {
      const r = await http(notes('ws-1'), { method: 'POST', headers: { authorization: `Bearer ${token('ws-1')}` }, body: '{}' });
      expect([r.status, r.json.code]).toEqual([502, 'upstream_unavailable']);
      expect(monolith.count((s) => s.method === 'POST')).toBe(1);
    } finally {
      monolith.reset();
    }
  });

  it('exposes Prometheus metrics per route and target', async () => {
    const r = await admin(gw, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/carve_gateway_requests_total\{route="notes-read",target="insights",status_class="2xx",carve_service="gateway"\} \d+/);
    expect(r.text).toMatch(/carve_gateway_requests_total\{route="notes-read",target="monolith",status_class="2xx",carve_service="gateway"\} \d+/);
    expect(r.text).toMatch(/carve_gateway_request_duration_seconds_bucket\{le="0.005",carve_service="gateway",route="notes-read",target="insights"\} \d+/);
    expect(r.text).toMatch(/carve_gateway_route_percent\{route="notes-read",carve_service="gateway"\} 30/);
    expect(r.text).toMatch(/carve_gateway_route_mode\{route="notes-read",mode="canary",carve_service="gateway"\} 1/);
    expect(r.text).toMatch(/carve_gateway_upstream_errors_total\{route="slow",target="hasty",kind="timeout",carve_service="gateway"\} 1/);
  });
});
