import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { appendToOutbox, type ConsumerHandle, createEvent, createPostgresTransport, type PostgresTransport, type RelayHandle, startConsumer, startRelay } from '@carve/shared-messaging';
import { Client, Pool } from 'pg';
import { Carving, CarvingError, ContextBusyError, defineCarvableContext } from '../src';
import { createWidgetSchemas, seedWidgets, TENANTS, widgets } from './support/widgets';

const WidgetChanged = { type: 'widget.changed', version: '1.0', source: 'svc', aggregateType: 'widget', topic: 'svc.widgets.v1' };

class NotOwner extends Error {}

describe('carving a context: stages, routes, cutover, rollback (real Postgres, Postgres transport)', () => {
  let db: TestDatabase;
  let c: Client;
  let carving: Carving;
  let pool: Pool;
  let transport: PostgresTransport;
  let relay: RelayHandle | undefined;
  let consumer: ConsumerHandle | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('carving_stages');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await createWidgetSchemas(c, { fence: true });
    await seedWidgets(c, 600);
    carving = await Carving.connect({ url: db.url, actor: 'alice', transport: 'postgres' });
    pool = new Pool({ connectionString: db.url, max: 4 });
    transport = createPostgresTransport({ databaseUrl: db.url });
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

  /** The monolith's reverse-sync consumer: applies the service's widget events, version-guarded. */
  const startReverseSync = async () => {
    consumer = await startConsumer({
      transport,
      group: widgets.reverseSync.group,
      topics: [...widgets.reverseSync.topics],
      schema: 'mono',
      pool,
      skipOrigins: ['mono'],
      handle: async (e, tx) => {
        const d = e.data as { id: string; tenant: string; name: string; colour: string };
        await tx.query(
          `INSERT INTO mono.widgets (id, tenant, name, colour, version) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, colour = EXCLUDED.colour, version = EXCLUDED.version WHERE widgets.version < EXCLUDED.version`,
          [d.id, d.tenant, d.name, d.colour, e.aggregateVersion],
        );
      },
    });
    await consumer.ready;
  };

  /**
   * A write the service acknowledges: only while it owns writes (its database's write fence
   * refuses it otherwise: CV409, or CV503 while a handover holds the fence); its event goes to its
   * outbox in the same transaction.
   */
  const serviceWrite = async (id: string, name: string): Promise<number> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const r = await client.query(
        `INSERT INTO svc.widgets AS t (id, tenant_id, label, colour_code, aggregate_version) VALUES ($1, $2, upper($3), '#f00', 1)
         ON CONFLICT (id) DO UPDATE SET label = upper($3), aggregate_version = t.aggregate_version + 1 RETURNING aggregate_version, tenant_id`,
        [id, TENANTS[0], name],
      );
      const version = r.rows[0].aggregate_version as number;
      await appendToOutbox(client, 'svc', [
        createEvent(WidgetChanged, { tenantId: r.rows[0].tenant_id, aggregateId: id, aggregateVersion: version, origin: 'widgets-service', data: { id, tenant: r.rows[0].tenant_id, name, colour: 'red' } }),
      ]);
      await client.query('COMMIT');
      return version;
    } catch (err) {
      await client.query('ROLLBACK');
      const code = (err as { code?: string }).code;
      if (code === 'CV409' || code === 'CV503') throw new NotOwner(`${code}: ${(err as Error).message}`);
      throw err;
    } finally {
      client.release();
    }
  };

  const overrides = async () =>
    Object.fromEntries((await carving.cp.listOverrides()).filter((o) => o.routeId.startsWith('widgets-')).map((o) => [o.routeId, o.mode === 'canary' ? `canary ${o.percent}` : o.mode]));

  it('rolls back a context that was never carved (no service tables yet): routes to the monolith, nothing to drain', async () => {
    const ghost = defineCarvableContext({
      ...widgets,
      name: 'ghost',
      routes: [{ id: 'ghost-read', kind: 'read' }],
      reverseSync: { ...widgets.reverseSync, outboxSchema: 'nowhere' },
    });
    const r = await carving.rollback(ghost, { reason: 'just in case' });
    expect(r).toMatchObject({ from: 'created', handover: null, change: { after: { stage: 'created', owner: 'monolith' } } });
    expect((await carving.cp.getOverride('ghost-read'))?.mode).toBe('monolith');
  });

  it('refuses to shadow what was never backfilled or verified, then walks the read stages with their routes', async () => {
    await expect(carving.moveTo(widgets, 'shadow', { reason: 'too early' })).rejects.toThrow('widgets cannot go from created to shadow: nothing was backfilled yet');
    const { report, stage } = await carving.backfill(widgets, { reason: 'initial copy' });
    expect(report.complete).toBe(true);
    expect(stage).toMatchObject({ stage: 'backfilled', owner: 'monolith', updatedBy: 'alice' });
    await expect(carving.moveTo(widgets, 'shadow', { reason: 'x' })).rejects.toMatchObject({ message: 'widgets has not been verified since it was backfilled', hint: 'run `carve verify widgets` (it must show no drift)' });
    expect((await carving.verify(widgets)).ok).toBe(true);

    const shadow = await carving.moveTo(widgets, 'shadow', { reason: 'compare responses' });
    expect(shadow.change.after).toMatchObject({ stage: 'shadow', previousStage: 'backfilled', reason: 'compare responses' });
    expect(await overrides()).toEqual({ 'widgets-read': 'shadow', 'widgets-write': 'monolith' });
    const audit = await carving.cp.audit({ target: 'context:widgets', limit: 10 });
    expect(audit[0]).toMatchObject({ actor: 'alice', action: 'stage.set', reason: 'compare responses', before: { stage: 'backfilled', owner: 'monolith' }, after: { stage: 'shadow', owner: 'monolith' } });
    expect((await carving.cp.audit({ target: 'route:widgets-read', limit: 1 }))[0]).toMatchObject({ actor: 'alice', after: { mode: 'shadow' } });

    await expect(carving.moveTo(widgets, 'reads-switched', { reason: 'skip' })).rejects.toThrow('the next stage is canary');
    await expect(carving.moveTo(widgets, 'canary', { reason: 'no percent' })).rejects.toThrow('a canary needs --percent');
    await carving.moveTo(widgets, 'canary', { percent: 50, reason: 'half the tenants' });
    expect(await overrides()).toEqual({ 'widgets-read': 'canary 50', 'widgets-write': 'monolith' });
    expect(await carving.stage(widgets)).toMatchObject({ stage: 'canary', canaryPercent: 50 });
    await expect(carving.cutoverWrites(widgets, { reason: 'too early' })).rejects.toThrow('writes can only be cut over from reads-switched');
    await carving.moveTo(widgets, 'reads-switched', { reason: 'all reads' });
    expect(await overrides()).toEqual({ 'widgets-read': 'service', 'widgets-write': 'monolith' });
  });

  it('does not cut writes over while the monolith cannot take the reverse sync', async () => {
    const err = await carving.cutoverWrites(widgets, { reason: 'go' }).catch((e) => e);
    expect(err).toBeInstanceOf(CarvingError);
    expect(err).toMatchObject({ code: 'reverse_sync_down', message: expect.stringContaining('mono-reverse-sync') });
    expect(await carving.stage(widgets)).toMatchObject({ stage: 'reads-switched', owner: 'monolith' });
  });

  it('cuts writes over after a fresh verify, and refuses while another command holds the context', async () => {
    await startReverseSync();
    relay = await startRelay({ databaseUrl: db.url, schema: 'svc', transport, pollIntervalMs: 200 });
    const busy = await carving.stages.withContextLock('widgets', () => carving.cutoverWrites(widgets, { reason: 'in parallel' }).catch((e) => e));
    expect(busy).toBeInstanceOf(ContextBusyError);
    const r = await carving.cutoverWrites(widgets, { reason: 'the service owns widgets now' });
    expect(r.verify.ok).toBe(true);
    expect(r.reverseSync).toBe('live');
    expect(r.change.after).toMatchObject({ stage: 'writes-switched', owner: 'service' });
    expect(r.change.after.ownerSince).not.toBeNull();
    expect(await overrides()).toEqual({ 'widgets-read': 'service', 'widgets-write': 'service' });
    expect((await carving.cp.audit({ target: 'context:widgets', limit: 1 }))[0]).toMatchObject({ action: 'stage.cutover-writes', after: { stage: 'writes-switched', owner: 'service', verifyRun: r.verify.runId } });
  });

  it('rolls back from writes-switched without losing a write the service acknowledged, while writes keep coming', async () => {
    const acked = new Map<string, { name: string; version: number }>();
    let refused = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop && i < 2000; i++) {
        const id = `00000000-0000-4000-8000-${String(i % 40).padStart(12, '0')}`;
        const name = `write ${i}`;
        try {
          const version = await serviceWrite(id, name);
          acked.set(id, { name, version });
        } catch (err) {
          if (!(err instanceof NotOwner)) throw err;
          refused += 1;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // Wait (bounded) until the service has acknowledged writes to many widgets.
    for (const deadline = Date.now() + 20_000; acked.size < 20 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    const polls: number[] = [];
    const result = await carving.rollback(widgets, { reason: 'service misbehaves', drainTimeoutMs: 20_000, onPoll: (l) => polls.push(l.pending) });
    stop = true;
    await writer;

    expect(result).toMatchObject({ from: 'writes-switched', change: { after: { stage: 'backfilled', owner: 'monolith' } } });
    expect(result.handover).toMatchObject({ phase: 'done', from: 'service', to: 'monolith', command: 'rollback' });
    expect(result.handover!.fenceMs).toBeGreaterThan(0);
    expect(polls.at(-1)).toBe(0);
    expect(acked.size).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(0); // writes were refused (not lost) while fenced, and after the flip
    expect(await overrides()).toEqual({ 'widgets-read': 'monolith', 'widgets-write': 'monolith' });
    const mono = new Map((await c.query('SELECT id, name, version FROM mono.widgets WHERE id = ANY($1)', [[...acked.keys()]])).rows.map((r) => [r.id, r]));
    for (const [id, w] of acked) expect(mono.get(id)).toMatchObject({ name: w.name, version: w.version });
    const trail = (await carving.cp.audit({ target: 'context:widgets', limit: 3 })).map((a) => a.action);
    expect(trail.slice(0, 2)).toEqual(['stage.rollback', 'stage.cutover-writes']);
    // Both sides' fences say the monolith owns the widgets again, and neither is fenced.
    const fence = (await c.query(`SELECT 'mono' AS side, owner, fenced_until FROM mono.write_fence UNION ALL SELECT 'svc', owner, fenced_until FROM svc.write_fence ORDER BY 1`)).rows;
    expect(fence).toEqual([
      { side: 'mono', owner: true, fenced_until: null },
      { side: 'svc', owner: false, fenced_until: null },
    ]);
  });

  it('stops a rollback whose reverse sync does not catch up in time, and gives the service its writes back', async () => {
    // back to writes-switched
    expect((await carving.verify(widgets)).ok).toBe(true);
    await carving.moveTo(widgets, 'shadow', { reason: 'again' });
    await carving.moveTo(widgets, 'canary', { percent: 100, reason: 'again' });
    await carving.moveTo(widgets, 'reads-switched', { reason: 'again' });
    await carving.cutoverWrites(widgets, { reason: 'again' });
    await consumer!.stop();
    consumer = undefined;
    const id = '00000000-0000-4000-8000-00000000abcd';
    const version = await serviceWrite(id, 'while the monolith sleeps');

    const err = await carving.rollback(widgets, { reason: 'try', drainTimeoutMs: 1200 }).catch((e) => e);
    expect(err).toBeInstanceOf(CarvingError);
    expect(err.code).toBe('drain_timeout');
    expect(err.message).toContain('1 event(s) of svc.outbox have not reached mono.inbox');
    expect(err.message).toContain('the service still owns them');
    expect(err.hint).toContain('mono-reverse-sync');
    // The handover was undone: the service takes writes again, the monolith still refuses them.
    expect(await serviceWrite('00000000-0000-4000-8000-00000000abce', 'after the undo')).toBe(1);
    await expect(c.query(`UPDATE mono.widgets SET name = 'split?' WHERE id = (SELECT id FROM mono.widgets ORDER BY id LIMIT 1)`)).rejects.toMatchObject({ code: 'CV409' });
    expect(await carving.stage(widgets)).toMatchObject({ stage: 'writes-switched', owner: 'service' });
    expect(await overrides()).toEqual({ 'widgets-read': 'service', 'widgets-write': 'service' });

    const status = await carving.status(widgets);
    expect(status.lag.reverse).toMatchObject({ pending: 2, group: 'mono-reverse-sync' });
    expect(status.routes.map((r) => [r.id, r.effective.mode, r.matchesStage])).toEqual([
      ['widgets-read', 'service', true],
      ['widgets-write', 'service', true],
    ]);

    await startReverseSync();
    const ok = await carving.rollback(widgets, { reason: 'monolith is back', drainTimeoutMs: 20_000 });
    expect(ok.change.after).toMatchObject({ stage: 'backfilled', owner: 'monolith' });
    expect((await c.query('SELECT name, version FROM mono.widgets WHERE id = $1', [id])).rows[0]).toEqual({ name: 'while the monolith sleeps', version });
    const after = await carving.status(widgets);
    expect(after).toMatchObject({ stage: { stage: 'backfilled' }, lag: { reverse: { pending: 0 } }, lastVerify: { ok: true } });
  });
});
