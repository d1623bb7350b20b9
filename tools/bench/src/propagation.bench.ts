/**
 * End-to-end propagation of the event backbone, measured side by side in one run:
 *
 * 1. pipeline: producer transaction commits (business row + outbox row) → relay (NOTIFY) →
 *    transport → consumer applies it in one transaction with its inbox row → that commit.
 *    Latency = consumer commit returned − producer COMMIT sent, open-loop at a fixed rate (50
 *    and 500 events/s by default), per transport (kafka, postgres);
 * 2. baseline: a raw produce → consume round trip on the same broker, same rates: kafkajs with
 *    its default producer settings (acks -1, unlimited requests in flight), one message per
 *    send, to the consumer's callback, no database anywhere (reached through the Kafka adapter,
 *    as kafkajs itself stays behind the messaging port);
 * 3. floor (`--floor off` skips it): what any pipeline that commits on both sides costs here at
 *    least: the producer's transaction, the same raw send, and the consumer's transaction in its
 *    callback, with no outbox, relay or inbox (a dual write, which can lose events: measured only
 *    as a reference for the pipeline's ratio to the raw round trip);
 * 4. relay peak rate: events/s draining a pre-filled outbox (100k rows by default).
 *
 * The pipeline's consumer runs in a child process of its own by default (`--consumer process`),
 * as a service consumes apart from the monolith that writes and relays; `--consumer inline` puts
 * it in this process. Each pipeline row also gives its legs (commit, relay, delivery, apply).
 *
 * The Kafka pipeline runs once per producer setting of `--idempotent` (default `on,off`: the
 * idempotent producer as deployed, then kafkajs without it, in the same run, so their ratio is
 * read from one run).
 *
 * Usage:
 *   npm run bench:propagation -w @carve/bench -- [--duration 10] [--warmup 2] [--rates 50,500]
 *       [--transports kafka,postgres] [--relay-rows 100000] [--relay-batch 1000]
 *       [--consumer process|inline] [--floor on|off] [--idempotent on,off] [--tls off|on]
 * Postgres: DATABASE_URL, else the embedded server. Kafka: KAFKA_BROKERS (with KAFKA_SSL*,
 * KAFKA_SASL_* as the services read them), else the local broker (tools/kafka; started here if
 * not running, and then stopped again by PID). `--tls on` starts a broker of its own with a
 * TLS + SASL SCRAM-SHA-512 listener (certificates made with keytool) and runs every Kafka
 * measurement over it.
 */
import { startKafka, stopKafka } from '@carve/kafka-broker';
import { freePorts } from '@carve/shared-testing';
import {
  appendToOutbox,
  createEvent,
  createKafkaTransport,
  createPostgresTransport,
  type EventContractRef,
  inboxMigrationSql,
  type KafkaSecurity,
  kafkaSecurityFromEnv,
  outboxMigrationSql,
  perMessage,
  startConsumer,
  startRelay,
  type Transport,
  uuidv7,
} from '@carve/shared-messaging';
import { createDatabase, dropDatabase, resolveDatabase } from '@carve/shared-persistence';
import { randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Pool } from 'pg';
import { nowMs, parseArgs, type Summary, summarize } from './stats';
import { setTimeout as sleep } from 'node:timers/promises';

type Kind = 'kafka' | 'postgres';

const args = parseArgs(process.argv.slice(2));
const DURATION_S = Number(args.duration ?? 10);
const WARMUP_S = Number(args.warmup ?? 2);
const RATES = (args.rates ?? '50,500').split(',').map(Number);
const TRANSPORTS = (args.transports ?? 'kafka,postgres').split(',') as Kind[];
const RELAY_ROWS = Number(args['relay-rows'] ?? 100_000);
const RELAY_BATCH = Number(args['relay-batch'] ?? 1000);
const AGGREGATES = 1000;
const FLOOR = (args.floor ?? 'on') !== 'off';
/** The pipeline's Kafka producer settings to measure, in order: idempotent (as deployed) and/or not. */
const IDEMPOTENT = (args.idempotent ?? 'on,off').split(',').map((v) => {
  if (v !== 'on' && v !== 'off') throw new Error(`--idempotent takes on, off or on,off, not ${v}`);
  return v === 'on';
});
/** Every Kafka client over TLS + SASL SCRAM-SHA-512, against a broker started for the run. */
const TLS = (args.tls ?? 'off') === 'on';
/**
 * Where the pipeline's consumer runs: `process` (default) in a child process of its own, as a
 * service consumes apart from the monolith that produces and relays; `inline` in this process,
 * sharing one event loop with the producer and the relay.
 */
