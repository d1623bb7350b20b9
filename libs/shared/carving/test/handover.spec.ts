import { fenceSide, readFence, setSideOwner } from '@carve/shared-persistence';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client, Pool } from 'pg';
import { Carving } from '../src';
import { createWidgetSchemas, seedWidgets, TENANTS, widgets } from './support/widgets';

/**
 * A handover that a killed command left half-way: the next command on the context ends it,
 * undone before the flip, finished after it; a fence nobody comes back to lifts by itself with the
 * owner unchanged; and whatever a side believes about the stage, only its database's fence decides
 * whether it may write, so the two sides never both accept a write.
 */
describe('handover recovery and the one-owner invariant (real Postgres)', () => {
  let db: TestDatabase;
  let c: Client;
  let pool: Pool;
  let carving: Carving;

  beforeAll(async () => {
    db = await createTestDatabase('carving_handover');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await createWidgetSchemas(c, { fence: true });
    await seedWidgets(c, 20);
    pool = new Pool({ connectionString: db.url, max: 4 });
    carving = await Carving.connect({ url: db.url, actor: 'alice', transport: 'postgres' });
  });

  afterAll(async () => {
    await carving?.close();
    await pool?.end();
    await c?.end();
    await db?.drop();
  });

  const monoWrite = () => codeOf(c.query(`UPDATE mono.widgets SET name = name || '.' WHERE id = (SELECT id FROM mono.widgets ORDER BY id LIMIT 1)`));
  const svcWrite = () =>
    codeOf(c.query(`INSERT INTO svc.widgets (id, tenant_id, label, colour_code, aggregate_version) VALUES (gen_random_uuid(), $1, 'x', '#000', 1)`, [TENANTS[0]]));
  const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
  const owners = async () => ({
    mono: (await readFence(pool, 'mono', 'widgets'))[0],
    svc: (await readFence(pool, 'svc', 'widgets'))[0],
  });

  /** What a cutover killed at `phase` leaves behind: its row and both fences. */
  const killedCutover = async (phase: 'draining' | 'flipping', opts: { oldGaveUp?: boolean; ttlMs?: number } = {}) => {
    const id = `killed-${phase}-${Date.now()}`;
    const ttl = opts.ttlMs ?? 60_000;
    await carving.cp.pool.query(
      `INSERT INTO carve.handovers (id, context, command, from_owner, to_owner, target_stage, phase, fence_deadline, actor, reason, fenced_at)
       VALUES ($1, 'widgets', 'cutover', 'monolith', 'service', 'writes-switched', $2, clock_timestamp() + make_interval(secs => $3::double precision / 1000), 'alice', 'killed', clock_timestamp())`,
      [id, phase, ttl],
    );
    await fenceSide(pool, 'svc', { context: 'widgets', scopes: [], ttlMs: ttl, handoverId: id, ownerIfNew: false });
    await fenceSide(pool, 'mono', { context: 'widgets', scopes: [], ttlMs: ttl, handoverId: id, ownerIfNew: true });
    if (opts.oldGaveUp) await setSideOwner(pool, 'mono', { context: 'widgets', scopes: [], owner: false, handoverId: id, requireFence: true, keepFenced: true });
    return id;
  };

  it('undoes a handover killed before the flip: both fences lift, the monolith still owns the writes', async () => {
    await killedCutover('draining');
    expect([await monoWrite(), await svcWrite()]).toEqual(['CV503', 'CV503']);
    const status = await carving.status(widgets);
    expect(status.handover.open).toMatchObject({ command: 'cutover', phase: 'draining', to: 'service' });

    const done = await carving.recoverHandover(widgets);
    expect(done).toMatchObject({ phase: 'undone', error: expect.stringContaining('before the flip') });
    expect([await monoWrite(), await svcWrite()]).toEqual(['ok', 'CV409']);
    expect(await owners()).toMatchObject({ mono: { owner: true, fencedUntil: null }, svc: { owner: false, fencedUntil: null } });
    expect(await carving.stage(widgets)).toMatchObject({ owner: 'monolith' });
    expect((await carving.status(widgets)).handover).toMatchObject({ open: null, last: { phase: 'undone' } });
  });

  it('finishes a handover killed after the old owner gave the writes up: the new side owns them, routes and stage follow', async () => {
    await killedCutover('flipping', { oldGaveUp: true });
    // Nobody owns the writes in between (never two): both refuse.
    expect([await monoWrite(), await svcWrite()]).toEqual(['CV503', 'CV503']);

    const done = await carving.recoverHandover(widgets);
    expect(done).toMatchObject({ phase: 'done', command: 'cutover' });
    expect([await monoWrite(), await svcWrite()]).toEqual(['CV409', 'ok']);
    expect(await carving.stage(widgets)).toMatchObject({ stage: 'writes-switched', owner: 'service' });
    expect(Object.fromEntries((await carving.cp.listOverrides()).filter((o) => o.routeId.startsWith('widgets-')).map((o) => [o.routeId, o.mode]))).toEqual({
      'widgets-read': 'service',
      'widgets-write': 'service',
    });
    expect((await carving.cp.audit({ target: 'context:widgets', limit: 1 }))[0]).toMatchObject({ action: 'stage.cutover-resumed' });
  });

  it('undoes a handover killed in the flip before the old owner gave up (the flip did not commit)', async () => {
    // Back to the monolith owning the writes, as after a rollback.
    await setSideOwner(pool, 'svc', { context: 'widgets', scopes: [], owner: false, handoverId: null });
    await setSideOwner(pool, 'mono', { context: 'widgets', scopes: [], owner: true, handoverId: null });
    await killedCutover('flipping');
    const done = await carving.recoverHandover(widgets);
    expect(done).toMatchObject({ phase: 'undone' });
    expect([await monoWrite(), await svcWrite()]).toEqual(['ok', 'CV409']);
  });

  it('a fence nobody comes back to lifts by itself at its deadline, the owner unchanged, and then cannot flip', async () => {
    const id = await killedCutover('draining', { ttlMs: 300 });
    expect(await monoWrite()).toBe('CV503');
    // Wait (bounded) for the deadline on the database's clock.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      if ((await monoWrite()) === 'ok') break;
    }
    expect([await monoWrite(), await svcWrite()]).toEqual(['ok', 'CV409']);
    await expect(setSideOwner(pool, 'mono', { context: 'widgets', scopes: [], owner: false, handoverId: id, requireFence: true })).rejects.toThrow('expired');
    expect(await carving.recoverHandover(widgets)).toMatchObject({ id, phase: 'undone' });
  });

  it('whatever a side believes the stage is, only its fence lets it write: never both', async () => {
    // The control plane says the service owns the writes (what a stale or forged view would say) ...
    await carving.stages.set('widgets', { stage: 'writes-switched' }, { actor: 'alice', reason: 'a stale belief', action: 'stage.set' });
    // ... but the databases' fences say the monolith does: the service's write is refused.
    expect([await monoWrite(), await svcWrite()]).toEqual(['ok', 'CV409']);
    // And the other way round.
    await carving.stages.set('widgets', { stage: 'backfilled' }, { actor: 'alice', reason: 'a stale belief', action: 'stage.set' });
    await setSideOwner(pool, 'mono', { context: 'widgets', scopes: [], owner: false, handoverId: null });
    await setSideOwner(pool, 'svc', { context: 'widgets', scopes: [], owner: true, handoverId: null });
    expect([await monoWrite(), await svcWrite()]).toEqual(['CV409', 'ok']);
  });
});
