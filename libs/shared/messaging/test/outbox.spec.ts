/**
 * The producing side on real Postgres: the outbox write is part of the caller's transaction,
 * and the relay ships every committed row, in order per aggregate, with one active relay per
 * outbox. The Postgres transport is the sink here (its log position is what "published" means);
 * the Kafka side runs the same relay in contract.kafka.spec.ts and faults.kafka.spec.ts.
 */
import { Client } from 'pg';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { appendToOutbox, createPostgresTransport, DLQ_HEADERS, type Envelope, type PostgresTransport, type RelayHandle, startRelay } from '../src';
import { CARVE_BIN, killChildren, spawnNode } from './support/child';
import { migrate, noteEvent, type TestSource, testSource, writeEvents } from './support/events';
import { createTestDatabase, sql, type TestDatabase, uniqueName, waitFor } from './support/infra';

describe('outbox and relay (Postgres)', () => {
  let db: TestDatabase;
  let src: TestSource;
  let transport: PostgresTransport;
  const relays: RelayHandle[] = [];

  const relay = async (extra: Partial<Parameters<typeof startRelay>[0]> = {}) => {
    const r = await startRelay({ databaseUrl: db.url, schema: src.schema, transport, pollIntervalMs: 100, standbyRetryMs: 100, ...extra });
    relays.push(r);
    return r;
  };
  const counts = async () =>
    (await sql<{ total: number; unpublished: number }>(db.url, `SELECT count(*)::int AS total, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM ${src.schema}.outbox`))[0];

  beforeAll(async () => {
    db = await createTestDatabase('outbox');
    src = testSource(uniqueName('ob'));
    await migrate(db.url, src, 'sink');
    transport = createPostgresTransport({ databaseUrl: db.url });
  });
  afterEach(async () => {
    await killChildren();
    for (const r of relays.splice(0)) await r.stop();
  });
  afterAll(async () => {
    await transport?.close();
    await db?.drop();
  });

  it('keeps an event only if its transaction commits (pg client and TypeORM EntityManager alike)', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    const rolledBack = noteEvent(src, 'atom-1', 1).envelope;
    const committed = noteEvent(src, 'atom-1', 2).envelope;
    await c.query('BEGIN');
    await appendToOutbox(c, src.schema, [rolledBack]);
    await c.query('ROLLBACK');
    await c.query('BEGIN');
    await appendToOutbox(c, src.schema, [committed]);
    await c.query('COMMIT');
    await c.end();

    const ds = new DataSource({ type: 'postgres', url: db.url });
    await ds.initialize();
    const viaOrmRolledBack = noteEvent(src, 'atom-2', 1).envelope;
    const viaOrmCommitted = noteEvent(src, 'atom-2', 2).envelope;
    await expect(
      ds.transaction(async (em) => {
        await appendToOutbox(em, src.schema, [viaOrmRolledBack]);
        throw new Error('the business write failed');
      }),
    ).rejects.toThrow('the business write failed');
    await ds.transaction((em) => appendToOutbox(em, src.schema, [viaOrmCommitted]));
    const qr = ds.createQueryRunner(); // a QueryRunner is an executor too
    await qr.startTransaction();
    await appendToOutbox(qr, src.schema, [noteEvent(src, 'atom-3', 1).envelope]);
    await qr.rollbackTransaction();
    await qr.release();
    await ds.destroy();

    const ids = (await sql<{ id: string }>(db.url, `SELECT id FROM ${src.schema}.outbox WHERE key LIKE 'atom-%' ORDER BY seq`)).map((r) => r.id);
    expect(ids).toEqual([committed.id, viaOrmCommitted.id]); // the rolled-back ones are not there, the committed ones are
    const stored = await sql(db.url, `SELECT topic, key, envelope FROM ${src.schema}.outbox WHERE id = $1`, [committed.id]);
    expect(stored[0]).toEqual({ topic: src.topic, key: 'atom-1', envelope: committed });
  });

  it('publishes a row committed after a later-sequenced one (selects unpublished rows, not "after the last id")', async () => {
    await relay();
    const slow = new Client({ connectionString: db.url });
    await slow.connect();
    await slow.query('BEGIN');
    const early = noteEvent(src, 'gap-1', 1).envelope;
    await appendToOutbox(slow, src.schema, [early]); // takes the lower seq, commits last
    const [late] = await writeEvents(db.url, src, ['gap-2'], 1);
    await waitFor('the later row published', async () => (await sql(db.url, `SELECT 1 FROM ${src.schema}.outbox WHERE id = $1 AND published_at IS NOT NULL`, [late.id])).length);
    await slow.query('COMMIT');
    await slow.end();
    const rows = await waitFor('the earlier-sequenced row published too', async () => {
      const r = await sql<{ id: string; seq: string; log_pos: string }>(
        db.url,
        `SELECT id, seq, log_pos FROM ${src.schema}.outbox WHERE id = ANY($1::uuid[]) AND published_at IS NOT NULL ORDER BY log_pos`,
        [[early.id, late.id]],
      );
      return r.length === 2 ? r : undefined;
    });
    // Log order follows commit order: the late-committed row is after the other in the log.
    expect(rows.map((r) => r.id)).toEqual([late.id, early.id]);
    expect(BigInt(rows[1].seq)).toBeLessThan(BigInt(rows[0].seq));
  });

  it('ships in seq order, so in order per aggregate, from concurrent writers', async () => {
    const aggregates = Array.from({ length: 8 }, (_, i) => `ord-${i}`);
    await Promise.all([0, 1, 2, 3].map((w) => writeEvents(db.url, src, aggregates.filter((_, i) => i % 4 === w), 15, 3)));
    await relay({ batchSize: 17 }); // odd batch size: batches cut across aggregates
    await waitFor('all published', async () => (await counts()).unpublished === 0);
    const rows = await sql<{ key: string; v: number }>(
      db.url,
      `SELECT key, (envelope->>'aggregateVersion')::int AS v FROM ${src.schema}.outbox WHERE key LIKE 'ord-%' ORDER BY log_pos`,
    );
    expect(rows).toHaveLength(8 * 15);
    const byKey: Record<string, number[]> = {};
    for (const r of rows) (byKey[r.key] ??= []).push(r.v);
    for (const a of aggregates) expect(byKey[a]).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it('is woken by NOTIFY at commit (no waiting for the poll)', async () => {
    const r = await relay({ pollIntervalMs: 60_000 });
    await r.activated;
    await new Promise((res) => setTimeout(res, 200)); // the first drain is done; now it sleeps up to 60 s
    const t0 = Date.now();
    const [e] = await writeEvents(db.url, src, ['wake-1'], 1);
    await waitFor('published', async () => (await sql(db.url, `SELECT 1 FROM ${src.schema}.outbox WHERE id = $1 AND published_at IS NOT NULL`, [e.id])).length, 5000, 10);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('runs one relay at a time; a standby takes over when the active one stops', async () => {
    const a = await relay({ name: 'relay-a' });
    await a.activated;
    const b = await relay({ name: 'relay-b' });
    await new Promise((res) => setTimeout(res, 300));
    expect([a.isActive(), b.isActive()]).toEqual([true, false]);
    const locks = await sql(db.url, `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext($1)::oid`, [src.schema]);
    expect(locks[0].n).toBe(1);
    await writeEvents(db.url, src, ['take-1'], 3);
    await waitFor('a published', async () => a.stats().published >= 3);
    await a.stop();
    await b.activated;
    await writeEvents(db.url, src, ['take-1'], 3, 1, 4);
    await waitFor('b published the rest', async () => (await counts()).unpublished === 0);
    expect(b.stats().published).toBe(3);
  });

  it('deletes rows the retention period after publishing them, however old they were before', async () => {
    const registry = new Registry();
    await waitFor('earlier tests\' rows published', async () => (await counts()).unpublished === 0);
    await sql(db.url, `DELETE FROM ${src.schema}.outbox`);
    await writeEvents(db.url, src, ['keep-1'], 2);
    await sql(db.url, `UPDATE ${src.schema}.outbox SET created_at = now() - interval '30 days'`); // old, but never published
    const r = await relay({ retentionMs: 300, cleanupIntervalMs: 100, registry });
    await waitFor('published rows deleted', async () => (await counts()).total === 0, 10_000);
    expect(r.stats().published).toBe(2); // shipped first, deleted after
    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string) => metrics.find((m) => m.name === name)?.values.find((v) => v.labels.schema === src.schema)?.value;
    expect(value('carve_relay_active')).toBe(1);
    expect(value('carve_outbox_backlog')).toBe(0);
    expect(value('carve_relay_published_total')).toBeGreaterThanOrEqual(2);
    expect(metrics.find((m) => m.name === 'carve_relay_event_latency_seconds')).toBeDefined();
  });

  it('carve events tail and carve events dlq list|replay work on the postgres transport', async () => {
    await relay();
    const flags = ['--transport', 'postgres', '--database-url', db.url];
    const tail = spawnNode(CARVE_BIN, ['events', 'tail', src.topic, '--max', '3', ...flags], {});
    await tail.waitForLine(/tailing/);
    const written = await writeEvents(db.url, src, ['tail-1'], 3);
    expect(await tail.exited).toMatchObject({ code: 0 });
    const printed = tail.stdout.filter(Boolean).map((l) => JSON.parse(l) as Envelope);
    expect(printed.map((e) => e.id)).toEqual(written.map((e) => e.id)); // as they arrived, in order

    const dead = noteEvent(src, 'dead-1', 1).envelope;
    await transport.publish([{
      topic: `${src.topic}.dlq`, key: 'dead-1', value: JSON.stringify(dead),
      headers: { [DLQ_HEADERS.originalTopic]: src.topic, [DLQ_HEADERS.offset]: '42', [DLQ_HEADERS.reason]: 'handler-failed', [DLQ_HEADERS.error]: 'boom', [DLQ_HEADERS.eventId]: dead.id },
    }]);
    const list = spawnNode(CARVE_BIN, ['events', 'dlq', 'list', '--topic', src.topic, '--json', ...flags], {});
    expect(await list.exited).toMatchObject({ code: 0 });
    const letters = list.stdout.filter(Boolean).map((l) => JSON.parse(l));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ originalTopic: src.topic, eventId: dead.id, reason: 'handler-failed', error: 'boom', replayedAt: null });

    const replay = spawnNode(CARVE_BIN, ['events', 'dlq', 'replay', src.topic, '--id', dead.id, ...flags], {});
    expect(await replay.exited).toMatchObject({ code: 0 });
    // Back in the outbox (as a new row carrying the same event), and published by the relay.
    await waitFor('the replayed event published', async () =>
      (await sql(db.url, `SELECT 1 FROM ${src.schema}.outbox WHERE envelope->>'id' = $1 AND published_at IS NOT NULL`, [dead.id])).length);
    expect((await transport.listDeadLetters({ topic: src.topic }))[0].replayedAt).not.toBeNull();
    const again = spawnNode(CARVE_BIN, ['events', 'dlq', 'replay', src.topic, '--id', dead.id, ...flags], {});
    expect(await again.exited).toMatchObject({ code: 1 }); // nothing left to replay, says so
    expect(again.stderr.join('\n')).toContain('no dead letters waiting');
  });
});