const CONSUMER_LAYOUT = (args.consumer ?? 'process') as 'process' | 'inline';
if (!['process', 'inline'].includes(CONSUMER_LAYOUT)) throw new Error(`--consumer is process or inline, not ${CONSUMER_LAYOUT}`);

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const rand = () => randomBytes(3).toString('hex');

interface Infra {
  dbUrl: string;
  brokers: string[];
  /** TLS and SASL for every Kafka client (undefined: plaintext). */
  security?: KafkaSecurity;
}

interface Row {
  what: string;
  transport: string;
  rate: number;
  latency: Summary;
  produced: number;
  lost: number;
  cpuUsPerEvent?: number;
  /** Where the pipeline's time goes, per measured event: p50/p99 of each leg (pipeline rows only). */
  stages?: Record<StageName, Summary>;
}

/**
 * The pipeline's legs, each measured per event: the producer's COMMIT round trip; from the
 * commit acknowledged to the relay's publish acknowledged by the transport; from there to the
 * consumer's handler starting on it; and the consumer's transaction (to its commit returned).
 */
const STAGES = ['commit', 'relay', 'delivery', 'apply'] as const;
type StageName = (typeof STAGES)[number];

const contract = (source: string): EventContractRef<{ title: string; content: string; tags: string[] }> => ({
  type: 'note.updated', version: '1.0', source, aggregateType: 'note',
});

async function exec(url: string, sql: string, params?: unknown[]): Promise<any[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

function makeTransport(kind: Kind, infra: Infra, idempotent = true): Transport {
  return kind === 'kafka'
    ? createKafkaTransport({ brokers: infra.brokers, clientId: 'carve-bench', idempotent, security: infra.security })
    : createPostgresTransport({ databaseUrl: infra.dbUrl, pollIntervalMs: 1000 });
}

async function declare(t: Transport, topic: string): Promise<void> {
  await t.ensureTopics([
    { name: topic, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
    { name: `${topic}.dlq`, partitions: 1, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
  ]);
}

/**
 * Calls `fire(i)` at t0 + i/rate for `seconds`, without waiting for earlier calls (open loop).
 * Returns when every call has settled.
 */
async function openLoop(rate: number, seconds: number, fire: (i: number) => Promise<void>): Promise<number> {
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inflight.push(fire(i));
  }
  await Promise.all(inflight);
  return total;
}

/** What the pipeline's consumer needs, whichever process it runs in. */
interface ConsumerSpec {
  kind: Kind;
  dbUrl: string;
  brokers: string[];
  security?: KafkaSecurity;
  topic: string;
  sink: string;
  group: string;
}

interface BenchConsumer {
  /** CPU time the consumer's own process has used, µs (0 inline: it is this process's). */
  cpuUs(): Promise<number>;
  stop(): Promise<void>;
}

type OnApplied = (id: string, handleStart: number, committedAt: number) => void;

/** The consumer in this process: the library's startConsumer applying each event to a table. */
async function benchConsumer(spec: ConsumerSpec, onApplied: OnApplied, selfCpu = false): Promise<BenchConsumer> {
  const transport = makeTransport(spec.kind, { dbUrl: spec.dbUrl, brokers: spec.brokers, security: spec.security });
  const pool = new Pool({ connectionString: spec.dbUrl, max: 6 });
  const started = new Map<string, number>();
  const consumer = await startConsumer({
    transport,
    pool,
    group: spec.group,
    topics: [spec.topic],
    schema: spec.sink,
    fromBeginning: true,
    handle: async (e, tx) => {
      if (!started.has(e.id)) started.set(e.id, nowMs());
      const d = e.data as { title: string };
      await tx.query(
        `INSERT INTO ${spec.sink}.notes (id, title, version) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, version = EXCLUDED.version`,
        [e.aggregateId, d.title, e.aggregateVersion],
      );
    },
    hooks: {
      afterCommit: (e, outcome) => {
        const at = nowMs();
        const handleStart = started.get(e.id) ?? 0;
        started.delete(e.id);
        if (outcome === 'applied') onApplied(e.id, handleStart, at);
      },
    },
  });
  await consumer.ready;
  return {
    cpuUs: async () => {
      if (!selfCpu) return 0;
      const u = process.cpuUsage();
      return u.user + u.system;
    },
    stop: async () => {
      await consumer.stop();
      await transport.close();
      await pool.end();
    },
  };
}

type ChildMessage = { type: 'ready' } | { type: 'applied'; items: Array<[string, number, number]> } | { type: 'cpu'; us: number } | { type: 'stopped' };

/** The consumer in a child process of its own (this file, `--role consumer`), reporting over IPC. */
async function consumerProcess(spec: ConsumerSpec, onApplied: OnApplied): Promise<BenchConsumer> {
  const child = fork(__filename, ['--role', 'consumer', '--spec', JSON.stringify(spec)], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<ChildMessage['type'], (m: ChildMessage) => void>();
  const next = (type: ChildMessage['type']) => new Promise<ChildMessage>((resolve) => waiting.set(type, resolve));
  let exited = false;
  child.on('exit', () => (exited = true));
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'applied') for (const [id, hs, at] of m.items) onApplied(id, hs, at);
    else waiting.get(m.type)?.(m);
  });
  const ready = next('ready');
  await Promise.race([ready, new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`the consumer process exited (${code}) before it was ready`))))]);
  return {
    cpuUs: async () => {
      const reply = next('cpu');
      child.send({ type: 'cpu' });
      return ((await reply) as { us: number }).us;
    },
    stop: async () => {
      if (exited) return;
      const done = next('stopped');
      child.send({ type: 'stop' });
      await done;
      await new Promise<void>((resolve) => (exited ? resolve() : child.once('exit', () => resolve())));
    },
  };
}

