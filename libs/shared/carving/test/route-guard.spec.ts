/**
 * The stage machine and what the gateways serve and what the guard did (real Postgres):
 * a route is moved to the service only when every live gateway replica serves it; a read route
 * the guard rolled back is not moved back without an acknowledgement; `status` shows the
 * replicas, the trips and the next step.
 */
import { reportGatewayReplica } from '@carve/shared-control-plane';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Carving, RouteRefusedError } from '../src';
import { widgets } from './support/widgets';

describe('route switches against the gateway replicas and the guard', () => {
  let db: TestDatabase;
  let carving: Carving;

  beforeAll(async () => {
    db = await createTestDatabase('carving_route_guard');
    carving = await Carving.connect({ url: db.url, actor: 'alice', transport: 'postgres' });
  });

  afterAll(async () => {
    await carving?.close();
    await db?.drop();
  });

  const replica = (replicaId: string, routeIds: string[], tableHash = 'abc123') =>
    reportGatewayReplica(carving.cp.pool, { replicaId, hostname: `host-${replicaId}`, pid: 42, tableHash, routeIds, controlVersion: 1, startedAt: new Date().toISOString() });
  const override = async (id: string) => (await carving.cp.getOverride(id))?.mode ?? null;
  const refusal = async (p: Promise<unknown>): Promise<RouteRefusedError> => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RouteRefusedError);
    return err as RouteRefusedError;
  };

  it('refuses to send a route to the service that a live replica does not serve, naming the replica', async () => {
    await carving.stages.set('widgets', { stage: 'shadow' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
    await replica('gw-full', ['widgets-read', 'widgets-write']);
    await replica('gw-old', ['widgets-write'], 'def456');

    const err = await refusal(carving.moveTo(widgets, 'canary', { percent: 10, reason: 'ramp' }));
    expect(err.code).toBe('route_not_served');
    expect(err.message).toContain('widgets-read (not in the route table of gw-old on host-gw-old, table def456)');
    expect(err.hint).toMatch(/add the route to that environment's route table/);
    expect(err.details).toEqual({ routes: [{ routeId: 'widgets-read', replicas: ['gw-old'] }] });
    expect((await carving.stage(widgets)).stage).toBe('shadow');
    expect(await override('widgets-read')).toBeNull();

    const st = await carving.status(widgets);
    expect(st.replicas.live.map((r) => [r.replicaId, r.missingRoutes])).toEqual([['gw-full', []], ['gw-old', ['widgets-read']]]);
    expect(st.replicas.agreement).toMatchObject({ live: 2, agree: false, tableHashes: ['abc123', 'def456'], routesNotEverywhere: ['widgets-read'] });

    // Moving to the monolith is never refused: the replica without the route sends it there already.
    await carving.stages.applyRoutes(widgets, 'backfilled', { actor: 'alice', reason: 'back' });
    expect(await override('widgets-read')).toBe('monolith');

    // The old replica stops reporting (crashed): once it is no longer live, the switch goes ahead.
    await carving.cp.pool.query(`UPDATE carve.gateway_replicas SET last_seen = now() - interval '1 minute' WHERE replica_id = 'gw-old'`);
    await carving.moveTo(widgets, 'canary', { percent: 10, reason: 'ramp' });
    expect(await override('widgets-read')).toBe('canary');
    const after = await carving.status(widgets);
    expect(after.replicas).toMatchObject({ stale: 1, agreement: { live: 1, agree: true } });
  });

  it('keeps a read route the guard rolled back on the monolith until the trip is acknowledged', async () => {
    const trip = await carving.cp.recordGuardTrip({ routeId: 'widgets-read', reason: 'error rate 30.0% > 5.0% over the last 30s (30 errors in 100 requests)', gateway: 'gw-full' });
    expect(trip.context).toMatchObject({ context: 'widgets', action: 'rolled-back', stage: 'canary' });
    expect(await override('widgets-read')).toBe('monolith');

    const st = await carving.status(widgets);
    expect(st.guard).toMatchObject({ degraded: false, trips: [{ routeId: 'widgets-read', action: 'rolled-back' }] });
    expect(st.guard.next).toContain('--ack-guard-trip');

    // The next `carve stage` would undo the trip: refused, with the flag named.
    for (const [to, percent] of [['canary', 20], ['reads-switched', undefined]] as const) {
      const err = await refusal(carving.moveTo(widgets, to, { percent, reason: 'carry on' }));
      expect(err.code).toBe('guard_tripped');
      expect(err.message).toMatch(/^widgets: the guard moved widgets-read to the monolith at .* \(error rate 30\.0% > 5\.0%/);
      expect(err.hint).toContain('--ack-guard-trip');
    }
    expect(await override('widgets-read')).toBe('monolith');
    expect((await carving.stage(widgets)).stage).toBe('canary');

    // Shadow answers from the monolith: allowed, and the trip stays open.
    await carving.moveTo(widgets, 'shadow', { reason: 'look closer' });
    expect(await override('widgets-read')).toBe('shadow');
    expect(await carving.stages.openGuardTrips('widgets')).toHaveLength(1);

    // Acknowledged: the route moves, the trip is closed as acknowledged.
    await carving.moveTo(widgets, 'canary', { percent: 5, reason: 'fixed the pool size', ackGuardTrip: true });
    expect(await override('widgets-read')).toBe('canary');
    expect(await carving.stages.openGuardTrips('widgets')).toEqual([]);
    const audit = await carving.cp.pool.query(`SELECT resolved_by, resolution FROM carve.context_guard_trips WHERE route_id = 'widgets-read'`);
    expect(audit.rows).toEqual([{ resolved_by: 'alice', resolution: 'acknowledged (carving widgets → canary: fixed the pool size)' }]);
    expect((await carving.status(widgets)).guard).toEqual({ degraded: false, trips: [], next: null });
  });

  it('refuses a cutover before its verify and its fence when a live replica lacks a route or a read trip is open', async () => {
    await carving.stages.set('widgets', { stage: 'reads-switched' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
    await replica('gw-old', ['widgets-read'], 'def456');
    const notServed = await refusal(carving.cutoverWrites(widgets, { reason: 'go' }));
    expect(notServed).toMatchObject({ code: 'route_not_served', details: { routes: [{ routeId: 'widgets-write', replicas: ['gw-old'] }] } });

    await carving.cp.pool.query(`DELETE FROM carve.gateway_replicas WHERE replica_id = 'gw-old'`);
    await carving.cp.recordGuardTrip({ routeId: 'widgets-read', reason: 'error rate 9.0% > 5.0%', gateway: 'gw-full' });
    const tripped = await refusal(carving.cutoverWrites(widgets, { reason: 'go' }));
    expect(tripped.code).toBe('guard_tripped');
    expect(tripped.hint).toContain('`carve stage widgets reads --ack-guard-trip` first');

    // Nothing happened: no verify ran, no handover began, the stage and the write route are as they were.
    expect((await carving.cp.pool.query(`SELECT count(*)::int AS n FROM carve.verify_runs WHERE context = 'widgets'`)).rows[0].n).toBe(0);
    expect((await carving.cp.pool.query(`SELECT count(*)::int AS n FROM carve.handovers WHERE context = 'widgets'`)).rows[0].n).toBe(0);
    expect((await carving.stage(widgets)).stage).toBe('reads-switched');
    expect(await override('widgets-write')).not.toBe('service');

    // Acknowledged the way the hint says: the reads go to the service again, the trip is closed.
    await carving.moveTo(widgets, 'reads-switched', { reason: 'pool fixed', ackGuardTrip: true });
    expect(await override('widgets-read')).toBe('service');
    expect(await carving.stages.openGuardTrips('widgets')).toEqual([]);
    await carving.stages.checkRoutes(widgets, 'writes-switched');
  });

  it('marks the context degraded when a write route whose writes the service owns trips, and names the rollback', async () => {
    await carving.stages.set('widgets', { stage: 'writes-switched' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
    await carving.stages.applyRoutes(widgets, 'writes-switched', { actor: 'test', reason: 'setup' });
    expect(await override('widgets-write')).toBe('service');

    const trip = await carving.cp.recordGuardTrip({ routeId: 'widgets-write', reason: 'error rate 100.0% > 2.0% over the last 30s (20 errors in 20 requests)', gateway: 'gw-full' });
    expect(trip.change).toBeNull();
    expect(await override('widgets-write')).toBe('service');
    const st = await carving.status(widgets);
    expect(st.guard).toMatchObject({ degraded: true, next: 'npx carve rollback widgets', trips: [{ routeId: 'widgets-write', action: 'degraded', stage: 'writes-switched' }] });

    // Setting the route to the monolith (what the rollback does) resolves it.
    await carving.stages.applyRoutes(widgets, 'backfilled', { actor: 'alice', reason: 'rollback', action: 'route.rollback' });
    expect((await carving.status(widgets)).guard).toEqual({ degraded: false, trips: [], next: null });
  });
});
