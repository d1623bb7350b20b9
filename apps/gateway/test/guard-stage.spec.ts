/**
 * Routes exist where they are switched, and the guard respects the carving stage (real
 * Postgres, gateways in this process, a real insights-service process):
 *
 * - every replica reports the routes it serves; a route a live replica does not serve is not
 *   switched (`route_not_served`, naming the replica), until that replica's table has it;
 * - a write route whose writes the service owns is never moved to the monolith by the guard,
 *   even with its service dead: the context is marked degraded instead;
 * - what is not a failure of the upstream does not trip the guard: 60 `?sort=constructor`
 *   (400 from the real service), aborted uploads.
 */
import net from 'node:net';
import { type CarvableContext, RouteRefusedError, StageStore } from '@carve/shared-carving';
import { ControlPlaneClient, contextGuardTrips, listGatewayReplicas } from '@carve/shared-control-plane';
import { freePorts, type Proc, startProcess, type TestDatabase, waitHealthy } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { admin, gateway, http, RouteFiles, testDatabase, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

const WS = '0190a3b2-4c5d-7e6f-8a9b-3c1d2e3f4a5b';

/** What the carving commands know of the insights context: its name and routes (the descriptor lives in scope insights). */
const notes = { name: 'insights', routes: [{ id: 'notes-read', kind: 'read' }, { id: 'notes-write', kind: 'write' }] } as unknown as CarvableContext;

const table = (upstreams: { monolith: string; insights: string }, opts: { write?: boolean; readGuard?: string; writeGuard?: string } = {}) => `
upstreams:
  monolith: { url: ${upstreams.monolith} }
  insights: { url: ${upstreams.insights}, timeoutMs: 2000 }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET, HEAD], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
    fallback: false
    guard: ${opts.readGuard ?? '{ maxErrorRate: 0.05, window: 30s, minRequests: 50 }'}
${
  opts.write === false
    ? ''
    : `  - id: notes-write
    match: { methods: [POST, PUT, PATCH, DELETE], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
    guard: ${opts.writeGuard ?? '{ maxErrorRate: 0.02, window: 30s, minRequests: 10 }'}
`
}`;

/** A port nothing listens on: connections to it are refused. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('routes where they are switched, and a guard that respects the stage', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let service: TestUpstream;
  let cp: ControlPlaneClient;
  let stages: StageStore;
  const gateways: RunningGateway[] = [];
  const auth = { authorization: `Bearer ${token(WS)}` };

  beforeAll(async () => {
    [db, monolith, service] = await Promise.all([testDatabase('gateway_guard_stage'), TestUpstream.start('monolith'), TestUpstream.start('insights')]);
    files = new RouteFiles();
    cp = await ControlPlaneClient.connect({ url: db.url });
    stages = new StageStore(cp);
  });

  afterEach(async () => {
    for (const gw of gateways.splice(0)) await gw.close();
    monolith.reset();
    service.reset();
    await cp.pool.query('TRUNCATE carve.route_overrides, carve.guard_events, carve.context_stages, carve.context_routes, carve.context_guard_trips, carve.gateway_replicas');
  });

  afterAll(async () => {
    await cp?.close();
    await Promise.all([monolith?.close(), service?.close()]);
    await db?.drop();
    files?.remove();
  });

  const start = async (file: string, gatewayId: string) => {
    const gw = await gateway(db, file, { gatewayId });
    gateways.push(gw);
    return gw;
  };
  const effective = async (gw: RunningGateway, id: string) => (await admin(gw, 'GET', `/admin/routes/${id}`)).json;

  it('refuses to switch a route that a live replica does not serve, naming it, until its table has the route', async () => {
    const up = { monolith: monolith.url, insights: service.url };
    const full = await start(files.write(table(up), 'full.yaml'), 'gw-full');
    const oldFile = files.write(table(up, { write: false }), 'old.yaml');
    const old = await start(oldFile, 'gw-old');

    const replicas = await listGatewayReplicas(cp.pool);
    expect(replicas.map((r) => [r.replicaId, r.routeIds, r.live])).toEqual([
      ['gw-full', ['notes-read', 'notes-write'], true],
      ['gw-old', ['notes-read'], true],
    ]);
    expect(replicas[0].tableHash).toBe(full.routeFile.status().hash);
    expect(replicas[1].tableHash).toBe(old.routeFile.status().hash);

    await stages.set('insights', { stage: 'writes-switched' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
    const err = await stages.applyRoutes(notes, 'writes-switched', { actor: 'ana', reason: 'cutover' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RouteRefusedError);
    expect(err).toMatchObject({ code: 'route_not_served', details: { routes: [{ routeId: 'notes-write', replicas: ['gw-old'] }] } });
    expect((err as Error).message).toContain(`notes-write (not in the route table of gw-old on `);
    expect(await cp.listOverrides()).toEqual([]);

    // The old replica's table gets the route (a deploy, a ConfigMap change): it reports at once.
    files.write(table(up), 'old.yaml');
    await waitFor('gw-old to report notes-write', async () => (await listGatewayReplicas(cp.pool)).find((r) => r.replicaId === 'gw-old')?.routeIds.includes('notes-write'), 10_000, 50);
    await stages.applyRoutes(notes, 'writes-switched', { actor: 'ana', reason: 'cutover' });
    for (const gw of [full, old]) {
      await waitFor(`${gw.config.gatewayId} to apply notes-write`, async () => (await effective(gw, 'notes-write')).mode === 'service', 5000, 50);
    }
    const agreed = await listGatewayReplicas(cp.pool);
    expect(new Set(agreed.map((r) => r.tableHash)).size).toBe(1);

    // A replica that stops cleanly is gone from the list.
    await old.close();
    expect((await listGatewayReplicas(cp.pool)).map((r) => r.replicaId)).toEqual(['gw-full']);
  });

  it('keeps a write route whose writes the service owns on the service when its service is dead: the context is degraded', async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const gw = await start(files.write(table({ monolith: monolith.url, insights: dead }), 'dead.yaml'), 'gw-dead');
    await stages.set('insights', { stage: 'writes-switched' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
    await stages.applyRoutes(notes, 'writes-switched', { actor: 'ana', reason: 'cutover' });
    await waitFor('notes-write on the service', async () => (await effective(gw, 'notes-write')).mode === 'service', 5000, 50);

    const post = () => http(`${gw.url}/api/v1/workspaces/${WS}/notes`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"title":"t","content":"c"}' });
    // Refused (502), then the breaker opens (503): both upstream_unavailable, from the gateway.
    const failed = async () => {
      const r = await post();
      expect({ status: r.status === 502 || r.status === 503, code: r.json?.code }).toEqual({ status: true, code: 'upstream_unavailable' });
    };
    for (let i = 0; i < 15; i++) await failed();
    const route = await waitFor('the guard to trip', async () => {
      const r = await effective(gw, 'notes-write');
      return r.guard.lastTrip?.recorded === 'control-plane' ? r : undefined;
    });
    expect(route.guard.lastTrip).toMatchObject({ action: 'kept', context: { name: 'insights', degraded: true } });
    expect(route).toMatchObject({ mode: 'service', override: { mode: 'service', updatedBy: 'ana' } });
    expect(await cp.getOverride('notes-write')).toMatchObject({ mode: 'service', updatedBy: 'ana' });

    // Writes keep failing on the service; none ever lands on the monolith.
    for (let i = 0; i < 15; i++) await failed();
    expect(monolith.count((s) => s.method === 'POST')).toBe(0);
    const trips = await contextGuardTrips(cp.pool, 'insights');
    expect(trips).toEqual([expect.objectContaining({ routeId: 'notes-write', action: 'degraded', stage: 'writes-switched' })]);
    expect(trips[0].trips).toBeGreaterThanOrEqual(1);
    expect((await cp.audit({ target: 'context:insights', limit: 5 }))[0]).toMatchObject({ actor: 'guard', action: 'context.guard-degraded' });
    const metrics = (await admin(gw, 'GET', '/metrics')).status === 200 ? (await admin(gw, 'GET', '/metrics')).text : (await http(`${gw.url}/metrics`)).text;
    expect(metrics).toMatch(/carve_gateway_guard_degraded_total\{route="notes-write"[^}]*\} [1-9]/);
  });

  it('does not trip on aborted uploads: the client went away, the upstream did nothing wrong', async () => {
    service.reset(async () => ({ status: 201, body: { ok: true } }));
    const gw = await start(files.write(table({ monolith: monolith.url, insights: service.url }), 'abort.yaml'), 'gw-abort');
    await stages.applyRoutes(notes, 'reads-switched', { actor: 'ana', reason: 'setup' });
    await cp.setOverride({ routeId: 'notes-write', mode: 'service', actor: 'ana', reason: 'try writes on the service' });
    await waitFor('notes-write on the service', async () => (await effective(gw, 'notes-write')).mode === 'service', 5000, 50);

    const port = Number(new URL(gw.url).port);
    const abortUpload = () =>
      new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write(
            `POST /api/v1/workspaces/${WS}/notes HTTP/1.1\r\nhost: x\r\nauthorization: ${auth.authorization}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${200 * 1024}\r\n\r\n`,
          );
          s.write(Buffer.alloc(64 * 1024, 1), () => setTimeout(() => s.destroy(), 20));
        });
        s.on('close', () => resolve());
        s.on('error', () => undefined);
      });
    for (let i = 0; i < 40; i++) await abortUpload();
    // Every abort was sent on to the service (the body was streaming) and none counted as its failure.
    const r = await waitFor('the 40 aborts to be seen', async () => {
      const x = await effective(gw, 'notes-write');
      return x.counters.clientAborts === 40 ? x : undefined;
    });
    expect(r.guard.lastTrip).toBeNull();
    expect(r.guard.stats.error).toBe(0);
    expect(r.mode).toBe('service');
    // A whole upload still goes through.
    const ok = await http(`${gw.url}/api/v1/workspaces/${WS}/notes`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1024) });
    expect(ok.status).toBe(201);
    expect(await cp.guardEvents({ routeId: 'notes-write' })).toEqual([]);
  });

  describe('with the real insights service', () => {
    let svc: Proc | undefined;
    let svcUrl: string;

    beforeAll(async () => {
      const port = await freePorts(1);
      svcUrl = `http://127.0.0.1:${port}`;
      svc = startProcess('insights-service', 'apps/insights-service/src/main.ts', { DATABASE_URL: db.url, PORT: String(port), PLATFORM: 'local', LOG_LEVEL: 'warn', CARVE_TRANSPORT: 'postgres', KAFKA_BROKERS: '' });
      await waitHealthy(svc, `${svcUrl}/readyz`);
    }, 90_000);

    afterAll(async () => {
      await svc?.stop();
    });

    it('answers 60 `?sort=constructor` with 400 through the gateway, and the guard does not trip', async () => {
      const gw = await start(
        files.write(table({ monolith: monolith.url, insights: svcUrl }, { readGuard: '{ maxErrorRate: 0.05, window: 30s, minRequests: 50 }' }), 'real.yaml'),
        'gw-real',
      );
      await stages.set('insights', { stage: 'reads-switched' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
      await stages.applyRoutes(notes, 'reads-switched', { actor: 'ana', reason: 'reads' });
      await waitFor('notes-read on the service', async () => (await effective(gw, 'notes-read')).mode === 'service', 5000, 50);

      const statuses = new Map<number, number>();
      for (let i = 0; i < 60; i++) {
        const key = ['constructor', '-constructor', '__proto__', 'toString'][i % 4];
        const r = await http(`${gw.url}/api/v1/workspaces/${WS}/notes?sort=${key}`, { headers: auth });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (i === 0) expect(r.json).toMatchObject({ status: 400, errors: [{ field: 'sort' }] });
      }
      expect([...statuses]).toEqual([[400, 60]]);
      const r = await effective(gw, 'notes-read');
      expect(r.guard.lastTrip).toBeNull();
      expect(r.guard.stats).toMatchObject({ error: 0, ok: 60 });
      expect(r.mode).toBe('service');
      expect(await cp.guardEvents({ routeId: 'notes-read' })).toEqual([]);
    });
  });
});
