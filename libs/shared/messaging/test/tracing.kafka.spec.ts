/**
 * Trace context across Kafka, against a broker this file starts for itself (its own port and data
 * dir) and real Postgres, with an in-memory span exporter registered in this process: an event
 * written to the outbox inside a span gets a `create` span whose context the outbox row stores;
 * the relay's `send` span (child of it) goes in the Kafka record's headers; the consumer applies
 * the event in a `process` span, child of the relay's, read from those headers alone. An event
 * written outside any span carries no trace context and gets no span.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKafka, stopKafka } from '@carve/kafka-broker';
import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Client, Pool, type PoolClient } from 'pg';
import { appendToOutbox, type ConsumerHandle, createKafkaTransport, type EventHandler, type KafkaTransport, type RelayHandle, startConsumer, startRelay } from '../src';
import { migrate, noteEvent, sinkHandler, type TestSource, testSource } from './support/events';
import { createTestDatabase, sql, type TestDatabase, uniqueName, waitFor } from './support/infra';

const PORT = 19_500 + Math.floor(Math.random() * 50) * 2;
const SINK = 'sink';

describe('trace context across Kafka (record headers)', () => {
  let dataDir: string;
  let brokers: string[];
  let db: TestDatabase;
  let pool: Pool;
  let src: TestSource;
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const transports: KafkaTransport[] = [];
  let relay: RelayHandle | undefined;
  let consumer: ConsumerHandle | undefined;

  const transport = () => {
    const t = createKafkaTransport({ brokers, clientId: 'tracing', sessionTimeoutMs: 6000 });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    provider.register();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-tracing-kafka-'));
    brokers = (await startKafka({ port: PORT, dataDir, log: () => undefined })).brokers;
    db = await createTestDatabase('messaging_tracing');
    pool = new Pool({ connectionString: db.url, max: 4 });
    src = testSource(uniqueName('tr'));
    await migrate(db.url, src, SINK);
    await transport().ensureTopics([{ name: src.topic, partitions: 1, retentionMs: 3_600_000, cleanupPolicy: 'delete' }]);
  }, 120_000);

  afterAll(async () => {
    await consumer?.stop();
    await relay?.stop();
    for (const t of transports) await t.close();
    await pool?.end();
    await db?.drop();
    await provider.shutdown();
    await stopKafka({ dataDir, log: () => undefined }).catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('carries the context from the outbox row through the record headers to the consumer, which applies the event inside its span', async () => {
    // The span active in the handler, per event.
    const activeInHandler = new Map<string, string | undefined>();
    const apply = sinkHandler(SINK, 'tracing');
    const handle: EventHandler<PoolClient> = async (e, tx, meta) => {
      activeInHandler.set(e.aggregateId, trace.getSpan(context.active())?.spanContext().spanId);
      return apply(e, tx, meta);
    };
    relay = await startRelay({ databaseUrl: db.url, schema: src.schema, transport: transport(), pollIntervalMs: 100 });
    consumer = await startConsumer({ transport: transport(), pool, group: 'tracing', topics: [src.topic], schema: SINK, handle, maxEventsPerTransaction: 1 });
    await consumer.ready;

    const traced = noteEvent(src, 'traced', 1);
    const untraced = noteEvent(src, 'untraced', 1);
    const request = trace.getTracer('test').startSpan('request', { kind: SpanKind.SERVER });
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      await context.with(trace.setSpan(ROOT_CONTEXT, request), async () => {
        await c.query('BEGIN');
        await appendToOutbox(c, src.schema, [traced]);
        await c.query('COMMIT');
      });
      request.end();
      await appendToOutbox(c, src.schema, [untraced]);
    } finally {
      await c.end();
    }
    await waitFor('both events applied', () => consumer!.stats().applied === 2);

    const traceId = request.spanContext().traceId;
    const spans = await waitFor('the process span', () => {
      const all = exporter.getFinishedSpans();
      return all.some((s) => s.kind === SpanKind.CONSUMER) ? all : undefined;
    });
    expect(spans.every((s) => s.spanContext().traceId === traceId)).toBe(true);
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found).toHaveLength(1);
      return found[0];
    };
    const create = one(`create ${src.topic}`);
    const send = one(`send ${src.topic}`);
    const processed = one(`process ${src.topic}`);
    expect(create.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send.parentSpanContext?.spanId).toBe(create.spanContext().spanId);
    expect(processed.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect([create.kind, send.kind, processed.kind]).toEqual([SpanKind.PRODUCER, SpanKind.PRODUCER, SpanKind.CONSUMER]);
    expect(send.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.message.id': traced.envelope.id });
    expect(processed.attributes).toMatchObject({ 'messaging.message.id': traced.envelope.id, 'messaging.consumer.group.name': 'tracing', 'carve.outcome': 'applied' });

    // The handler ran inside the process span; the untraced event in none.
    expect(activeInHandler.get('traced')).toBe(processed.spanContext().spanId);
    expect(activeInHandler.get('untraced')).toBeUndefined();
    // The row kept the create span's context (the record carried the send span's, as the parent order shows); the untraced row none.
    const rows = await sql<{ key: string; headers: Record<string, string> | null }>(db.url, `SELECT key, headers FROM ${src.schema}.outbox ORDER BY seq`);
    expect(rows).toEqual([
      { key: 'traced', headers: { traceparent: `00-${traceId}-${create.spanContext().spanId}-01` } },
      { key: 'untraced', headers: null },
    ]);
  });
});