/** `--role consumer`: runs benchConsumer and reports applied events to the parent every 20 ms. */
async function consumerRole(spec: ConsumerSpec): Promise<void> {
  let pending: Array<[string, number, number]> = [];
  const flush = () => {
    if (pending.length === 0) return;
    process.send!({ type: 'applied', items: pending } satisfies ChildMessage);
    pending = [];
  };
  const consumer = await benchConsumer(spec, (id, hs, at) => pending.push([id, hs, at]), true);
  const timer = setInterval(flush, 20);
  process.on('message', async (m: { type: 'cpu' | 'stop' }) => {
    if (m.type === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ type: 'cpu', us: u.user + u.system } satisfies ChildMessage);
    } else if (m.type === 'stop') {
      await consumer.stop();
      clearInterval(timer);
      flush();
      process.send!({ type: 'stopped' } satisfies ChildMessage, undefined, {}, () => process.exit(0));
    }
  });
  process.send!({ type: 'ready' } satisfies ChildMessage);
}

async function pipeline(kind: Kind, rate: number, infra: Infra, idempotent = true): Promise<Row> {
  const source = `bp${rand()}`;
  const sink = `sink_${source}`;
  const topic = `${source}.notes.v1`;
  await exec(infra.dbUrl, `${outboxMigrationSql(source)} ${inboxMigrationSql(sink)}
    CREATE TABLE ${source}.notes (id text PRIMARY KEY, title text, version int);
    CREATE TABLE ${sink}.notes (id text PRIMARY KEY, title text, version int);`);
  const transport = makeTransport(kind, infra, idempotent);
  await declare(transport, topic);
  // Per event: COMMIT sent, COMMIT returned, publish acked, handler started (the legs of STAGES).
  const marks = new Map<string, [number, number, number, number]>();
  const relay = await startRelay({
    databaseUrl: infra.dbUrl,
    schema: source,
    transport,
    batchSize: RELAY_BATCH,
    hooks: {
      afterPublish: (batch) => {
        const at = nowMs();
        for (const r of batch) {
          const m = marks.get(r.id);
          if (m) m[2] = at;
        }
      },
    },
  });
  await relay.activated;
  const committedAt = new Map<string, number>();
  const legs: Record<StageName, number[]> = { commit: [], relay: [], delivery: [], apply: [] };
  const measureFrom = new Set<string>();
  const latencies: number[] = [];
  let consumed = 0;
  let early = 0;
  // The consumer's times (handler started, commit returned) come from its own process when it
  // runs apart: nowMs() is the machine's wall clock at sub-millisecond resolution in both.
  const onApplied = (id: string, handleStart: number, at: number) => {
    consumed += 1;
    const from = committedAt.get(id);
    if (from === undefined) early += 1;
    else if (measureFrom.has(id)) {
      latencies.push(at - from);
      const m = marks.get(id);
      if (m && m[1] && m[2] && handleStart) {
        legs.commit.push(m[1] - m[0]);
        legs.relay.push(m[2] - m[1]);
        legs.delivery.push(handleStart - m[2]);
        legs.apply.push(at - handleStart);
      }
    }
    marks.delete(id);
  };
  const consumerSpec: ConsumerSpec = { kind, dbUrl: infra.dbUrl, brokers: infra.brokers, security: infra.security, topic, sink, group: `bench-${source}` };
  const consumer = CONSUMER_LAYOUT === 'process' ? await consumerProcess(consumerSpec, onApplied) : await benchConsumer(consumerSpec, onApplied);

  const producerPool = new Pool({ connectionString: infra.dbUrl, max: 8 });
  const versions = new Map<string, number>();
  const warmupCount = Math.round(rate * WARMUP_S);
  const cpu0 = process.cpuUsage();
  const consumerCpu0 = await consumer.cpuUs();
  const produced = await openLoop(rate, WARMUP_S + DURATION_S, async (i) => {
    const aggregateId = `n-${i % AGGREGATES}`;
    const version = (versions.get(aggregateId) ?? 0) + 1;
    versions.set(aggregateId, version);
    const ev = createEvent(contract(source), {
      tenantId: 'w1', aggregateId, aggregateVersion: version,
      data: { title: `note ${i}`, content: 'x'.repeat(120), tags: ['a', 'b'] },
    });
    const c = await producerPool.connect();
    try {
      await c.query('BEGIN');
      await c.query(
        `INSERT INTO ${source}.notes (id, title, version) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, version = EXCLUDED.version`,
        [aggregateId, ev.envelope.data.title, version],
      );
      await appendToOutbox(c, source, [ev]);
      // Measured from the moment COMMIT is sent: the commit's own round trip counts against the
      // pipeline (conservative), and the consumer can never see the event before its start time.
      const sent = nowMs();
      committedAt.set(ev.envelope.id, sent);
      const m: [number, number, number, number] = [sent, 0, 0, 0];
      marks.set(ev.envelope.id, m);
      if (i >= warmupCount) measureFrom.add(ev.envelope.id);
      await c.query('COMMIT');
      m[1] = nowMs();
    } finally {
      c.release();
    }
  });
  const deadline = Date.now() + 60_000;
  while (consumed < produced && Date.now() < deadline) await sleep(50);
  const cpu = process.cpuUsage(cpu0);
  const consumerCpu = (await consumer.cpuUs()) - consumerCpu0;
  const [relayLag] = await exec(
    infra.dbUrl,
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
       FROM (SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM ${source}.outbox WHERE published_at IS NOT NULL) x`,
  );
  log(`  relay (row written → acked and marked): p50 ${Number(relayLag.p50).toFixed(1)} ms, p99 ${Number(relayLag.p99).toFixed(1)} ms; relay ${JSON.stringify(relay.stats())}`);
  await consumer.stop();
  await relay.stop();
  await transport.close();
  await producerPool.end();
  if (early) log(`${early} events were applied before their producer saw its own commit (not measured)`);
  return {
    what: kind === 'kafka' ? `pipeline (commit → consumer commit), ${idempotent ? 'idempotent producer' : 'producer not idempotent'}` : 'pipeline (commit → consumer commit)',
    transport: kind,
    rate,
    latency: summarize(latencies),
    produced,
    lost: produced - consumed,
    cpuUsPerEvent: (cpu.user + cpu.system + consumerCpu) / produced,
    stages: Object.fromEntries(STAGES.map((k) => [k, summarize(legs[k])])) as Record<StageName, Summary>,
  };
}

async function rawRoundTrip(rate: number, infra: Infra): Promise<Row> {
  const topic = `br${rand()}.raw.v1`;
  // kafkajs's own producer defaults (acks -1, unlimited requests in flight), one message per send.
  const transport = createKafkaTransport({ brokers: infra.brokers, clientId: 'carve-bench-raw', maxInFlightRequests: null, security: infra.security });
  await declare(transport, topic);
  const latencies: number[] = [];
  let received = 0;
  const warmupCount = Math.round(rate * WARMUP_S);
  const sub = await transport.subscribe({
    group: `bench-raw-${rand()}`,
    topics: [topic],
    fromBeginning: true,
    ephemeral: true,
    handler: perMessage(async (m) => {
      const at = nowMs();
      const { i, sentAt } = JSON.parse(m.value!.toString('utf8')) as { i: number; sentAt: number };
      received += 1;
      if (i >= warmupCount) latencies.push(at - sentAt);
      return true;
    }),
  });
  await sub.ready;
  const body = 'x'.repeat(300); // about the size of an envelope
  const produced = await openLoop(rate, WARMUP_S + DURATION_S, async (i) => {
    const id = uuidv7();
    await transport.publish([{ topic, key: `n-${i % AGGREGATES}`, value: JSON.stringify({ i, id, sentAt: nowMs(), body }) }]);
  });
  const deadline = Date.now() + 30_000;
  while (received < produced && Date.now() < deadline) await sleep(50);
  await sub.stop();
  await transport.close();
  return { what: 'raw kafkajs round trip (produce → consume)', transport: 'kafka', rate, latency: summarize(latencies), produced, lost: produced - received };
}

/**
 * The floor of any pipeline that commits on both sides: the producer's transaction (one row,
 * COMMIT), then the same raw kafkajs send as the baseline, and the consumer's transaction (one
 * row, COMMIT) in its callback. No outbox, no relay, no inbox: a dual write that can lose events,
 * measured only to show what two synchronous commits around the raw round trip cost here.
 */
async function commitFloor(rate: number, infra: Infra): Promise<Row> {
  const schema = `bf${rand()}`;
  const topic = `${schema}.floor.v1`;
  await exec(infra.dbUrl, `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.src (id text PRIMARY KEY, title text, version int); CREATE TABLE ${schema}.dst (id text PRIMARY KEY, title text, version int);`);
  const transport = createKafkaTransport({ brokers: infra.brokers, clientId: 'carve-bench-floor', maxInFlightRequests: null, security: infra.security });
  await declare(transport, topic);
  const pool = new Pool({ connectionString: infra.dbUrl, max: 8 });
  const latencies: number[] = [];
  let received = 0;
  const warmupCount = Math.round(rate * WARMUP_S);
  const upsert = (table: string) =>
    `INSERT INTO ${schema}.${table} (id, title, version) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, version = EXCLUDED.version`;
  const tx = async (table: string, id: string, title: string, version: number) => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(upsert(table), [id, title, version]);
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  };
  const sub = await transport.subscribe({
    group: `bench-floor-${rand()}`,
    topics: [topic],
    fromBeginning: true,
    ephemeral: true,
    handler: perMessage(async (m) => {
      const { i, id, sentAt, version } = JSON.parse(m.value!.toString('utf8')) as { i: number; id: string; sentAt: number; version: number };
      await tx('dst', id, `note ${i}`, version);
      const at = nowMs();
      received += 1;
      if (i >= warmupCount) latencies.push(at - sentAt);
      return true;
    }),
  });
  await sub.ready;
  const body = 'x'.repeat(300);
  const produced = await openLoop(rate, WARMUP_S + DURATION_S, async (i) => {
    const id = `n-${i % AGGREGATES}`;
    const version = Math.floor(i / AGGREGATES) + 1;
    const c = await pool.connect();
    let sentAt: number;
    try {
      await c.query('BEGIN');
      await c.query(upsert('src'), [id, `note ${i}`, version]);
      sentAt = nowMs();
      await c.query('COMMIT');
    } finally {
      c.release();
    }
    await transport.publish([{ topic, key: id, value: JSON.stringify({ i, id, sentAt, version, body }) }]);
  });
  const deadline = Date.now() + 30_000;
  while (received < produced && Date.now() < deadline) await sleep(50);
  await sub.stop();
  await transport.close();
  await pool.end();
  return { what: 'floor: commit → raw send → consume → commit (no outbox)', transport: 'kafka', rate, latency: summarize(latencies), produced, lost: produced - received };
}

async function relayPeak(kind: Kind, infra: Infra): Promise<{ transport: Kind; rows: number; seconds: number; perSecond: number }> {
  const source = `rp${rand()}`;
  const topic = `${source}.notes.v1`;
  await exec(infra.dbUrl, outboxMigrationSql(source));
  await exec(
    infra.dbUrl,
    `INSERT INTO ${source}.outbox (id, topic, key, envelope)
     SELECT id, $1, 'n-' || (g % 1000), jsonb_build_object(
       'id', id, 'type', 'note.updated', 'version', '1.0', 'source', $2::text, 'origin', $2::text, 'tenantId', 'w1',
       'aggregateType', 'note', 'aggregateId', 'n-' || (g % 1000), 'aggregateVersion', g / 1000 + 1,
       'occurredAt', now(), 'correlationId', id, 'causationId', null,
       'data', jsonb_build_object('title', 'note ' || g, 'content', repeat('x', 120), 'tags', jsonb_build_array('a', 'b')))
     FROM (SELECT g, gen_random_uuid() AS id FROM generate_series(1, $3::int) g) s`,
    [topic, source, RELAY_ROWS],
  );
  await exec(infra.dbUrl, `VACUUM ANALYZE ${source}.outbox`);
  const transport = makeTransport(kind, infra);
  await declare(transport, topic);
  if (kind === 'kafka') await transport.publish([{ topic: `${topic}.dlq`, key: null, value: '{}' }]); // connect the producer first
  const t0 = performance.now();
  const relay = await startRelay({ databaseUrl: infra.dbUrl, schema: source, transport, batchSize: RELAY_BATCH, pollIntervalMs: 50 });
  while (relay.stats().published < RELAY_ROWS) await sleep(20);
  const seconds = (performance.now() - t0) / 1000;
  await relay.stop();
  await transport.close();
  return { transport: kind, rows: RELAY_ROWS, seconds, perSecond: RELAY_ROWS / seconds };
}

const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

async function main(): Promise<void> {
  const db = await resolveDatabase();
  const dbName = `bench_${Date.now().toString(36)}_${rand()}`;
  const dbUrl = await createDatabase(db.url, dbName);
  let brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  let security = brokers.length > 0 ? kafkaSecurityFromEnv() : undefined;
  let startedKafka: string | undefined;
  let ownDataDir: string | undefined;
  if (TRANSPORTS.includes('kafka') && (brokers.length === 0 || TLS)) {
    if (TLS) {
      // A broker of the run's own with a SASL_SSL listener; every client is configured the way
      // the services are, from KAFKA_SSL* and KAFKA_SASL_* (the consumer process inherits them).
      const port = await freePorts(3);
      ownDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-bench-tls-kafka-'));
      const password = `bench-${rand()}`;
      const k = await startKafka({ port, controllerPort: port + 1, dataDir: ownDataDir, fresh: true, log: () => undefined, secure: { port: port + 2, users: [{ name: 'bench', password }] } });
      startedKafka = k.dataDir;
      brokers = k.secure!.brokers;
      Object.assign(process.env, { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: k.secure!.caFile, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'bench', KAFKA_SASL_PASSWORD: password });
      security = kafkaSecurityFromEnv();
    } else {
      const k = await startKafka({ log: () => undefined });
      brokers = k.brokers;
      if (!k.reused) startedKafka = k.dataDir;
    }
  }
  const infra: Infra = { dbUrl, brokers, security };
  const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
  log(`postgres ${db.source}, kafka ${brokers.join(',') || '-'} (${security?.tls || security?.sasl ? `TLS ${security.tls ? 'on' : 'off'}, SASL ${security.sasl?.mechanism ?? 'off'}` : 'plaintext'}); ${DURATION_S}s per rate after ${WARMUP_S}s warm-up; ${os.cpus().length} CPUs; load average ${load()}`);
  const rows: Row[] = [];
  const peaks: Awaited<ReturnType<typeof relayPeak>>[] = [];
  try {
    for (const rate of RATES) {
      if (TRANSPORTS.includes('kafka')) {
        log(`raw kafka round trip at ${rate}/s`);
        rows.push(await rawRoundTrip(rate, infra));
        if (FLOOR) {
          log(`floor (commit → raw send → consume → commit) at ${rate}/s`);
          rows.push(await commitFloor(rate, infra));
        }
      }
      for (const kind of TRANSPORTS) {
        for (const idempotent of kind === 'kafka' ? IDEMPOTENT : [true]) {
          log(`pipeline on ${kind}${kind === 'kafka' ? ` (${idempotent ? 'idempotent producer' : 'producer not idempotent'})` : ''} at ${rate}/s`);
          rows.push(await pipeline(kind, rate, infra, idempotent));
        }
      }
    }
    for (const kind of TRANSPORTS) {
      log(`relay peak on ${kind}: ${RELAY_ROWS} rows`);
      peaks.push(await relayPeak(kind, infra));
    }
  } finally {
    await dropDatabase(db.url, dbName).catch(() => undefined);
    await db.stop();
    if (startedKafka) await stopKafka({ dataDir: startedKafka, log: () => undefined });
    if (ownDataDir) fs.rmSync(ownDataDir, { recursive: true, force: true });
  }

  const out: string[] = [];
  out.push(`| measurement | transport | rate (events/s) | events | lost | p50 ms | p99 ms | max ms | node CPU µs/event |`);
  out.push(`| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const r of rows) {
    out.push(`| ${r.what} | ${r.transport} | ${r.rate} | ${r.latency.count} | ${r.lost} | ${f(r.latency.p50)} | ${f(r.latency.p99)} | ${f(r.latency.max)} | ${r.cpuUsPerEvent ? r.cpuUsPerEvent.toFixed(0) : '-'} |`);
  }
  out.push('');
  out.push(`| pipeline leg (p50 / p99 ms) | transport | rate (events/s) | ${STAGES.join(' | ')} |`);
  out.push(`| --- | --- | ---: | ${STAGES.map(() => '---:').join(' | ')} |`);
  for (const r of rows) {
    if (r.stages) out.push(`| pipeline${r.what.includes(', ') ? ` (${r.what.split(', ')[1]})` : ''} | ${r.transport} | ${r.rate} | ${STAGES.map((k) => `${f(r.stages![k].p50)} / ${f(r.stages![k].p99)}`).join(' | ')} |`);
  }
  out.push('');
  for (const rate of RATES) {
    const raw = rows.find((r) => r.rate === rate && r.what.startsWith('raw'));
    const kafkaRow = (idempotent: boolean) => rows.find((r) => r.rate === rate && r.transport === 'kafka' && r.what.startsWith('pipeline') && r.what.endsWith(idempotent ? 'idempotent producer' : 'producer not idempotent'));
    const kafka = kafkaRow(true) ?? kafkaRow(false);
    const plain = kafkaRow(false);
    const floor = rows.find((r) => r.rate === rate && r.what.startsWith('floor'));
    if (raw && kafka) out.push(`- at ${rate}/s: pipeline p99 / raw p99 = ${(kafka.latency.p99 / raw.latency.p99).toFixed(2)}x, p50 ratio ${(kafka.latency.p50 / raw.latency.p50).toFixed(2)}x`);
    if (raw && floor) out.push(`- at ${rate}/s: floor p99 / raw p99 = ${(floor.latency.p99 / raw.latency.p99).toFixed(2)}x${kafka ? `; pipeline p99 / floor p99 = ${(kafka.latency.p99 / floor.latency.p99).toFixed(2)}x` : ''}`);
    if (kafka && plain && kafka !== plain) out.push(`- at ${rate}/s: idempotent / not idempotent = ${(kafka.latency.p50 / plain.latency.p50).toFixed(2)}x p50, ${(kafka.latency.p99 / plain.latency.p99).toFixed(2)}x p99`);
  }
  for (const p of peaks) out.push(`- relay peak (${p.transport}): ${p.rows} rows in ${p.seconds.toFixed(2)} s = ${Math.round(p.perSecond)} events/s (batch ${RELAY_BATCH})`);
  out.push(`- machine: ${os.cpus().length} CPUs, load average at the end ${load()}`);
  process.stdout.write(`${out.join('\n')}\n`);
  process.stdout.write(`${JSON.stringify({ durationS: DURATION_S, warmupS: WARMUP_S, tls: Boolean(security?.tls), rows, peaks })}\n`);
}

(args.role === 'consumer' ? consumerRole(JSON.parse(args.spec) as ConsumerSpec).then(() => new Promise<void>(() => undefined)) : main()).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : err}\n`);
    process.exit(1);
  },
);
