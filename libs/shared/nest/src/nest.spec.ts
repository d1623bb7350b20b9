/**
 * A Nest application built by createPlatformNestApp answers like every other Carve deployable:
 * health, readiness, metrics, JWT, and problem+json for errors from Nest's pipeline and from
 * Fastify's (unknown route, bad JSON, body limit).
 */
import { Body, Controller, Get, Module, Post, Req } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createLogger, DEV_JWT_SECRET, ProblemError, requireIdentity, signToken } from '@carve/shared-http';
import type { FastifyRequest } from 'fastify';
import { createPlatformNestApp } from './index';

@Controller('things')
class ThingsController {
  @Get('me')
  me(@Req() req: FastifyRequest) {
    return { workspaceId: requireIdentity(req).workspaceId };
  }

  @Get('gone')
  gone() {
    throw new ProblemError(410, 'gone_for_good', 'It went away.');
  }

  @Get('boom')
  boom() {
    throw new Error('secret internals');
  }

  @Post()
  create(@Body() body: unknown) {
    return { got: body };
  }
}

@Module({ controllers: [ThingsController] })
class ThingsModule {}

const WS = '00000000-0000-4000-a000-000000000001';
const token = signToken({ sub: '00000000-0000-4000-a000-000000000002', tid: WS, role: 'admin' }, DEV_JWT_SECRET);
const auth = { authorization: `Bearer ${token}` };

describe('createPlatformNestApp', () => {
  let app: NestFastifyApplication;
  let ready = true;

  beforeAll(async () => {
    app = await createPlatformNestApp(ThingsModule, {
      service: 'things',
      logger: createLogger('things', { level: 'silent' }),
      auth: { secret: DEV_JWT_SECRET },
      bodyLimit: 1024,
      readiness: async () => {
        if (!ready) throw new Error('database down');
      },
    });
  });
  afterAll(() => app.close());

  const inject = (o: Parameters<NestFastifyApplication['inject']>[0]) => app.inject(o as never) as unknown as Promise<{ statusCode: number; headers: Record<string, string>; json(): any; body: string }>;

  it('serves health, readiness (503 when a dependency fails) and metrics without a token', async () => {
    expect((await inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok', service: 'things' });
    expect((await inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    ready = false;
    const down = await inject({ method: 'GET', url: '/readyz' });
    ready = true;
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unavailable', reason: 'database down' });
    const metrics = await inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('http_server_request_duration_seconds');
  });

  it('asks for a token, and reads the identity from it', async () => {
    const none = await inject({ method: 'GET', url: '/things/me' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toContain('application/problem+json');
    const me = await inject({ method: 'GET', url: '/things/me', headers: auth });
    expect(me.json()).toEqual({ workspaceId: WS });
    expect(me.headers['x-request-id']).toBeTruthy();
  });

  it('answers errors from Nest and from Fastify as problems with stable codes', async () => {
    const gone = await inject({ method: 'GET', url: '/things/gone', headers: { ...auth, 'x-request-id': 'req-1' } });
    expect(gone.statusCode).toBe(410);
    expect(gone.json()).toMatchObject({ code: 'gone_for_good', detail: 'It went away.', instance: '/things/gone', requestId: 'req-1' });

    const boom = await inject({ method: 'GET', url: '/things/boom', headers: auth });
    expect(boom.statusCode).toBe(500);
    expect(boom.body).not.toContain('secret internals');

    const missing = await inject({ method: 'GET', url: '/nowhere', headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'route_not_found' });

    const badJson = await inject({ method: 'POST', url: '/things', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"a":' });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ code: 'malformed_json' });

    const tooBig = await inject({ method: 'POST', url: '/things', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(2000) }) });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json()).toMatchObject({ code: 'payload_too_large' });

    const ok = await inject({ method: 'POST', url: '/things', headers: auth, payload: { a: 1 } });
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toEqual({ got: { a: 1 } });
  });
});
