/**
 * Forward sync once on a real Kafka broker (KAFKA_BROKERS, else the local one from tools/kafka,
 * started or reused, stopped by PID afterwards only if this suite started it): the monolith's
 * events go legacy.outbox → relay → Kafka → the service's consumer, keyed by aggregate id; the
 * service then answers what the monolith would; a redelivery applies once; an older version is
 * skipped.
 */
import { randomUUID } from 'node:crypto';
import { request } from '@carve/shared-contract-kit';
import { type RunningKafka, startKafka, stopKafka } from '@carve/kafka-broker';
import { appendToOutbox, createKafkaTransport, type KafkaTransport, loadTopicDeclarations, outboxMigrationSql, pgTransactions, type RelayHandle, startRelay } from '@carve/shared-messaging';
import { createTestDatabase } from '@carve/shared-testing';
import { Pool } from 'pg';
import { monolithView, scenario } from './sync-events';
import { type ServiceHarness, sql, startServiceHarness, tokenFor, waitFor } from './support';

let kafka: RunningKafka | undefined;
let brokers: string[];
let h: ServiceHarness;
let transport: KafkaTransport;
let legacyRelay: RelayHandle;
let pool: Pool;

beforeAll(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  if (process.env.KAFKA_BROKERS) brokers = process.env.KAFKA_BROKERS.split(',').map((b) => b.trim());
  else {
    kafka = await startKafka({ log: () => undefined });
    brokers = kafka.brokers;
  }
  transport = createKafkaTransport({ brokers, clientId: 'insights-sync-test' });
  const wanted = new Set(['legacy.workspaces.v1', 'legacy.features.v1', 'legacy.notes.v1', 'legacy.note-feature-links.v1', 'insights.notes.v1', 'insights.note-features.v1']);
  await transport.ensureTopics(loadTopicDeclarations().filter((d) => wanted.has(d.name.replace(/\.dlq$/, ''))));
  const db = await createTestDatabase('insights_sync_kafka');
  await sql(db.url, outboxMigrationSql('legacy'));
  h = await startServiceHarness(
    'insights_sync_kafka',
    {
      CARVE_FORWARD_SYNC: 'true',
      CARVE_TRANSPORT: 'kafka',
      KAFKA_BROKERS: brokers.join(','),
      // A fresh group that starts at the end: the shared broker holds other runs' events.
      CARVE_SYNC_GROUP: `insights-test-${randomUUID().slice(0, 8)}`,
      CARVE_SYNC_FROM_BEGINNING: 'false',
    },
    { db },
  );
  await h.service.sync!.ready;
  pool = new Pool({ connectionString: db.url, max: 2 });
  legacyRelay = await startRelay({ databaseUrl: db.url, schema: 'legacy', transport, pollIntervalMs: 200 });
}, 120_000);

afterAll(async () => {
  await legacyRelay?.stop();
  await transport?.close();
  await pool?.end();
  await h?.close();
  if (kafka && !kafka.reused) await stopKafka({ dataDir: kafka.dataDir, log: () => undefined });
}, 60_000);

const write = (events: Parameters<typeof appendToOutbox>[2]) => pgTransactions(pool)((tx) => appendToOutbox(tx, 'legacy', events));

it('applies the monolith\'s events from Kafka once each, skipping older versions', async () => {
  const s = scenario();
  await write(s.initial);
  const url = `/api/v1/workspaces/${s.workspaceId}/notes/${s.note.id}`;
  const token = tokenFor(s.workspaceId, 'viewer');
  const first = await waitFor(
    'the synced note',
    async () => {
      const r = await request(h.url, 'GET', url, { token });
      return r.status === 200 && r.body.features.length === 1 ? r : undefined;
    },
    30_000,
  );
  expect(first!.body).toEqual(monolithView(s.note, 1, [{ featureId: s.features[0], importance: 'high' }]));

  await write([s.updated]);
  await transport.publish([{ topic: s.updated.topic, key: s.note.id, value: JSON.stringify(s.updated.envelope) }]); // redelivery
  await write([s.older]);
  await waitFor('duplicate and stale outcomes', () => {
    const st = h.service.sync!.stats();
    return st.duplicate >= 1 && st.stale >= 1;
  }, 30_000);
  expect((await request(h.url, 'GET', url, { token })).body).toEqual(monolithView(s.updated.envelope.data, 2, [{ featureId: s.features[0], importance: 'high' }]));
  const { rows } = await h.admin.query(`SELECT outcome, count(*)::int AS n FROM insights.inbox WHERE aggregate_id = $1 GROUP BY 1 ORDER BY 1`, [s.note.id]);
  expect(rows).toEqual([{ outcome: 'applied', n: 2 }, { outcome: 'stale', n: 1 }]);
});
