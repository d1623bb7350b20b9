/**
 * The runtime on real Postgres and real HTTP: a service starts on its pool with the platform's
 * endpoints, runs its migrations at boot, relays its outbox, refuses a missing DATABASE_URL off
 * the local platform, closes in order (HTTP, relay, transport, pool), and closes what had started
 * when a later part fails. The edge turns the kernel's rejections into problems.
 */
import { randomUUID } from 'node:crypto';
import { DEV_JWT_SECRET, loadServiceConfig, ProblemError, requireIdentity, serviceEnvSchema, signToken } from '@carve/shared-http';
import { conflict, invalid, notFound } from '@carve/shared-kernel';
import { outboxMigrationSql } from '@carve/shared-messaging';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { checkTenancy, edge, fastifyHttpServer, platformFastifyApp, startService, type CarvedService } from './index';

const env = serviceEnvSchema({ port: 0, syncGroup: 'probe-service' });
const config = (vars: NodeJS.ProcessEnv) => loadServiceConfig('probe service', env, { PORT: '0', LOG_LEVEL: 'silent', CARVE_TRANSPORT: 'postgres', CARVE_FORWARD_SYNC: 'false', ...vars });

let db: TestDatabase;
const migrated: string[] = [];

const probe: CarvedService = {
  name: 'probe-service',
  schema: 'probe',
  migrate: async (url) => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(outboxMigrationSql('probe'));
    } finally {
      await c.end();
    }
    migrated.push(url);
  },
  http: async (deps) => {
    const app = await platformFastifyApp(deps);
    app.route({
      method: ['GET', 'POST'],
      url: '/api/v1/workspaces/:workspaceId/things',
      handler: async (req) => {
        checkTenancy(requireIdentity(req), req.method, (req.params as { workspaceId: string }).workspaceId);
        return edge(async () => {
          throw notFound('The thing');
        });
      },
    });
    return fastifyHttpServer(app);
  },
};

beforeAll(async () => {
  db = await createTestDatabase('shared_service');
});
afterAll(async () => {
  await db?.drop();
});

describe('startService', () => {
  it('starts a service with the platform endpoints, its migrations and its relay, and closes it in order', async () => {
    const service = await startService(probe, config({ DATABASE_URL: db.url }));
    try {
      expect(migrated).toEqual([db.url]);
      expect(service.relay).toBeDefined();
      expect(service.sync).toBeUndefined();
      expect(await (await fetch(`${service.url}/healthz`)).json()).toEqual({ status: 'ok', service: 'probe-service' });
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
      const ws = randomUUID();
      const auth = { authorization: `Bearer ${signToken({ sub: randomUUID(), tid: ws, role: 'viewer' }, DEV_JWT_SECRET)}` };
      const missing = await fetch(`${service.url}/api/v1/workspaces/${ws}/things`, { headers: auth });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ code: 'not_found', detail: expect.stringContaining('The thing') });
      const other = await fetch(`${service.url}/api/v1/workspaces/${randomUUID()}/things`, { headers: auth });
      expect(other.status).toBe(403);
      expect(await other.json()).toMatchObject({ code: 'workspace_mismatch' });
      const text = await fetch(`${service.url}/api/v1/workspaces/${ws}/things`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hi' });
      expect(text.status).toBe(415);
      service.http.beginDrain();
      expect((await fetch(`${service.url}/readyz`)).status).toBe(503);
    } finally {
      await service.close();
    }
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
    await expect(service.pool.query('SELECT 1')).rejects.toThrow(/pool/i);
    await service.close(); // a second close is a no-op
  });

  it('refuses to start without DATABASE_URL off the local platform', async () => {
    await expect(startService(probe, { ...config({ DATABASE_URL: db.url }), platform: 'kubernetes', databaseUrl: undefined })).rejects.toThrow(/DATABASE_URL is required/);
  });

  it('closes what had started when a later part fails', async () => {
    let pool: { ended: boolean } | undefined;
    const failing: CarvedService = {
      ...probe,
      http: async (deps) => {
        pool = deps.pool as unknown as { ended: boolean };
        throw new Error('no HTTP today');
      },
    };
    await expect(startService(failing, config({ DATABASE_URL: db.url, MIGRATE_ON_BOOT: 'false' }))).rejects.toThrow('no HTTP today');
    expect(pool?.ended).toBe(true);
  });
});

describe('the edge', () => {
  it("answers the kernel's rejections as problems and lets anything else through", async () => {
    const problem = (fail: () => never) => edge(async () => fail()).catch((err: unknown) => err);
    expect(await problem(() => { throw notFound('The note'); })).toMatchObject({ status: 404, code: 'not_found' });
    expect(await problem(() => { throw invalid([{ field: 'title', message: 'is required' }]); })).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(await problem(() => { throw conflict('already_linked', 'Linked.'); })).toMatchObject({ status: 409, code: 'already_linked', message: 'Linked.' });
    const other = new Error('boom');
    expect(await problem(() => { throw other; })).toBe(other);
    expect(await problem(() => { throw notFound('x'); })).toBeInstanceOf(ProblemError);
  });

  it('lets viewers read and not write, and refuses a path workspace that is no id', () => {
    const ws = randomUUID();
    expect(() => checkTenancy({ userId: 'u', workspaceId: ws, role: 'viewer' }, 'GET', ws)).not.toThrow();
    expect(() => checkTenancy({ userId: 'u', workspaceId: ws, role: 'viewer' }, 'POST', ws)).toThrow(expect.objectContaining({ code: 'forbidden_role' }));
    expect(() => checkTenancy({ userId: 'u', workspaceId: ws, role: 'maker' }, 'POST', ws.toUpperCase())).not.toThrow();
    expect(() => checkTenancy({ userId: 'u', workspaceId: 'nope', role: 'maker' }, 'GET', 'nope')).toThrow(expect.objectContaining({ code: 'not_found' }));
  });
});
