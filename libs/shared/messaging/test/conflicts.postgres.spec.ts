/**
 * Sync conflicts in the consumer, on real Postgres and the Postgres transport: a handler that
 * returns a SyncConflict gets its event recorded in `<schema>.sync_conflicts` with both payloads,
 * the inbox row marked `conflict`, the stats and the metric counted, on the per-event path and
 * inside a run; the other events of the run apply. And `<schema>.written_versions` follows the
 * side's own outbox writes only.
 */
import { Registry } from 'prom-client';
import { Pool } from 'pg';
import { appendToOutbox, createPostgresTransport, outboxMigrationSql, type Envelope, type PostgresTransport, type RelayHandle, startConsumer, startRelay, dropSyncConflictsSqlV1, syncConflictsSqlV1, wroteVersionHere } from '../src';
import { migrate, noteEvent, testSource } from './support/events';
import { createTestDatabase, sql, type TestDatabase, waitFor } from './support/infra';

const SINK = 'conflict_sink';

describe('sync conflicts in the consumer', () => {
  let db: TestDatabase;
  let pool: Pool;
  let transport: PostgresTransport;
  let relay: RelayHandle;
  const src = testSource('conflictsrc');

  beforeAll(async () => {
    db = await createTestDatabase('sync_conflicts');
    await migrate(db.url, src, SINK);
    await sql(db.url, outboxMigrationSql(SINK, { createSchema: false }) + syncConflictsSqlV1(SINK, 'sink-service'));
    await sql(db.url, syncConflictsSqlV1(src.schema, 'source-side'));
    pool = new Pool({ connectionString: db.url, max: 4 });
    transport = createPostgresTransport({ databaseUrl: db.url, pollIntervalMs: 100 });
    relay = await startRelay({ databaseUrl: db.url, schema: src.schema, transport, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await relay?.stop();
    await transport?.close();
    await pool?.end();
    await db?.drop();
  });

  const write = async (events: ReturnType<typeof noteEvent>[]) => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await appendToOutbox(c, src.schema, events);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  };

  it('records a conflict with both payloads, marks the inbox, counts it, and applies the rest of the run', async () => {
    const registry = new Registry();
    const conflicting = new Set<string>();
    const consumer = await startConsumer({
      transport,
      pool,
      group: 'conflict-group',
      topics: [src.topic],
      schema: SINK,
      registry,
      handle: async (e, tx) => {
        if (conflicting.has(e.id)) return { context: 'notes', aggregateType: 'note', aggregateId: e.aggregateId, localOrigin: 'sink-service', localPayload: { title: `mine at v${e.aggregateVersion}` } };
        await tx.query(`INSERT INTO ${SINK}.notes (id, title, version) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, version = EXCLUDED.version`, [
          e.aggregateId, (e.data as { title: string }).title, e.aggregateVersion,
        ]);
      },
    });
    try {
      await consumer.ready;
      // Alone (the per-event path)...
      const alone = noteEvent(src, 'n1', 1, { origin: 'source-side' });
      conflicting.add(alone.envelope.id);
      await write([alone]);
      await waitFor('the first conflict', () => consumer.stats().conflicts === 1);
      // ...and in the middle of a run (the set-based path).
      const run = [noteEvent(src, 'n2', 1), noteEvent(src, 'n3', 1), noteEvent(src, 'n4', 1)];
      conflicting.add(run[1].envelope.id);
      await write(run);
      await waitFor('the run', () => consumer.stats().applied + consumer.stats().conflicts === 4);
      expect(consumer.stats()).toMatchObject({ applied: 2, conflicts: 2 });

      const rows = (await sql(db.url, `SELECT event_id::text, consumer, context, topic, aggregate_id, aggregate_version::int AS v, event_origin, local_origin, event_payload, local_payload FROM ${SINK}.sync_conflicts ORDER BY id`));
      expect(rows).toEqual([
        { event_id: alone.envelope.id, consumer: 'conflict-group', context: 'notes', topic: src.topic, aggregate_id: 'n1', v: 1, event_origin: 'source-side', local_origin: 'sink-service', event_payload: alone.envelope as unknown as Envelope, local_payload: { title: 'mine at v1' } },
        { event_id: run[1].envelope.id, consumer: 'conflict-group', context: 'notes', topic: src.topic, aggregate_id: 'n3', v: 1, event_origin: src.source, local_origin: 'sink-service', event_payload: run[1].envelope as unknown as Envelope, local_payload: { title: 'mine at v1' } },
      ]);
      const inbox = await sql(db.url, `SELECT aggregate_id, outcome FROM ${SINK}.inbox WHERE consumer = 'conflict-group' ORDER BY aggregate_id`);
      expect(inbox).toEqual([
        { aggregate_id: 'n1', outcome: 'conflict' },
        { aggregate_id: 'n2', outcome: 'applied' },
        { aggregate_id: 'n3', outcome: 'conflict' },
        { aggregate_id: 'n4', outcome: 'applied' },
      ]);
      expect((await sql(db.url, `SELECT id FROM ${SINK}.notes ORDER BY id`)).map((r) => r.id)).toEqual(['n2', 'n4']);
      expect(await registry.getSingleMetricAsString('carve_sync_conflicts_total')).toMatch(/carve_sync_conflicts_total\{context="notes",consumer="conflict-group"\} 2/);

      // A redelivery of a conflicting event is a duplicate: one conflict row, not two.
      await transport.publish([{ topic: src.topic, key: 'n1', value: JSON.stringify(alone.envelope) }]);
      await waitFor('the redelivery', () => consumer.stats().duplicate === 1);
      expect((await sql(db.url, `SELECT count(*)::int AS n FROM ${SINK}.sync_conflicts`))[0].n).toBe(2);
    } finally {
      await consumer.stop();
    }
  });

  it('written_versions follows the side\'s own outbox writes (the newest version), not the events of other origins', async () => {
    await write([noteEvent(src, 'w1', 1, { origin: 'source-side' }), noteEvent(src, 'w1', 2, { origin: 'source-side' }), noteEvent(src, 'w2', 1, { origin: 'elsewhere' })]);
    await write([noteEvent(src, 'w1', 1, { origin: 'source-side' })]); // an older one does not move it back
    const c = await pool.connect();
    try {
      expect(await wroteVersionHere(c, src.schema, 'note', 'w1', 2)).toBe(true);
      expect(await wroteVersionHere(c, src.schema, 'note', 'w1', 1)).toBe(false);
      expect(await wroteVersionHere(c, src.schema, 'note', 'w2', 1)).toBe(false);
    } finally {
      c.release();
    }
  });
  it("is undone by dropSyncConflictsSqlV1 (a migration's down): its tables, trigger and function are gone", async () => {
    await sql(db.url, 'CREATE SCHEMA undo_conflicts');
    await sql(db.url, outboxMigrationSql('undo_conflicts', { createSchema: false }) + syncConflictsSqlV1('undo_conflicts', 'undo-side'));
    await sql(db.url, dropSyncConflictsSqlV1('undo_conflicts'));
    const [left] = await sql(db.url, `SELECT to_regclass('undo_conflicts.sync_conflicts')::text AS conflicts, to_regclass('undo_conflicts.written_versions')::text AS versions,
      (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'undo_conflicts.outbox'::regclass AND tgname = 'outbox_written_version') AS triggers,
      (SELECT count(*)::int FROM pg_proc WHERE proname = 'record_written_version' AND pronamespace = 'undo_conflicts'::regnamespace) AS functions`);
    expect(left).toEqual({ conflicts: null, versions: null, triggers: 0, functions: 0 });
    await sql(db.url, 'DROP SCHEMA undo_conflicts CASCADE');
  });
});
