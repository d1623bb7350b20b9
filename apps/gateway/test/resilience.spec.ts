/**
 * When the service fails: invisible fallback for reads (even with the service killed mid-load),
 * writes never sent twice, the circuit breaker opening and probing back, and the guard rolling
 * the route back to the monolith through the control plane.
 */
import type { RunningGateway } from '../src';
import { admin, gateway, http, pool, spawnUpstream, type Stack, startStack, testDatabase, token, waitFor } from './support/harness';

describe('gateway resilience', () => {
  let stack: Stack;
  let gw: RunningGateway | undefined;

  const auth = (tid = 'ws-1') => ({ authorization: `Bearer ${token(tid)}` });

  beforeAll(async () => {
    stack = await startStack('gateway_resilience');
  });

  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    stack.monolith.reset();
    stack.service.reset();
  });

  afterAll(() => stack?.close());

  it('serves every GET while the service is killed mid-load (fallback, then the breaker), with zero client errors', async () => {
    const svc = await spawnUpstream('service');
    try {
      const file = stack.files.write(
        `
upstreams:
  monolith: { url: ${stack.monolith.url} }
  insights: { url: ${svc.url}, timeoutMs: 2000 }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
`,
        'kill.yaml',
      );
      gw = await gateway(stack.db, file, { breaker: { failureThreshold: 5, cooldownMs: 60_000 } });
      const total = 2000;
      let done = 0;
      let killed: Promise<void> | undefined;
      const results = await pool(
        Array.from({ length: total }, (_, i) => i),
        16,
        async (i) => {
          const tid = `ws-${i % 50}`;
          const r = await http(`${gw!.url}/api/v1/workspaces/${tid}/notes/${i}`, { headers: auth(tid) });
          done += 1;
          if (done === 400) killed = svc.kill();
          return r;
        },
      );
      await killed;
      const failures = results.filter((r) => r.status !== 200);
      expect(failures.map((r) => `${r.status} ${r.text}`)).toEqual([]);
      const bySide = { service: 0, monolith: 0 };
      for (const r of results) bySide[r.json.who as 'service' | 'monolith'] += 1;
      expect(bySide.service).toBeGreaterThanOrEqual(400);
      expect(bySide.monolith).toBeGreaterThan(1000);
      const detail = await admin(gw, 'GET', '/admin/routes/notes-read');
      expect(detail.json.breaker.state).toBe('open');
      expect(detail.json.counters.fallbacks).toBe(bySide.monolith);
      const metrics = await admin(gw, 'GET', '/metrics');
      expect(metrics.text).toMatch(/carve_gateway_fallbacks_total\{route="notes-read",from="insights",reason="breaker-open",carve_service="gateway"\} \d+/);
      expect(metrics.text).toMatch(/carve_gateway_breaker_state\{upstream="insights",carve_service="gateway"\} 2/);
    } finally {
      await svc.kill();
    }
  }, 60_000);

  it('never sends a write twice: a failed POST is not retried, on the service or the monolith', async () => {
    const file = stack.files.write(
      `
upstreams:
  monolith: { url: ${stack.monolith.url} }
  insights: { url: ${stack.service.url}, timeoutMs: 300 }
default: monolith
routes:
  - id: notes
    match: { path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    fallback: true
`,
      'writes.yaml',
    );
    gw = await gateway(stack.db, file, { breaker: { failureThreshold: 100, cooldownMs: 60_000 } });
    const url = `${gw.url}/api/v1/workspaces/ws-1/notes`;
    const post = (body: string) => http(url, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body });

    stack.service.reset(() => ({ status: 500, body: { error: 'boom' } }));
    const fiveHundred = await post('{"n":1}');
    expect(fiveHundred.status).toBe(500); // the service's own answer, passed through
    expect(stack.service.count((s) => s.method === 'POST')).toBe(1);

    stack.service.reset(() => 'destroy');
    const dropped = await post('{"n":2}');
    expect([dropped.status, dropped.json.code]).toEqual([502, 'upstream_unavailable']);
    expect(stack.service.count((s) => s.method === 'POST')).toBe(1);

    // undici's header timer ticks every ~0.5 s: a 300 ms timeout fires within about 1.3 s.
    stack.service.reset(() => ({ delayMs: 2500 }));
    const slow = await post('{"n":3}');
    expect([slow.status, slow.json.code]).toEqual([504, 'upstream_timeout']);
    expect(stack.service.count((s) => s.method === 'POST')).toBe(1);

    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      stack.service.reset(() => 'destroy');
      const r = await http(`${url}/n1`, { method, headers: auth() });
      expect(r.status).toBe(502);
      expect(stack.service.count((s) => s.method === method)).toBe(1);
    }
    expect(stack.monolith.count()).toBe(0);

    // GETs on the same route do fall back, invisibly.
    stack.service.reset(() => ({ status: 503 }));
    const get = await http(url, { headers: auth() });
    expect([get.status, get.json.who]).toEqual([200, 'monolith']);
    expect(stack.service.count((s) => s.method === 'GET')).toBe(1); // the forwarder never retries on its own (no 503 retries)
    expect(stack.monolith.count((s) => s.method === 'GET')).toBe(1);
  });

  it('opens the breaker after repeated failures, stops sending, and probes the service back', async () => {
    const file = stack.files.write(
      `
upstreams:
  monolith: { url: ${stack.monolith.url} }
  insights: { url: ${stack.service.url}, timeoutMs: 1000 }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
`,
      'breaker.yaml',
    );
    gw = await gateway(stack.db, file, { breaker: { failureThreshold: 3, cooldownMs: 600 } });
    const get = () => http(`${gw!.url}/api/v1/workspaces/ws-1/notes`, { headers: auth() });
    stack.service.reset(() => ({ status: 500 }));
    for (let i = 0; i < 3; i++) expect((await get()).json.who).toBe('monolith');
    expect(stack.service.count()).toBe(3);
    expect((await admin(gw, 'GET', '/admin/routes/notes-read')).json.breaker.state).toBe('open');

    // Open: the service gets nothing, the clients get the monolith.
    for (let i = 0; i < 10; i++) expect((await get()).status).toBe(200);
    expect(stack.service.count()).toBe(3);

    // Still failing at the first probe: open again.
    await new Promise((r) => setTimeout(r, 650));
    expect((await get()).json.who).toBe('monolith');
    expect(stack.service.count()).toBe(4);
    expect((await admin(gw, 'GET', '/admin/routes/notes-read')).json.breaker.state).toBe('open');

    // Healthy again: the next probe closes it and traffic returns.
    stack.service.reset();
    await new Promise((r) => setTimeout(r, 650));
    expect((await get()).json.who).toBe('service');
    expect((await admin(gw, 'GET', '/admin/routes/notes-read')).json.breaker.state).toBe('closed');
    for (let i = 0; i < 5; i++) expect((await get()).json.who).toBe('service');
  });

  it('rolls a route back to the monolith by itself when the error rate passes the guard, and audits why', async () => {
    const file = stack.files.write(
      `
upstreams:
  monolith: { url: ${stack.monolith.url} }
  insights: { url: ${stack.service.url}, timeoutMs: 1000 }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: canary
    percent: 100
    guard: { maxErrorRate: 0.2, window: 30s, minRequests: 20 }
`,
      'guard.yaml',
    );
    gw = await gateway(stack.db, file, { breaker: { failureThreshold: 1000, cooldownMs: 60_000 } });
    // One request in three fails on the service: 33% > 20%.
    let n = 0;
    stack.service.reset(() => (n++ % 3 === 0 ? { status: 500 } : { body: { who: 'service' } }));
    const results = await pool(Array.from({ length: 60 }, (_, i) => i), 1, () => http(`${gw!.url}/api/v1/workspaces/ws-1/notes`, { headers: auth() }));
    expect(results.every((r) => r.status === 200)).toBe(true); // failures fell back
    const route = await waitFor('the guard rollback', async () => {
      const r = await admin(gw!, 'GET', '/admin/routes/notes-read');
      return r.json.mode === 'monolith' ? r.json : undefined;
    });
    expect(route).toMatchObject({ mode: 'monolith', source: 'override', override: { mode: 'monolith', updatedBy: 'guard' } });
    expect(route.guard.lastTrip.reason).toMatch(/^error rate \d+\.\d% > 20\.0% over the last 30s \(\d+ errors in \d+ requests\)$/);
    expect(route.guardEvents[0]).toMatchObject({ routeId: 'notes-read', rolledBack: true });
    const serviceBefore = stack.service.count();
    for (let i = 0; i < 5; i++) expect((await http(`${gw.url}/api/v1/workspaces/ws-1/notes`, { headers: auth() })).json.who).toBe('monolith');
    expect(stack.service.count()).toBe(serviceBefore);

    const audit = await admin(gw, 'GET', '/admin/audit?route=notes-read');
    expect(audit.json.entries[0]).toMatchObject({
      actor: 'guard',
      action: 'route.guard-rollback',
      target: 'route:notes-read',
      before: { mode: 'canary', percent: 100, source: 'file' },
      after: { mode: 'monolith', source: 'override' },
    });
    expect(audit.json.entries[0].reason).toMatch(/error rate/);
    // Put back for the next test of this suite's database.
    await admin(gw, 'DELETE', '/admin/routes/notes-read/override', { reason: 'service fixed' });
  });

  it('keeps serving when the control plane goes away: admin changes fail cleanly, the guard rolls back locally', async () => {
    const own = await testDatabase('gateway_cp_down');
    const file = stack.files.write(
      `
upstreams:
  monolith: { url: ${stack.monolith.url} }
  insights: { url: ${stack.service.url} }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    guard: { maxErrorRate: 0.2, window: 30s, minRequests: 10 }
`,
      'cp-down.yaml',
    );
    gw = await gateway(own, file, { breaker: { failureThreshold: 1000, cooldownMs: 60_000 }, controlPollMs: 200 });
    try {
      const get = () => http(`${gw!.url}/api/v1/workspaces/ws-1/notes`, { headers: auth() });
      expect((await get()).json.who).toBe('service');
      await own.drop(); // the control plane's database disappears (connections closed)
      await waitFor('the subscription to notice', async () => (await admin(gw!, 'GET', '/admin/status')).json.controlPlane.subscription.lastError, 5000);
      expect((await get()).json.who).toBe('service'); // traffic keeps flowing

      const put = await admin(gw, 'PUT', '/admin/routes/notes-read', { mode: 'monolith', reason: 'x' });
      expect([put.status, put.json.code]).toEqual([503, 'control_plane_unavailable']);

      stack.service.reset(() => ({ status: 500 }));
      for (let i = 0; i < 12; i++) expect((await get()).status).toBe(200); // fell back
      const route = await waitFor('the local rollback', async () => {
        const r = (await admin(gw!, 'GET', '/admin/routes/notes-read')).json;
        return r.mode === 'monolith' && r.guard.lastTrip?.recorded === 'local-only' ? r : undefined;
      });
      expect(route.override).toMatchObject({ mode: 'monolith', updatedBy: 'guard' });
      const before = stack.service.count();
      expect((await get()).json.who).toBe('monolith');
      expect(stack.service.count()).toBe(before);
    } finally {
      await gw.close();
      gw = undefined;
      await own.drop();
    }
  });
});
