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
