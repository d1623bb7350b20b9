import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import {
  contextGuardTrips,
  ControlPlaneClient,
  listGatewayReplicas,
  pruneGatewayReplicas,
  recordContextRoutes,
  removeGatewayReplica,
  replicaAgreement,
  replicasMissing,
  reportGatewayReplica,
  resolveContextTrips,
} from './index';

describe('gateway replicas and guard trips on carved contexts', () => {
  let db: TestDatabase;
  let cp: ControlPlaneClient;

  beforeAll(async () => {
    db = await createTestDatabase('control_plane_trips');
    cp = await ControlPlaneClient.connect({ url: db.url });
  });

  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  const stage = (context: string, st: string, owner: 'monolith' | 'service') =>
    cp.pool.query(
      `INSERT INTO carve.context_stages (context, stage, owner) VALUES ($1, $2, $3) ON CONFLICT (context) DO UPDATE SET stage = EXCLUDED.stage, owner = EXCLUDED.owner`,
      [context, st, owner],
    );

  it('keeps what each replica serves, which ones are live, and whether they agree', async () => {
    const base = { hostname: 'host-a', pid: 1, controlVersion: 7, startedAt: new Date().toISOString() };
    await reportGatewayReplica(cp.pool, { ...base, replicaId: 'gw-a', tableHash: 'aaa', routeIds: ['notes-read', 'notes-write'] });
    await reportGatewayReplica(cp.pool, { ...base, replicaId: 'gw-b', tableHash: 'bbb', routeIds: ['notes-read'] });
    await reportGatewayReplica(cp.pool, { ...base, replicaId: 'gw-old', tableHash: 'ccc', routeIds: [] });
    await cp.pool.query(`UPDATE carve.gateway_replicas SET last_seen = now() - interval '1 minute' WHERE replica_id = 'gw-old'`);

    const replicas = await listGatewayReplicas(cp.pool, { liveWithinMs: 15_000 });
    expect(replicas.map((r) => [r.replicaId, r.live])).toEqual([['gw-a', true], ['gw-b', true], ['gw-old', false]]);
    expect(replicasMissing(replicas, 'notes-write').map((r) => r.replicaId)).toEqual(['gw-b']);
    expect(replicasMissing(replicas, 'notes-read')).toEqual([]);
    expect(replicaAgreement(replicas)).toEqual({
      live: 2,
      agree: false,
      sameControlVersion: true,
      tableHashes: ['aaa', 'bbb'],
      controlVersions: [7],
      routesNotEverywhere: ['notes-write'],
    });

    // gw-b is redeployed with the route; gw-old, killed a while ago, is forgotten.
    await reportGatewayReplica(cp.pool, { ...base, replicaId: 'gw-b', tableHash: 'aaa', routeIds: ['notes-read', 'notes-write'] });
    expect(await pruneGatewayReplicas(cp.pool, 3_600_000)).toBe(0);
    expect(await pruneGatewayReplicas(cp.pool, 30_000)).toBe(1);
    await removeGatewayReplica(cp.pool, 'gw-old'); // already gone: a no-op
    const after = await listGatewayReplicas(cp.pool);
    expect(after.map((r) => r.replicaId)).toEqual(['gw-a', 'gw-b']);
    expect(replicaAgreement(after)).toMatchObject({ live: 2, agree: true, routesNotEverywhere: [] });
  });

  it('never moves a write route whose writes the service owns: the context is marked degraded', async () => {
    await recordContextRoutes(cp.pool, 'ctx-w', [{ id: 'w-read', kind: 'read' }, { id: 'w-write', kind: 'write' }]);
    await stage('ctx-w', 'writes-switched', 'service');
    await cp.setOverride({ routeId: 'w-write', mode: 'service', actor: 'carve', reason: 'cutover' });

    const first = await cp.recordGuardTrip({ routeId: 'w-write', reason: 'error rate 100.0% > 2.0%', gateway: 'gw-a', stats: { error: 20, total: 20 } });
    expect(first.change).toBeNull();
    expect(first.event.rolledBack).toBe(false);
    expect(first.context).toMatchObject({ context: 'ctx-w', routeId: 'w-write', kind: 'write', action: 'degraded', stage: 'writes-switched', trips: 1 });
    expect(await cp.getOverride('w-write')).toMatchObject({ mode: 'service', updatedBy: 'carve' });
    const audit = await cp.audit({ target: 'context:ctx-w', limit: 5 });
    expect(audit[0]).toMatchObject({ actor: 'guard', action: 'context.guard-degraded', after: { degraded: true, route: 'w-write', gateway: 'gw-a' } });

    // Tripping again counts on the same open trip.
    const again = await cp.recordGuardTrip({ routeId: 'w-write', reason: 'error rate 90.0% > 2.0%', gateway: 'gw-b' });
    expect(again.context).toMatchObject({ id: first.context!.id, trips: 2, reason: 'error rate 90.0% > 2.0%', gateway: 'gw-b' });
    expect(await contextGuardTrips(cp.pool, 'ctx-w')).toHaveLength(1);
    expect(await cp.getOverride('w-write')).toMatchObject({ mode: 'service' });

    // The rollback sets the route to the monolith: the trip is resolved.
    expect(await resolveContextTrips(cp.pool, ['w-write'], 'ana', 'rolled back')).toHaveLength(1);
    expect(await contextGuardTrips(cp.pool, 'ctx-w')).toEqual([]);
    expect((await contextGuardTrips(cp.pool, 'ctx-w', { all: true }))[0]).toMatchObject({ resolvedBy: 'ana', resolution: 'rolled back' });
  });

  it('rolls a read route back (and a write route the monolith owns) and records the trip on the context', async () => {
    await recordContextRoutes(cp.pool, 'ctx-r', [{ id: 'r-read', kind: 'read' }, { id: 'r-write', kind: 'write' }]);
    await stage('ctx-r', 'canary', 'monolith');
    await cp.setOverride({ routeId: 'r-read', mode: 'canary', percent: 20, actor: 'carve', reason: 'ramp' });
    await cp.setOverride({ routeId: 'r-write', mode: 'service', actor: 'dave', reason: 'by hand' });

    const read = await cp.recordGuardTrip({ routeId: 'r-read', reason: 'error rate 30.0% > 5.0%', gateway: 'gw-a' });
    expect(read.change?.override).toMatchObject({ mode: 'monolith', updatedBy: 'guard' });
    expect(read.context).toMatchObject({ context: 'ctx-r', routeId: 'r-read', kind: 'read', action: 'rolled-back', stage: 'canary' });

    const write = await cp.recordGuardTrip({ routeId: 'r-write', reason: 'error rate 30.0% > 2.0%', gateway: 'gw-a' });
    expect(write.change?.override).toMatchObject({ mode: 'monolith', updatedBy: 'guard' });
    expect(write.context).toMatchObject({ kind: 'write', action: 'rolled-back' });

    // A route no carving command named: rolled back as always, nothing recorded on a context.
    await cp.setOverride({ routeId: 'loose', mode: 'service', actor: 'dave', reason: 'try' });
    const loose = await cp.recordGuardTrip({ routeId: 'loose', reason: 'error rate 50%' });
    expect(loose.change?.override).toMatchObject({ mode: 'monolith' });
    expect(loose.context).toBeNull();
    expect((await contextGuardTrips(cp.pool, 'ctx-r')).map((t) => t.routeId).sort()).toEqual(['r-read', 'r-write']);
  });
});
