import { asSyncApply, createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { createPostgresTransport, type ConsumerHandle, type PostgresTransport, type RelayHandle, startConsumer, startRelay } from '@carve/shared-messaging';
import { Client, Pool } from 'pg';
import { fenceSide, setSideOwner } from '@carve/shared-persistence';
import { Carving, CarvingError, getCohort, listCohorts, setCohort } from '../src';
import { createWidgetSchemas, seedWidgets, TENANTS, widgets } from './support/widgets';

/**
 * Per-workspace carving on the toy context, real Postgres: a workspace's reads and writes move on
 * their own (its fence rows on both sides, its per-workspace route overrides), the others stay;
 * a whole-context move refuses a workspace held back on the monolith unless told to include it,
 * and leaves no workspace row contradicting it; the rollback takes every workspace home.
 */
describe('carving one workspace at a time (real Postgres)', () => {
  let db: TestDatabase;
  let c: Client;
  let carving: Carving;
  let transport: PostgresTransport;
  let relay: RelayHandle | undefined;
  let consumer: ConsumerHandle | undefined;
  let pool: Pool;
  const [T0, T1, T2] = TENANTS;

  beforeAll(async () => {
    db = await createTestDatabase('carving_per_workspace');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await createWidgetSchemas(c, { fence: true });
    await seedWidgets(c, 60);
    carving = await Carving.connect({ url: db.url, actor: 'alice', transport: 'postgres' });
    transport = createPostgresTransport({ databaseUrl: db.url });
    // The monolith's reverse-sync consumer (the cutover checks it runs); widgets' events are not needed here.
    pool = new Pool({ connectionString: db.url, max: 3 });
    consumer = await startConsumer({ transport, group: widgets.reverseSync.group, topics: [...widgets.reverseSync.topics], schema: 'mono', pool, handle: async () => undefined });
    await consumer.ready;
    relay = await startRelay({ databaseUrl: db.url, schema: 'svc', transport, pollIntervalMs: 200 });
  });

  afterAll(async () => {
    await consumer?.stop();
    await relay?.stop();
    await transport?.close();
    await pool?.end();
    await carving?.close();
    await c?.end();
    await db?.drop();
  });

  const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'error');
  /** Who may write each tenant: [monolith, service] per tenant, as each side's fence answers (a write that changes nothing). */
  const writers = async () => {
    const out: Record<string, [string, string]> = {};
    for (const t of TENANTS) {
      out[t] = [
        await codeOf(c.query(`UPDATE mono.widgets SET name = name WHERE id = (SELECT id FROM mono.widgets WHERE tenant = $1 ORDER BY id LIMIT 1)`, [t])),
        await codeOf(c.query(`UPDATE svc.widgets SET label = label WHERE id = (SELECT id FROM svc.widgets WHERE tenant_id = $1 ORDER BY id LIMIT 1)`, [t])),
      ];
    }
    return out;
  };
  const sides = async () =>
    Object.fromEntries((await carving.cp.listWorkspaceOverrides('widgets')).map((o) => [`${o.routeId} ${o.workspaceId}`, o.side]));

  it('moves one workspace’s reads, then its writes, with a fenced handover of its rows only', async () => {
    await carving.backfill(widgets, { reason: 'copy' });
    await expect(carving.moveWorkspaces(widgets, [T0], 'shadow', { reason: 'x' })).rejects.toThrow('a workspace moves to reads or complete, not shadow');
    await expect(carving.moveWorkspaces(widgets, ['44444444-4444-4444-8444-444444444444'], 'reads-switched', { reason: 'x' })).rejects.toMatchObject({ code: 'unknown_workspace' });
    await expect(carving.cutoverWorkspaces(widgets, [T0], { reason: 'too early' })).rejects.toThrow(`cannot move workspace ${T0} (at backfilled: writes can only be cut over from reads-switched`);

    const reads = await carving.moveWorkspaces(widgets, [T0.toUpperCase()], 'reads-switched', { reason: 'internal first' });
    expect(reads.verify).toMatchObject({ ok: true, workspaces: 1 });
    expect(reads.workspaces).toEqual([expect.objectContaining({ workspaceId: T0, from: 'backfilled', to: 'reads-switched', handover: null })]);
    expect(await sides()).toEqual({ [`widgets-read ${T0}`]: 'service', [`widgets-write ${T0}`]: 'monolith' });

    const cut = await carving.cutoverWorkspaces(widgets, [T0], { reason: 'internal writes' });
    expect(cut.workspaces[0]).toMatchObject({ workspaceId: T0, from: 'reads-switched', to: 'writes-switched', handover: { phase: 'done', scope: T0, from: 'monolith', to: 'service' } });
    expect(await sides()).toEqual({ [`widgets-read ${T0}`]: 'service', [`widgets-write ${T0}`]: 'service' });
    // T0 is written by the service only; the others by the monolith only.
    expect(await writers()).toEqual({ [T0]: ['CV409', 'ok'], [T1]: ['ok', 'CV409'], [T2]: ['ok', 'CV409'] });
    const fence = (await c.query(`SELECT 'mono' AS side, scope, owner FROM mono.write_fence UNION ALL SELECT 'svc', scope, owner FROM svc.write_fence ORDER BY 1, 2`)).rows;
    expect(fence).toEqual([
      { side: 'mono', scope: '*', owner: true },
      { side: 'mono', scope: T0, owner: false },
      { side: 'svc', scope: '*', owner: false },
      { side: 'svc', scope: T0, owner: true },
    ]);

    const st = await carving.status(widgets);
    expect(st.stage.stage).toBe('backfilled');
    expect(st.workspaces).toMatchObject({ total: 3, complete: false });
    expect(st.workspaces.byStage.map((g) => [g.stage, g.count, g.workspaces])).toEqual([
      ['backfilled', 2, [T1, T2]],
      ['writes-switched', 1, [T0]],
    ]);
  });

  it('rolls one workspace back alone, the others untouched', async () => {
    await carving.verify(widgets);
    await carving.moveTo(widgets, 'shadow', { reason: 'compare' });
    await carving.moveTo(widgets, 'canary', { percent: 10, reason: 'some' });
    await carving.moveTo(widgets, 'reads-switched', { reason: 'all reads' });
    await carving.cutoverWorkspaces(widgets, [T1], { reason: 'a customer' });
    expect(await writers()).toEqual({ [T0]: ['CV409', 'ok'], [T1]: ['CV409', 'ok'], [T2]: ['ok', 'CV409'] });

    const back = await carving.rollbackWorkspaces(widgets, [T0], { reason: 'T0 misbehaves', drainTimeoutMs: 10_000 });
    expect(back.workspaces[0]).toMatchObject({ from: 'writes-switched', to: 'backfilled', handover: { phase: 'done', scope: T0, to: 'monolith' }, change: { followsContext: false } });
    expect(await writers()).toEqual({ [T0]: ['ok', 'CV409'], [T1]: ['CV409', 'ok'], [T2]: ['ok', 'CV409'] });
    expect(await sides()).toMatchObject({ [`widgets-read ${T0}`]: 'monolith', [`widgets-write ${T0}`]: 'monolith', [`widgets-write ${T1}`]: 'service' });
    expect((await carving.stages.workspaceStages('widgets')).map((w) => [w.workspaceId, w.stage])).toEqual([
      [T0, 'backfilled'],
      [T1, 'writes-switched'],
    ]);
  });

  it('refuses a whole-context cutover past a workspace held on the monolith, unless told to include it; then no workspace row contradicts it', async () => {
    const refused = await carving.cutoverWrites(widgets, { reason: 'everyone' }).catch((e) => e);
    expect(refused).toBeInstanceOf(CarvingError);
    expect(refused).toMatchObject({ code: 'workspace_overrides', message: expect.stringContaining(`${T0} (backfilled)`), hint: expect.stringContaining('--include-overrides') });
    expect(await writers()).toEqual({ [T0]: ['ok', 'CV409'], [T1]: ['CV409', 'ok'], [T2]: ['ok', 'CV409'] });

    const r = await carving.cutoverWrites(widgets, { reason: 'everyone', includeOverrides: true });
    expect(r.handover).toMatchObject({ phase: 'done', scope: '*' });
    expect(await writers()).toEqual({ [T0]: ['CV409', 'ok'], [T1]: ['CV409', 'ok'], [T2]: ['CV409', 'ok'] });
    expect(await carving.stages.workspaceStages('widgets')).toEqual([]);
    expect(await sides()).toEqual({});
    const fence = (await c.query(`SELECT 'mono' AS side, bool_or(owner) AS any_owner, bool_and(fenced_until IS NULL) AS unfenced FROM mono.write_fence UNION ALL SELECT 'svc', bool_and(owner), bool_and(fenced_until IS NULL) FROM svc.write_fence ORDER BY 1`)).rows;
    expect(fence).toEqual([
      { side: 'mono', any_owner: false, unfenced: true },
      { side: 'svc', any_owner: true, unfenced: true },
    ]);
    expect((await carving.status(widgets)).workspaces).toMatchObject({ total: 3, complete: false, byStage: [{ stage: 'writes-switched', count: 3, followsContext: true }] });
  });

  it('rolls the whole context back with every workspace, one cut over alone included', async () => {
    await carving.rollbackWorkspaces(widgets, [T2], { reason: 'T2 stays home', drainTimeoutMs: 10_000 });
    await expect(carving.moveTo(widgets, 'complete', { reason: 'done?' })).rejects.toMatchObject({ code: 'workspace_overrides' });
    const r = await carving.rollback(widgets, { reason: 'all home', drainTimeoutMs: 10_000 });
    expect(r.handover).toMatchObject({ phase: 'done', scope: '*', to: 'monolith' });
    expect(await writers()).toEqual({ [T0]: ['ok', 'CV409'], [T1]: ['ok', 'CV409'], [T2]: ['ok', 'CV409'] });
    expect(await carving.stages.workspaceStages('widgets')).toEqual([]);
    expect(await sides()).toEqual({});

    // With the context at rest on the monolith, a workspace moved alone and then cut over on its
    // own: the context's rollback still takes it home in one handover.
    await carving.verify(widgets);
    await carving.moveWorkspaces(widgets, [T1], 'reads-switched', { reason: 'again' });
    await carving.cutoverWorkspaces(widgets, [T1], { reason: 'again' });
    expect((await carving.rollback(widgets, { reason: 'all home', drainTimeoutMs: 10_000 })).handover).toMatchObject({ phase: 'done', scope: '*' });
    expect(await writers()).toEqual({ [T0]: ['ok', 'CV409'], [T1]: ['ok', 'CV409'], [T2]: ['ok', 'CV409'] });
  });

  it('backfills only some workspaces (no checkpoint, no stage change), never one whose writes the service owns', async () => {
    const checkpoints = (await carving.cp.pool.query(`SELECT source, rows_done, updated_at FROM carve.backfill_checkpoints WHERE context = 'widgets'`)).rows;
    await asSyncApply(pool, (tx) => tx.query('DELETE FROM svc.widgets WHERE tenant_id = $1', [T2]));
    expect((await carving.verify(widgets, { workspaces: [T2] })).ok).toBe(false);
    const { report, stage } = await carving.backfill(widgets, { workspaces: [T2], reason: 'refill T2' });
    expect(report).toMatchObject({ complete: true, rows: 20 });
    expect(stage.stage).toBe('backfilled');
    expect((await carving.verify(widgets, { workspaces: [T2] })).ok).toBe(true);
    expect((await carving.cp.pool.query(`SELECT source, rows_done, updated_at FROM carve.backfill_checkpoints WHERE context = 'widgets'`)).rows).toEqual(checkpoints);

    await carving.moveWorkspaces(widgets, [T1], 'reads-switched', { reason: 'again' });
    await carving.cutoverWorkspaces(widgets, [T1], { reason: 'again' });
    await expect(carving.backfill(widgets, { workspaces: [T1, T2] })).rejects.toThrow(`the service owns the writes of 1 workspace(s) of widgets (${T1})`);
    await expect(carving.backfill(widgets, {})).rejects.toThrow(`the service owns the writes of 1 workspace(s) of widgets (${T1})`);
    await carving.rollbackWorkspaces(widgets, [T1], { reason: 'done', drainTimeoutMs: 10_000 });
  });

  it('ends a workspace’s handover a killed command left open: finished after the flip (its stage and routes follow), undone before it', async () => {
    const killed = async (workspace: string, phase: 'draining' | 'flipping', oldGaveUp: boolean) => {
      const id = `killed-${workspace.slice(0, 4)}-${phase}`;
      await carving.cp.pool.query(
        `INSERT INTO carve.handovers (id, context, scope, command, from_owner, to_owner, target_stage, phase, fence_deadline, actor, reason, fenced_at)
         VALUES ($1, 'widgets', $2, 'cutover', 'monolith', 'service', 'writes-switched', $3, clock_timestamp() + interval '60 seconds', 'alice', 'killed', clock_timestamp())`,
        [id, workspace, phase],
      );
      await fenceSide(pool, 'svc', { context: 'widgets', scopes: [workspace], ttlMs: 60_000, handoverId: id, ownerIfNew: false });
      await fenceSide(pool, 'mono', { context: 'widgets', scopes: [workspace], ttlMs: 60_000, handoverId: id, ownerIfNew: true });
      if (oldGaveUp) await setSideOwner(pool, 'mono', { context: 'widgets', scopes: [workspace], owner: false, handoverId: id, requireFence: true, keepFenced: true });
    };
    await killed(T2, 'flipping', true);
    await killed(T0, 'draining', false);
    // Neither side takes those two workspaces' writes meanwhile; the third is untouched.
    expect(await writers()).toEqual({ [T0]: ['CV503', 'CV503'], [T1]: ['ok', 'CV409'], [T2]: ['CV503', 'CV503'] });
    expect((await carving.status(widgets)).handover.open).toMatchObject({ scope: T2, phase: 'flipping', command: 'cutover' });

    await carving.recoverHandover(widgets);
    expect(await writers()).toEqual({ [T0]: ['ok', 'CV409'], [T1]: ['ok', 'CV409'], [T2]: ['CV409', 'ok'] });
    expect((await carving.stages.workspaceStages('widgets')).map((w) => [w.workspaceId, w.stage])).toEqual([[T2, 'writes-switched']]);
    expect(await sides()).toEqual({ [`widgets-read ${T2}`]: 'service', [`widgets-write ${T2}`]: 'service' });
    const phases = (await carving.cp.pool.query(`SELECT scope, phase FROM carve.handovers WHERE id LIKE 'killed-%' ORDER BY scope`)).rows;
    expect(phases).toEqual([
      { scope: T0, phase: 'undone' },
      { scope: T2, phase: 'done' },
    ]);
    await carving.rollbackWorkspaces(widgets, [T2], { reason: 'tidy', drainTimeoutMs: 10_000 });
  });

  it('keeps cohorts: named lists of workspaces, audited', async () => {
    await setCohort(carving.cp.pool, 'internal', [T0, T1], { actor: 'alice', reason: 'our own' });
    await setCohort(carving.cp.pool, 'internal', [T0], { actor: 'bob', reason: 'T1 is a customer' });
    expect(await getCohort(carving.cp.pool, 'internal')).toMatchObject({ workspaces: [T0], updatedBy: 'bob' });
    expect((await listCohorts(carving.cp.pool)).map((x) => x.name)).toEqual(['internal']);
    expect((await carving.cp.audit({ target: 'cohort:internal', limit: 1 }))[0]).toMatchObject({ action: 'cohort.set', before: { workspaces: [T0, T1] }, after: { workspaces: [T0] } });
  });
});
