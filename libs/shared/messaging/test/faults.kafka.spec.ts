/**
 * The faults that must lose nothing, against a real Kafka broker this file starts for itself (its own port
 * and data dir, so stopping it disturbs no other suite) and real Postgres. Relays and consumers
 * that get killed run as child processes and are SIGKILLed by PID.
 *
 * How each test knows: the consumer's applied log (one row per application: count, distinct
 * event ids, versions per aggregate in application order), the outbox (published or not), the
 * topic's end offsets (what went over the wire), the consumer's skip counters and the DLQ.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKafka, stopKafka } from '@carve/kafka-broker';
import { Pool } from 'pg';
import { type ConsumerHandle, type ConsumerOptions, createKafkaTransport, type Envelope, type KafkaTransport, type RelayHandle, startConsumer, startRelay } from '../src';
import { CARVE_BIN, killChildren, spawnNode } from './support/child';
import { checkApplied, migrate, noteEvent, sinkHandler, type TestSource, testSource, writeEvents } from './support/events';
import { createTestDatabase, sql, type TestDatabase, uniqueName, waitFor } from './support/infra';

const PORT = 19_000 + Math.floor(Math.random() * 900) * 2;
const SINK = 'sink';

describe('faults that must lose nothing (real Kafka)', () => {
  let dataDir: string;
  let brokers: string[];
  let db: TestDatabase;
  let pool: Pool;
  const transports: KafkaTransport[] = [];
  const relays: RelayHandle[] = [];
  const consumers: ConsumerHandle[] = [];

  const transport = (extra: Partial<Parameters<typeof createKafkaTransport>[0]> = {}) => {
    const t = createKafkaTransport({ brokers, clientId: 'faults', sessionTimeoutMs: 6000, ...extra });
    transports.push(t);
    return t;
  };
  const newSource = async (): Promise<TestSource> => {
    const src = testSource(uniqueName('ft'));
    await migrate(db.url, src, SINK);
    await transport().ensureTopics([
      { name: src.topic, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
      { name: `${src.topic}.dlq`, partitions: 1, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
    ]);
    return src;
  };
  const consume = async (src: TestSource, group: string, extra: Partial<ConsumerOptions> = {}) => {
    const c = await startConsumer({ transport: transport(), pool, group, topics: [src.topic], schema: SINK, handle: sinkHandler(SINK, group), backoff: { initialMs: 50, maxMs: 500 }, ...extra });
    consumers.push(c);
    await c.ready;
    return c;
  };
  const relay = async (src: TestSource, extra: Partial<Parameters<typeof startRelay>[0]> = {}) => {
    const r = await startRelay({ databaseUrl: db.url, schema: src.schema, transport: transport(), pollIntervalMs: 200, backoff: { initialMs: 100, maxMs: 1000 }, ...extra });
    relays.push(r);
    return r;
  };
  /** Messages on the topic (sum of partition end offsets): what went over the wire. */
  const onTheWire = async (topic: string) => (await transport().lag('nobody', [topic])).reduce((n, p) => n + Number(p.end), 0);
  const expectAllAppliedOnce = async (group: string, written: Envelope[]) => {
    const check = await checkApplied(db.url, SINK, group);
    expect(check.applied).toBe(written.length); // nothing lost...
    expect(check.distinctEvents).toBe(written.length); // ...nothing applied twice...
    expect(check.outOfOrder).toEqual([]); // ...and in order per aggregate
    const expected: Record<string, number[]> = {};
    for (const e of written) (expected[e.aggregateId] ??= []).push(e.aggregateVersion);
    expect(check.versions).toEqual(expected);
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-faults-kafka-'));
    brokers = (await startKafka({ port: PORT, dataDir, log: () => undefined })).brokers;
    db = await createTestDatabase('faults');
    pool = new Pool({ connectionString: db.url, max: 6 });
  });
  afterEach(async () => {
    await killChildren();
    for (const c of consumers.splice(0)) await c.stop();
    for (const r of relays.splice(0)) await r.stop();
  });
  afterAll(async () => {
    await killChildren();
    for (const t of transports) await t.close();
    await pool?.end();
    await db?.drop();
    await stopKafka({ dataDir, log: () => undefined });
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('relay killed between publishing and marking: the duplicate arrives and is applied once', async () => {
    const src = await newSource();
    const written = await writeEvents(db.url, src, ['k-1', 'k-2', 'k-3', 'k-4', 'k-5'], 8, 4); // 40 events
    const child = spawnNode(path.join(__dirname, 'fixtures', 'relay-child.ts'), [], {
      DATABASE_URL: db.url, KAFKA_BROKERS: brokers.join(','), SCHEMA: src.schema, BATCH_SIZE: '15', CRASH_AFTER_BATCHES: '1',
    });
    expect(await child.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(child.stdout).toContain('crashing after publishing 15 rows');
    // Published to Kafka, but never marked: still unpublished in the outbox.
    expect(await onTheWire(src.topic)).toBe(15);
    expect((await sql(db.url, `SELECT count(*)::int AS n FROM ${src.schema}.outbox WHERE published_at IS NULL`))[0].n).toBe(40);

    await relay(src);
    const group = uniqueName('g');
    const c = await consume(src, group);
    await waitFor('40 events applied', () => c.stats().applied === 40);
    await waitFor('the 15 duplicates skipped', () => c.stats().duplicate === 15);
    expect(await onTheWire(src.topic)).toBe(55); // 15 sent twice
    await expectAllAppliedOnce(group, written);
  });

  it('consumer killed mid-batch: on restart nothing is lost and nothing is applied twice', async () => {
    const src = await newSource();
    const aggregates = Array.from({ length: 10 }, (_, i) => `c-${i}`);
    const written = await writeEvents(db.url, src, aggregates, 20, 10); // 200 events
    await relay(src);
    await waitFor('all on the wire', async () => (await onTheWire(src.topic)) === 200);
    const group = uniqueName('g');
    const child = spawnNode(path.join(__dirname, 'fixtures', 'consumer-child.ts'), [], {
      DATABASE_URL: db.url, KAFKA_BROKERS: brokers.join(','), TOPIC: src.topic, GROUP: group, SINK, CRASH_AFTER_APPLIED: '70',
    });
    expect(await child.exited).toMatchObject({ signal: 'SIGKILL' });
    const before = await checkApplied(db.url, SINK, group);
    // Killed right after the transaction holding the 70th event committed, before its offsets were.
    expect(before.applied).toBeGreaterThanOrEqual(70);
    expect(before.applied).toBeLessThan(200);
    expect(before.distinctEvents).toBe(before.applied);

    const c = await consume(src, group); // same group: resumes from the committed offsets
    await waitFor('the rest applied', () => c.stats().applied === 200 - before.applied, 30_000);
    await expectAllAppliedOnce(group, written);
    // What the dead member applied after its last offset commit came again and was skipped by the inbox.
    expect(c.stats().duplicate).toBeGreaterThan(0);
    expect(c.stats().duplicate).toBeLessThanOrEqual(before.applied);
  });

  it('malformed messages (not JSON, not an envelope, invalid data) go to the DLQ; later messages of the partition are processed', async () => {
    const src = await newSource();
    const group = uniqueName('g');
    const c = await consume(src, group, { validate: (e) => (typeof (e.data as any)?.title === 'string' ? null : '/title must be a string') });
    const t = transport();
    const invalidData = noteEvent(src, 'm-1', 1).envelope;
    (invalidData.data as any) = { title: 42 };
    // Same key: same partition, all before the good event.
    await t.publish([
      { topic: src.topic, key: 'm-1', value: 'this is {not JSON' },
      { topic: src.topic, key: 'm-1', value: JSON.stringify({ hello: 'world' }) },
      { topic: src.topic, key: 'm-1', value: JSON.stringify(invalidData) },
    ]);
    const [good] = await writeEvents(db.url, src, ['m-1'], 1, 1, 2);
    await relay(src);
    await waitFor('the good event applied', async () => (await checkApplied(db.url, SINK, group)).versions['m-1']);
    expect((await checkApplied(db.url, SINK, group)).versions['m-1']).toEqual([good.aggregateVersion]);
    expect(c.stats().deadLettered).toBe(3);

    // The CLI shows them (`carve events dlq list`), with their reasons and the original position.
    const list = spawnNode(CARVE_BIN, ['events', 'dlq', 'list', '--topic', src.topic, '--json', '--transport', 'kafka', '--brokers', brokers.join(','), '--database-url', db.url], {});
    expect(await list.exited).toMatchObject({ code: 0 });
    const dead = list.stdout.filter(Boolean).map((l) => JSON.parse(l));
    expect(dead.map((d) => d.reason)).toEqual(['not-json', 'invalid-envelope', 'invalid-data']);
    expect(dead[0]).toMatchObject({ originalTopic: src.topic, key: 'm-1', value: 'this is {not JSON', group });
    expect(dead[2].error).toContain('/title must be a string');
    expect(new Set(dead.map((d) => d.partition)).size).toBe(1);
  });

  it('carve relay: a second process waits as a hot standby and takes over when the first is killed; carve events tail shows the events', async () => {
    const src = await newSource();
    const args = ['relay', '--schema', src.schema, '--transport', 'kafka', '--brokers', brokers.join(','), '--database-url', db.url, '--poll', '200ms'];
    const first = spawnNode(CARVE_BIN, args, { LOG_LEVEL: 'info' });
    await first.waitForLine(/relay: active/);
    const opsPort = PORT + 50;
    const second = spawnNode(CARVE_BIN, [...args, '--port', String(opsPort)], { LOG_LEVEL: 'info' });
    await second.waitForLine(/relay: started/);
    const ops = async (p: string) => {
      const res = await fetch(`http://127.0.0.1:${opsPort}${p}`);
      return { status: res.status, body: await res.text() };
    };
    const written = await writeEvents(db.url, src, ['r-1', 'r-2'], 5, 2);
    await waitFor('first relay shipped 10', async () => (await onTheWire(src.topic)) === 10);
    expect(second.stdout.some((l) => /relay: active/.test(l))).toBe(false); // standing by
    expect(JSON.parse((await ops('/readyz')).body)).toMatchObject({ active: false }); // a ready standby

    process.kill(first.pid, 'SIGKILL');
    const killedAt = Date.now();
    await second.waitForLine(/relay: active/, 10_000);
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(5_000);
    expect(await ops('/readyz')).toMatchObject({ status: 200 });
    expect(JSON.parse((await ops('/readyz')).body)).toMatchObject({ active: true });
    expect((await ops('/metrics')).body).toMatch(new RegExp(`carve_relay_active\\{schema="${src.schema}"\\} 1`));
    written.push(...(await writeEvents(db.url, src, ['r-1', 'r-2'], 5, 2, 6)));
    await waitFor('second relay shipped the rest', async () => (await sql(db.url, `SELECT count(*)::int AS n FROM ${src.schema}.outbox WHERE published_at IS NULL`))[0].n === 0);

    const tail = spawnNode(CARVE_BIN, ['events', 'tail', src.topic, '--from-beginning', '--max', String(written.length), '--transport', 'kafka', '--brokers', brokers.join(','), '--database-url', db.url], {});
    expect(await tail.exited).toMatchObject({ code: 0 });
    const seen = tail.stdout.filter(Boolean).map((l) => JSON.parse(l) as Envelope);
    expect(new Set(seen.map((e) => e.id))).toEqual(new Set(written.map((e) => e.id)));

    process.kill(second.pid, 'SIGTERM'); // graceful: finishes the batch, releases the lock
    expect(await second.exited).toMatchObject({ code: 0 });
    expect(second.stdout.some((l) => /relay: stopped/.test(l))).toBe(true);
  });

  it('broker stopped ~10 s while writes continue: every write succeeds, every event arrives afterwards, in order per aggregate', async () => {
    const src = await newSource();
    const group = uniqueName('g');
    await relay(src);
    const c = await consume(src, group);
    const aggregates = Array.from({ length: 6 }, (_, i) => `b-${i}`);
    const written: Envelope[] = [];
    let writeErrors = 0;
    let stopWriting = false;
    const writer = (async () => {
      for (let v = 1; !stopWriting; v++) {
        try {
          written.push(...(await writeEvents(db.url, src, aggregates, 1, 3, v)));
        } catch {
          writeErrors += 1;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await waitFor('events flowing', () => c.stats().applied >= 30);
    await stopKafka({ dataDir, log: () => undefined });
    const stoppedAt = Date.now();
    const appliedAtStop = c.stats().applied;
    await new Promise((r) => setTimeout(r, 10_000));
    const writtenWhileDown = written.length;
    await startKafka({ port: PORT, dataDir, log: () => undefined });
    const downMs = Date.now() - stoppedAt;
    await new Promise((r) => setTimeout(r, 1500));
    stopWriting = true;
    await writer;

    expect(writeErrors).toBe(0); // the monolith's writes never noticed
    expect(downMs).toBeGreaterThanOrEqual(10_000);
    // What is checked is that all arrive, not how fast: the backlog of the outage drains on a
    // machine that may be busy (the second broker lane runs after every other test).
    await waitFor(`all ${written.length} events applied`, () => c.stats().applied === written.length || undefined, 120_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}: ${c.stats().applied} of ${written.length} applied`);
    });
    await expectAllAppliedOnce(group, written);
    expect(writtenWhileDown).toBeGreaterThan(appliedAtStop + 50); // writes went on while the broker was down
  }, 180_000);

  it('broker away long enough for the consumer to give up and restart: it resumes within a few seconds of the broker coming back', async () => {
    const src = await newSource();
    const group = uniqueName('g');
    await relay(src);
    const errors: string[] = [];
    const logger = { info: () => undefined, warn: () => undefined, error: (_o: object, msg?: string) => void errors.push(msg ?? '') };
    const c = await startConsumer({
      transport: transport({ logger }),
      pool,
      group,
      topics: [src.topic],
      schema: SINK,
      handle: sinkHandler(SINK, group),
      backoff: { initialMs: 50, maxMs: 500 },
    });
    consumers.push(c);
    await c.ready;
    const before = await writeEvents(db.url, src, ['r-1', 'r-2'], 2, 2);
    await waitFor('events flowing', () => c.stats().applied === before.length);

    await stopKafka({ dataDir, log: () => undefined });
    // Down until the consumer has crashed on it and scheduled a restart (its retries exhausted).
    await waitFor('the consumer crashed on the missing broker', () => errors.some((m) => /kafka consumer crashed/.test(m)), 60_000, 100);
    const after = await writeEvents(db.url, src, ['r-1', 'r-2'], 1, 2, 3);
    await startKafka({ port: PORT, dataDir, log: () => undefined });
    const backAt = Date.now();
    const r = relays[relays.length - 1];
    await waitFor('the events written while down published', () => r.stats().published >= before.length + after.length, 30_000, 50);
    const publishedMs = Date.now() - backAt;
    await waitFor('the events written while down applied', () => c.stats().applied === before.length + after.length, 30_000, 50);
    const resumedMs = Date.now() - backAt;
    process.stdout.write(`broker back: relay published after ${publishedMs} ms, consumer applied after ${resumedMs} ms\n`);
    // The relay's backoff is at most 1 s here; the rest is the consumer's restart backoff and
    // rejoining its group.
    expect(resumedMs).toBeLessThan(6_000);
    await expectAllAppliedOnce(group, [...before, ...after]);
  });
});
