process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafkaJars, kafkaAdminReady, startKafka, stopKafka, type RunningKafka } from '../src';

// A broker given from outside (CI lane, a developer's own) is used for the traffic test and
// never stopped here. The lifecycle tests always run a broker of their own, on free ports and in
// a temporary data dir, so they never touch a dev broker on 9092; afterAll stops it by PID.
const givenBrokers = process.env.KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean);

const quiet = () => undefined;
let dataDir: string;
let port: number;
let own: RunningKafka | undefined;

async function ownBroker(): Promise<RunningKafka> {
  own ??= await startKafka({ port, dataDir, log: quiet });
  return own;
}

beforeAll(async () => {
  await ensureKafkaJars(); // the first run ever fetches from Maven Central: allow for it below
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-kafka-test-'));
  port = await freePortPair();
}, 300_000);

afterAll(async () => {
  if (own) await stopKafka({ dataDir, log: quiet }); // by the PID in our own data dir's PID file
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'kafka-broker-spec', brokers, logLevel: logLevel.NOTHING });
}

async function createTopic(brokers: string[], topic: string, numPartitions: number): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function produce(brokers: string[], topic: string, messages: { key: string; value: string }[]): Promise<void> {
  const producer = client(brokers).producer({ maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  try {
    // One send per message, in order: what an outbox relay does.
    for (const m of messages) await producer.send({ topic, acks: -1, messages: [m] });
  } finally {
    await producer.disconnect();
  }
}

interface Got {
  partition: number;
  key: string;
  value: string;
}

/** Reads `count` messages of `topic` from the beginning with a fresh consumer group (bounded wait). */
async function consume(brokers: string[], topic: string, count: number, timeoutMs = 30_000): Promise<Got[]> {
  const consumer = client(brokers).consumer({ groupId: `spec-${topic}`, maxWaitTimeInMs: 100 });
  const got: Got[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`got ${got.length} of ${count} messages of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({ partition, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          if (got.length >= count) resolve();
        },
      });
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return got;
}

function freePort(p = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => {
      const { port: got } = server.address() as net.AddressInfo;
      server.close(() => resolve(got));
    });
  });
}

/** A free port p whose neighbour p + 1 (the controller port) is free too. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freePort();
    if (p < 65535 && (await freePort(p + 1).then(() => true, () => false))) return p;
  }
  throw new Error('no two adjacent free ports found');
}

describe('local Kafka broker', () => {
  it('carries keyed messages and hands each key back in the order it was produced', async () => {
    const brokers = givenBrokers?.length ? givenBrokers : (await ownBroker()).brokers;
    const topic = `spec.keyed.${Date.now()}`;
    await createTopic(brokers, topic, 3);

    const keys = ['aggregate-a', 'aggregate-b', 'aggregate-c', 'aggregate-d'];
    const sent = Array.from({ length: 40 }, (_, i) => ({ key: keys[i % keys.length], value: `v${i}` }));
    await produce(brokers, topic, sent);

    const got = await consume(brokers, topic, sent.length);
    expect(got).toHaveLength(sent.length);
    for (const key of keys) {
      const mine = got.filter((m) => m.key === key);
      expect(mine.map((m) => m.value)).toEqual(sent.filter((m) => m.key === key).map((m) => m.value));
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1); // one key, one partition
    }
  }, 90_000);

  it('reuses the broker that already runs instead of starting a second one', async () => {
    const first = await ownBroker();
    const again = await startKafka({ port, dataDir, log: quiet });
    expect(again).toMatchObject({ reused: true, pid: first.pid, brokers: [`127.0.0.1:${port}`] });
    expect(first.brokers).toEqual([`127.0.0.1:${port}`]);
  }, 90_000);

  it('keeps a topic and its messages across a stop and a start on the same port and data dir', async () => {
    const before = await ownBroker();
    const topic = `spec.durable.${Date.now()}`;
    await createTopic(before.brokers, topic, 1);
    const sent = Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: `kept-${i}` }));
    await produce(before.brokers, topic, sent);

    const stopped = await stopKafka({ dataDir, log: quiet });
    expect(stopped).toMatchObject({ stopped: true, pid: before.pid, killed: false });
    expect(await kafkaAdminReady(before.brokers, 500)).toBe(false);
    expect(await stopKafka({ dataDir, log: quiet })).toEqual({ stopped: false });

    own = await startKafka({ port, dataDir, log: quiet });
    expect(own.reused).toBe(false);
    expect(own.pid).not.toBe(before.pid);
    expect((await consume(own.brokers, topic, sent.length)).map((m) => m.value)).toEqual(sent.map((m) => m.value));
  }, 120_000);

  it('starts empty with fresh: true', async () => {
    const before = await ownBroker();
    const topic = `spec.wiped.${Date.now()}`;
    await createTopic(before.brokers, topic, 1);

    own = await startKafka({ port, dataDir, fresh: true, log: quiet });
    expect(own.pid).not.toBe(before.pid);
    const admin = client(own.brokers).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(topic);
    } finally {
      await admin.disconnect();
    }
  }, 120_000);
});
