/**
 * Fairness at the proxy port, through real gateways: per-tenant rate limits (token bucket, per
 * route) and concurrency limits answering 429 problem+json with Retry-After; the bounded wait
 * for an upstream connection (503 with Retry-After, never a hang); the header and body idle
 * timeouts; rate limits shared by two gateways through the machine's Redis, and a gateway that
 * loses Redis limiting on its own.
 */
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { gateway, http, RouteFiles, testDatabase, token, waitFor, type Res } from './support/harness';
import { TestUpstream } from './support/upstream';

const REDIS = process.env.CARVE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A TCP relay to Redis that the test can cut (the gateway "loses" its store). */
async function redisRelay(): Promise<{ url: string; cut: () => Promise<void> }> {
  const target = new URL(REDIS);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    cut: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

describe('gateway limits', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let service: TestUpstream;
  const gateways: RunningGateway[] = [];

  const table = () => `
upstreams:
  monolith: { url: ${monolith.url}, timeoutMs: 10000 }
  insights: { url: ${service.url}, timeoutMs: 10000 }
default: monolith
routes:
  - id: notes
    match: { path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    fallback: false
    limits: { ratePerSecond: 0.1, burst: 3 }
  - id: features
    match: { path: /api/v1/workspaces/:workspaceId/features/* }
    target: insights
    mode: service
    fallback: false
    limits: { concurrency: 2 }
`;

  beforeAll(async () => {
    [db, monolith, service] = await Promise.all([testDatabase('gateway_limits'), TestUpstream.start('monolith'), TestUpstream.start('service')]);
    files = new RouteFiles();
    files.write(table());
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all([monolith?.close(), service?.close()]);
    await db?.drop();
    files?.remove();
  });

  const start = async (extra: Parameters<typeof gateway>[2] = {}) => {
    const g = await gateway(db, files.file(), extra);
    gateways.push(g);
    return g;
  };
  const get = (g: RunningGateway, tid: string, what = 'notes') => http(`${g.url}/api/v1/workspaces/${tid}/${what}`, { headers: { authorization: `Bearer ${token(tid)}` } });
  const limited = (r: Res, code: string) => {
    expect([r.status, r.json?.code, r.headers['content-type']]).toEqual([429, code, 'application/problem+json; charset=utf-8']);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  };

  it("answers 429 rate_limited with Retry-After past a route's token bucket, for that tenant only", async () => {
    const g = await start();
    service.reset();
    const tid = `ws-${randomUUID()}`;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await get(g, tid));
    expect(statuses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    limited(statuses[3], 'rate_limited');
    expect(service.count()).toBe(3);
    // Another tenant has its own bucket; another route has no rate limit.
    expect((await get(g, `ws-${randomUUID()}`)).status).toBe(200);
    expect((await get(g, tid, 'features')).status).toBe(200);
  });

  it('answers 429 too_many_in_flight past the concurrency of a tenant (route and gateway-wide), and frees the slots', async () => {
    const g = await start({ tenantLimits: { concurrency: 3, ratePerSecond: 0 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const wait = async () => {
      await gate;
      return { body: { ok: true } };
    };
    service.reset(wait);
    monolith.reset(wait);
    const tid = `ws-${randomUUID()}`;
    const held = [get(g, tid, 'features/a'), get(g, tid, 'features/b')];
    await waitFor('two requests at the service', () => service.count() === 2);
    limited(await get(g, tid, 'features/c'), 'too_many_in_flight');
    // Gateway-wide: 3 per tenant. One more elsewhere fits, then no more on any route.
    held.push(get(g, tid, 'members'));
    await waitFor('the third request at the monolith', () => monolith.count() === 1);
    limited(await get(g, tid, 'notes'), 'too_many_in_flight');
    // Other tenants are not concerned.
    const other = `ws-${randomUUID()}`;
    held.push(get(g, other, 'features/a'));
    await waitFor('the other tenant at the service', () => service.count() === 3);
    release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    service.reset();
    monolith.reset();
    expect((await get(g, tid, 'features/d')).status).toBe(200);
  });

  it('answers 503 upstream_saturated with Retry-After when no upstream connection frees up in time, never hanging', async () => {
    const g = await start({ upstreamConnections: 2, upstreamQueue: { timeoutMs: 300, max: 2 }, tenantLimits: { concurrency: 0, ratePerSecond: 0 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    monolith.reset(async () => {
      await gate;
      return { body: { ok: true } };
    });
    const t0 = Date.now();
    const pending = Array.from({ length: 6 }, (_, i) => http(`${g.url}/api/v1/workspaces/ws-sat-${i}/elsewhere`, { headers: { authorization: `Bearer ${token(`ws-sat-${i}`)}` } }));
    // Two hold the connections, two wait and time out, two find the queue full.
    const early = await Promise.race([Promise.all(pending.slice(2)), new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(early).not.toBeNull();
    for (const r of early!) {
      expect([r.status, r.json?.code]).toEqual([503, 'upstream_saturated']);
      expect(r.headers['retry-after']).toBe('1');
    }
    expect(Date.now() - t0).toBeLessThan(5000);
    release();
    expect((await Promise.all(pending.slice(0, 2))).map((r) => r.status)).toEqual([200, 200]);
    monolith.reset();
  });

  it('closes a connection whose headers or body stall (408 request_timeout, 408 body_timeout, both problem+json)', async () => {
    const g = await start({ timeouts: { headersMs: 400, requestMs: 60_000, bodyIdleMs: 400, idleMs: 5000 } });
    const port = Number(new URL(g.url).port);
    const talk = (text: string) =>
      new Promise<{ data: string; ms: number }>((resolve, reject) => {
        const t0 = Date.now();
        const s = net.connect(port, '127.0.0.1', () => s.write(text));
        let data = '';
        s.on('data', (d) => (data += d.toString()));
        s.on('close', () => resolve({ data, ms: Date.now() - t0 }));
        s.on('error', () => undefined);
        setTimeout(() => reject(new Error('the gateway kept the connection open')), 8000).unref();
      });
    const headers = await talk('GET /api/v1/workspaces/ws-1/notes HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(headers.data).toMatch(/^HTTP\/1\.1 408/);
    expect(headers.data).toContain('"code":"request_timeout"');
    expect(headers.data.toLowerCase()).toContain('content-type: application/problem+json');
    const tid = `ws-${randomUUID()}`;
    const body = await talk(`POST /api/v1/workspaces/${tid}/features HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token(tid)}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"title":`);
    expect(body.data).toMatch(/^HTTP\/1\.1 408/);
    expect(body.data).toContain('"code":"body_timeout"');
    expect(body.data.toLowerCase()).toContain('connection: close');
    expect(body.ms).toBeLessThan(5000);
  });

  it('shares a route rate limit between two gateways through Redis', async () => {
    const rateStore = { url: REDIS, tls: false, timeoutMs: 200, prefix: `carve-test:${randomUUID()}:` };
    const a = await start({ rateStore });
    const b = await start({ rateStore });
    await waitFor('both gateways connected to Redis', () => a.limiter.store.constructor.name === 'RedisBuckets' && !(a.limiter.store as any).isDegraded && !(b.limiter.store as any).isDegraded);
    const tid = `ws-${randomUUID()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get(i % 2 ? b : a, tid)).status);
    // burst 3 at one token per 10 s, shared: 3 (4 if 10 s passed) of 8 get through, not 3 per gateway.
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(3);
    expect(ok).toBeLessThanOrEqual(4);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
  });

  it('keeps limiting on its own when it loses Redis (neither open nor shut)', async () => {
    const relay = await redisRelay();
    const g = await start({ rateStore: { url: relay.url, tls: false, timeoutMs: 100, prefix: `carve-test:${randomUUID()}:` } });
    const store = g.limiter.store as unknown as { isDegraded: boolean; localAnswers: number };
    await waitFor('the gateway connected to Redis', () => !store.isDegraded);
    const tid = `ws-${randomUUID()}`;
    expect((await get(g, tid)).status).toBe(200);
    await relay.cut();
    await waitFor('the gateway noticed', () => store.isDegraded);
    const other = `ws-${randomUUID()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(g, other)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    expect(store.localAnswers).toBeGreaterThanOrEqual(6);
  });

  it('limits on its own from the start when Redis cannot be reached', async () => {
    const closed = await redisRelay();
    await closed.cut();
    const g = await start({ rateStore: { url: closed.url, tls: false, timeoutMs: 100 } });
    const tid = `ws-${randomUUID()}`;
    const t0 = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(g, tid)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
