/**
 * The Kafka clients over TLS + SASL SCRAM-SHA-512, against a real broker this file starts for
 * itself (tools/kafka with its SASL_SSL listener: a CA and a broker keystore made with keytool,
 * the SCRAM user written at storage format). One broker start for the whole file; it is stopped
 * by PID at the end. Not a *.kafka.spec.ts: it runs once per `npm test`, on its own broker.
 *
 * - `carve kafka ensure-topics` (a child process configured from the environment only);
 * - the whole transport contract (relay to consumer round trips, DLQ, replay, restarts);
 * - a wrong password, an untrusted CA and a plaintext client each fail saying what failed;
 * - the idempotent producer: the broker frozen (SIGSTOP) while a publish is in flight, kafkajs
 *   times the request out and sends it again, the broker resumes (SIGCONT): an independent
 *   consumer (plain kafkajs, no inbox) finds every event on the topic exactly once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKafka, stopKafka, type RunningKafka } from '@carve/kafka-broker';
import { migrateControlPlaneAt } from '@carve/shared-control-plane';
import { createTestDatabase, freePorts } from '@carve/shared-testing';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaTransport, DLQ_HEADERS, KafkaConnectionError, kafkaClientSecurity, type KafkaSecurity, kafkaSecurityFromEnv, type KafkaTransport, loadTopicDeclarations, postgresReplayLedger, TOPICS_FILE } from '../src';
import { CARVE_BIN, spawnNode } from './support/child';
import { uniqueName, waitFor } from './support/infra';
import { transportContract } from './transport-contract';

const USER = 'carve-test';
const PASSWORD = `pw-${uniqueName('x')}`;

let kafka: RunningKafka;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let security: KafkaSecurity;
const transports: KafkaTransport[] = [];

const secured = (extra: Partial<Parameters<typeof createKafkaTransport>[0]> = {}): KafkaTransport => {
  const t = createKafkaTransport({ brokers: kafka.secure!.brokers, clientId: 'carve-secure-test', security, ...extra });
  transports.push(t);
  return t;
};

beforeAll(async () => {
  const port = await freePorts(3);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-secure-kafka-'));
  kafka = await startKafka({ port, controllerPort: port + 1, dataDir, fresh: true, log: () => undefined, secure: { port: port + 2, users: [{ name: USER, password: PASSWORD }] } });
  env = {
    KAFKA_BROKERS: kafka.secure!.brokers.join(','),
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: kafka.secure!.caFile,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD: PASSWORD,
  };
  // The same settings the services and the CLI read from their environment.
  security = kafkaSecurityFromEnv(env);
}, 240_000);

afterAll(async () => {
  for (const t of transports.splice(0)) await t.close();
  if (kafka) await stopKafka({ dataDir, log: () => undefined });
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('Kafka over TLS + SASL SCRAM-SHA-512', () => {
  it('the broker offers SASL_SSL with a CA-signed certificate', () => {
    expect(kafka.secure).toMatchObject({ mechanism: 'scram-sha-512' });
    expect(fs.readFileSync(kafka.secure!.caFile, 'utf8')).toContain('-----BEGIN CERTIFICATE-----');
    expect(security.tls?.ca).toContain('-----BEGIN CERTIFICATE-----');
    expect(security.sasl).toEqual({ mechanism: 'scram-sha-512', username: USER, password: PASSWORD });
  });

  it('carve kafka ensure-topics creates every declared topic, configured from the environment only', async () => {
    const declared = loadTopicDeclarations(TOPICS_FILE).length;
    const run = async () => {
      const child = spawnNode(CARVE_BIN, ['kafka', 'ensure-topics', '--json'], env);
      const { code } = await child.exited;
      if (code !== 0) throw new Error(`ensure-topics exited ${code}: ${child.stderr.join('\n')}`);
      return JSON.parse(child.stdout.filter((l) => l.startsWith('{')).pop()!) as { created: string[]; existing: string[]; mismatched: unknown[] };
    };
    const first = await run();
    expect(first.created.length).toBeGreaterThan(0);
    expect(first.created.length + first.existing.length).toBeGreaterThanOrEqual(declared);
    const second = await run();
    expect(second.created).toEqual([]);
    expect(second.existing.sort()).toEqual([...first.created, ...first.existing].sort());
    expect(second.mismatched).toEqual([]);
  }, 60_000);

  it('a wrong password fails as a SASL authentication failure', async () => {
    const wrong = secured({ security: { ...security, sasl: { mechanism: 'scram-sha-512', username: USER, password: 'not-the-password' } } });
    const err = await wrong.ensureTopics([]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaConnectionError);
    expect((err as KafkaConnectionError).kind).toBe('sasl');
    expect((err as Error).message).toMatch(/SASL authentication failed .*invalid credentials/);
    expect((err as KafkaConnectionError).hint).toContain('KAFKA_SASL_PASSWORD');
  });

  it('a CA that did not sign the broker certificate fails as a TLS failure', async () => {
    const untrusted = secured({ security: { ...security, tls: {} } }); // Node's default CAs only
    const err = await untrusted.ensureTopics([]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaConnectionError);
    expect((err as KafkaConnectionError).kind).toBe('tls');
    expect((err as Error).message).toMatch(/TLS handshake failed .*self-signed certificate in certificate chain/);
    expect((err as KafkaConnectionError).hint).toContain('KAFKA_SSL_CA_FILE');
  }, 60_000);

  it('a plaintext client on the TLS listener is told the listener expects TLS or SASL (not "is the broker up?")', async () => {
    const child = spawnNode(CARVE_BIN, ['kafka', 'ensure-topics'], { KAFKA_BROKERS: env.KAFKA_BROKERS });
    const { code } = await child.exited;
    expect(code).not.toBe(0);
    const out = child.stderr.join('\n');
    expect(out).toMatch(/closed the connection .*plaintext/);
    expect(out).toMatch(/expects TLS/);
    expect(out).not.toMatch(/is the broker up/);
  }, 90_000);

  it('carve events dlq list|replay: --all/--id required, --dry-run changes nothing, each dead letter replayed once, list tells replayed from waiting', async () => {
    const db = await createTestDatabase('secure_dlq');
    try {
      await migrateControlPlaneAt(db.url);
      const topic = `secure.dlq.${uniqueName('t')}`;
      const admin = secured();
      await admin.ensureTopics([
        { name: topic, partitions: 2, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
        { name: `${topic}.dlq`, partitions: 1, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
      ]);
      const dlqHeaders = (offset: string) => ({ [DLQ_HEADERS.originalTopic]: topic, [DLQ_HEADERS.partition]: '0', [DLQ_HEADERS.offset]: offset, [DLQ_HEADERS.reason]: 'handler-failed', [DLQ_HEADERS.error]: 'boom', [DLQ_HEADERS.group]: 'g1', [DLQ_HEADERS.attempts]: '5' });
      await admin.publish([
        { topic: `${topic}.dlq`, key: 'k-1', value: JSON.stringify({ id: 'e-1' }), headers: { ...dlqHeaders('7'), 'x-trace': 't-1' } },
        { topic: `${topic}.dlq`, key: 'k-2', value: null, headers: dlqHeaders('8') },
      ]);
      const carve = async (...args: string[]) => {
        const child = spawnNode(CARVE_BIN, ['events', 'dlq', ...args, '--transport', 'kafka', '--database-url', db.url], env);
        const { code } = await child.exited;
        return { code, stdout: child.stdout.filter(Boolean), stderr: child.stderr.join('\n') };
      };
      const list = async () => {
        const r = await carve('list', '--topic', topic, '--json');
        expect(r.code).toBe(0);
        return { letters: r.stdout.map((l) => JSON.parse(l) as { id: string; replayedAt: string | null; value: string | null; headers: Record<string, string> }), summary: r.stderr };
      };
      const onTopic = async () => (await admin.lag('nobody', [topic])).reduce((n, p) => n + Number(p.end), 0);

      const before = await list();
      expect(before.letters.map((d) => d.replayedAt)).toEqual([null, null]);
      expect(before.letters.map((d) => d.value)).toEqual([JSON.stringify({ id: 'e-1' }), null]);
      expect(before.letters[0].headers).toEqual({ 'x-trace': 't-1' });
      expect(before.summary).toContain('2 waiting, 0 replayed');

      const bare = await carve('replay', topic);
      expect(bare.code).toBe(1);
      expect(bare.stderr).toContain('give --id <id> or --all');

      const dry = await carve('replay', topic, '--all', '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.stderr).toContain('would replay 2 dead letter(s) as 2 message(s)');
      expect((await list()).summary).toContain('2 waiting, 0 replayed');
      expect(await onTopic()).toBe(0);

      const one = await carve('replay', topic, '--id', before.letters[1].id);
      expect(one.code).toBe(0);
      expect((await list()).summary).toContain('1 waiting, 1 replayed');
      const all = await carve('replay', topic, '--all');
      expect(all.code).toBe(0);
      expect(all.stderr).toContain('replayed 1 dead letter(s)');
      const after = await list();
      expect(after.summary).toContain('0 waiting, 2 replayed');
      expect(after.letters).toHaveLength(2); // the DLQ did not grow
      expect(await onTopic()).toBe(2); // each sent once

      const again = await carve('replay', topic, '--all');
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('no dead letters waiting');
      expect(await onTopic()).toBe(2);
    } finally {
      await db.drop();
    }
  }, 120_000);

  it('idempotent producer: a publish in flight while the broker is frozen is written once', async () => {
    const topic = `secure.idem.${uniqueName('t')}`;
    const admin = secured();
    await admin.ensureTopics([{ name: topic, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' }]);
    const errors: string[] = [];
    const log = { info: () => undefined, debug: () => undefined, warn: (_: object, m: string) => errors.push(m), error: (_: object, m: string) => errors.push(m) };
    const producer = secured({ requestTimeoutMs: 2000, logger: log as never });
    const ids = Array.from({ length: 200 }, (_, i) => `ev-${i}`);
    const message = (id: string) => ({ topic, key: `agg-${Number(id.slice(3)) % 17}`, value: JSON.stringify({ id }) });
    // The first half goes through normally; the second half is in flight when the broker freezes.
    for (let i = 0; i < 100; i += 20) await producer.publish(ids.slice(i, i + 20).map(message));
    process.kill(kafka.pid, 'SIGSTOP');
    let resumed = false;
    try {
      const inFlight = (async () => {
        for (let i = 100; i < 200; i += 20) await producer.publish(ids.slice(i, i + 20).map(message));
      })();
      // Frozen until kafkajs has timed the produce request out and is sending it again.
      await waitFor('kafkajs timing out a produce request', () => errors.some((m) => /timed out|Failed to send|Request Produce/i.test(m)), 30_000, 100);
      process.kill(kafka.pid, 'SIGCONT');
      resumed = true;
      await inFlight;
    } finally {
      if (!resumed) process.kill(kafka.pid, 'SIGCONT');
    }

    // An independent reader: plain kafkajs, no Carve consumer and no inbox in between.
    const reader = new Kafka({ clientId: 'carve-secure-test-reader', brokers: kafka.secure!.brokers, logLevel: logLevel.NOTHING, ...kafkaClientSecurity(security) });
    const consumer = reader.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message: m }) => void seen.push(JSON.parse(m.value!.toString('utf8')).id) });
      const ends = await reader.admin();
      await ends.connect();
      const total = (await ends.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
      await ends.disconnect();
      await waitFor(`the reader reaching the ${total} messages on the topic`, () => seen.length >= total, 30_000);
      expect(total).toBe(ids.length); // the log's own count: no duplicate written
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toHaveLength(ids.length);
    expect(new Set(seen).size).toBe(ids.length);
    expect([...seen].sort()).toEqual([...ids].sort());
  }, 120_000);
});

transportContract(
  'kafka',
  {
    create: async (databaseUrl) => {
      await migrateControlPlaneAt(databaseUrl);
      return secured({ clientId: 'carve-contract-secure', replayLedger: postgresReplayLedger({ databaseUrl }) });
    },
  },
  'kafka over TLS + SASL SCRAM-SHA-512',
);
