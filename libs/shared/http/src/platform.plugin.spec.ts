import crypto from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { signToken } from './auth';
import { platformPlugin, platformServerOptions, requireIdentity } from './platform.plugin';
import { problems } from './problem';

const SECRET = 'test-secret-that-is-long-enough';

async function build(readiness?: () => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify(platformServerOptions({ bodyLimit: 1024 }));
  await app.register(platformPlugin, { service: 'test', readiness, auth: { secret: SECRET }, defaultMetrics: false });
  app.get('/api/whoami', async (req) => requireIdentity(req));
  app.post('/api/things', async (req) => {
    const body = req.body as { name?: unknown };
    if (typeof body?.name !== 'string') throw problems.validation([{ field: 'name', message: 'must be a string' }]);
    return { ok: true };
  });
  app.get('/api/boom', async () => {
    throw new Error('database password is hunter2');
  });
  await app.ready();
  return app;
}

describe('platformPlugin', () => {
  let app: FastifyInstance;
  const token = signToken({ sub: 'u1', tid: 'w1', role: 'maker' }, SECRET);
  const auth = { authorization: `Bearer ${token}` };

  beforeAll(async () => {
    app = await build();
  });
  afterAll(() => app.close());

  it('serves health, readiness and metrics without a token', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok', service: 'test' });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    await app.inject({ url: '/api/whoami', headers: auth });
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/api\/whoami"[^}]*\} 1/);
  });

  it('sets identity from a valid token', async () => {
    const res = await app.inject({ url: '/api/whoami', headers: auth });
    expect(res.json()).toEqual({ userId: 'u1', workspaceId: 'w1', role: 'maker' });
  });

  it.each([
    ['missing', {}, 'token_missing'],
    ['not bearer', { authorization: 'Basic abc' }, 'token_missing'],
    ['malformed', { authorization: 'Bearer not.a.jwt' }, 'token_invalid'],
    ['forged', { authorization: `Bearer ${signToken({ sub: 'u1', tid: 'w1', role: 'admin' }, 'another-secret-entirely!!')}` }, 'token_invalid'],
    ['expired', { authorization: `Bearer ${signToken({ sub: 'u1', tid: 'w1', role: 'admin' }, SECRET, { ttlSec: -60 })}` }, 'token_expired'],
  ])('answers 401 problem+json for a %s token', async (_name, headers, code) => {
    const res = await app.inject({ url: '/api/whoami', headers: headers as Record<string, string> });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 401, code });
    expect(res.json().detail).toEqual(expect.any(String));
  });

  it('rejects a token with an unknown role', async () => {
    const forged = signToken({ sub: 'u1', tid: 'w1', role: 'root' as never }, SECRET);
    const res = await app.inject({ url: '/api/whoami', headers: { authorization: `Bearer ${forged}` } });
    expect(res.json()).toMatchObject({ status: 401, code: 'token_invalid' });
  });

  it('maps validation, bad JSON, body limit and unknown routes to stable codes', async () => {
    const bad = await app.inject({ method: 'POST', url: '/api/things', headers: auth, payload: { name: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'name', message: 'must be a string' }] });

    const malformed = await app.inject({ method: 'POST', url: '/api/things', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"name":' });
    expect(malformed.json()).toMatchObject({ status: 400, code: 'malformed_json' });

    const big = await app.inject({ method: 'POST', url: '/api/things', headers: auth, payload: { name: 'x'.repeat(5000) } });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'payload_too_large' });

    const missing = await app.inject({ url: '/nope', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'route_not_found' });
  });

  it('hides internal errors behind a 500 that leaks nothing', async () => {
    const res = await app.inject({ url: '/api/boom', headers: auth });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'internal' });
    expect(res.body).not.toContain('hunter2');
  });

  it('propagates a well-formed x-request-id and replaces a hostile one', async () => {
    const ok = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers['x-request-id']).toBe('abc-123');
    const hostile = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'evil\u0000<script>' } });
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('readiness', () => {
  it('fails when a dependency fails and once draining begins', async () => {
    let healthy = true;
    const app = await build(async () => {
      if (!healthy) throw new Error('postgres unreachable');
    });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    healthy = false;
    const down = await app.inject('/readyz');
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unavailable', reason: 'postgres unreachable' });
    healthy = true;
    app.platform.beginDrain();
    expect((await app.inject('/readyz')).json()).toMatchObject({ status: 'draining' });
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    await app.close();
  });
});

describe('platformPlugin with the issuer\'s JWKS', () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let jwks: http.Server;
  let app: FastifyInstance;

  beforeAll(async () => {
    jwks = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig' }] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    app = Fastify(platformServerOptions());
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    await app.register(platformPlugin, { service: 'test', auth: { jwksUrl, issuer: 'https://idp.test/', audience: 'api' }, defaultMetrics: false });
    app.get('/api/whoami', async (req) => requireIdentity(req));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    jwks?.close();
  });

  const sign = (opts: { issuer?: string; audience?: string } = {}) =>
    signToken({ sub: 'u1', tid: 'w1', role: 'viewer' }, '', { privateKey: pem, keyId: 'k1', issuer: opts.issuer ?? 'https://idp.test/', audience: opts.audience ?? 'api', ttlSec: 300 });

  it('verifies an ES256 token with the fetched key, and checks iss and aud', async () => {
    const ok = await app.inject({ url: '/api/whoami', headers: { authorization: `Bearer ${sign()}` } });
    expect(ok.json()).toEqual({ userId: 'u1', workspaceId: 'w1', role: 'viewer' });
    for (const bad of [sign({ issuer: 'https://other.test/' }), sign({ audience: 'other' }), signToken({ sub: 'u1', tid: 'w1', role: 'viewer' }, SECRET, { issuer: 'https://idp.test/', audience: 'api' })]) {
      const res = await app.inject({ url: '/api/whoami', headers: { authorization: `Bearer ${bad}` } });
      expect(res.json()).toMatchObject({ status: 401, code: 'token_invalid' });
    }
  });
});

describe('what the HTTP parser refuses before a request exists', () => {
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    // Node checks the headers and request timeouts every connectionsCheckingInterval.
    const serverFactory = (handler: http.RequestListener) => http.createServer({ connectionsCheckingInterval: 100, headersTimeout: 300, requestTimeout: 300 }, handler);
    app = Fastify(platformServerOptions({ serverFactory }));
    await app.register(platformPlugin, { service: 'test', defaultMetrics: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(() => app.close());

  /** Writes raw bytes on a fresh connection and returns all the server wrote before it closed. */
  const raw = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(text));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', () => undefined);
      setTimeout(() => reject(new Error('the server kept the connection open')), 10_000).unref();
    });
  const parse = (response: string) => {
    const [head, body] = response.split('\r\n\r\n');
    return { statusLine: head.split('\r\n')[0], head: head.toLowerCase(), body: JSON.parse(body) };
  };

  it.each([
    ['headers that never finish', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 408, 'request_timeout'],
    ['headers over the size limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a request line that is not HTTP', 'HELLO THERE\r\n\r\n', 400, 'malformed_request'],
  ])('answers %s with problem+json and closes the connection', async (_what, text, status, code) => {
    const res = parse(await raw(text));
    expect(res.statusLine).toBe(`HTTP/1.1 ${status} ${res.body.title}`);
    expect(res.head).toContain('content-type: application/problem+json');
    expect(res.head).toContain('connection: close');
    expect(res.body).toMatchObject({ status, code, type: `https://carve.dev/problems/${code}` });
  });
});
