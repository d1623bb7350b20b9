/**
 * Kafka offsets are committed in the background (every `commitIntervalMs`), not after each
 * batch. With the interval made longer than the test, only a clean stop can have committed
 * them: a second member of the group must start exactly there, with nothing redelivered.
 * (The transport contract checks the background commit at its default interval.)
 */
import { Pool } from 'pg';
import { createKafkaTransport, type KafkaTransport, type RelayHandle, startConsumer, startRelay } from '../src';
import { checkApplied, migrate, sinkHandler, type TestSource, testSource, writeEvents } from './support/events';
import { createTestDatabase, kafkaBrokers, type TestDatabase, uniqueName, waitFor } from './support/infra';

describe('kafka consumer offsets', () => {
  let db: TestDatabase;
  let src: TestSource;
  let transport: KafkaTransport;
  let relay: RelayHandle;
  let pool: Pool;
  const sink = 'sink';

  beforeAll(async () => {
    db = await createTestDatabase('kafka_offsets');
    src = testSource(uniqueName('off'));
    await migrate(db.url, src, sink);
    transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'carve-offsets-test', commitIntervalMs: 600_000 });
    await transport.ensureTopics([{ name: src.topic, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' }]);
    pool = new Pool({ connectionString: db.url, max: 4 });
    relay = await startRelay({ databaseUrl: db.url, schema: src.schema, transport, pollIntervalMs: 200 });
    await relay.activated;
  });
  afterAll(async () => {
    await relay?.stop();
    await transport?.close();
    await pool?.end();
    await db?.drop();
  });

  const consume = async (group: string) => {
    const c = await startConsumer({ transport, group, topics: [src.topic], schema: sink, pool, handle: sinkHandler(sink, group), fromBeginning: true });
    await c.ready;
    return c;
  };

  it('commits what was applied when the member stops, and not per batch', async () => {
    const group = uniqueName('g');
    const first = await consume(group);
    const events = await writeEvents(db.url, src, ['o-1', 'o-2', 'o-3'], 4, 3);
    await waitFor('all applied', () => first.stats().applied === events.length);
    // Nothing committed yet: the interval has not elapsed and batches do not commit.
    expect((await transport.lag(group, [src.topic])).every((p) => p.committed === null)).toBe(true);
    await first.stop();
    const lag = (await transport.lag(group, [src.topic])).filter((p) => p.committed !== null);
    expect(lag.length).toBeGreaterThan(0);
    expect(lag.every((p) => p.lag === 0)).toBe(true);

    const second = await consume(group);
    const more = await writeEvents(db.url, src, ['o-1'], 1, 1, 5);
    await waitFor('the new event applied', () => second.stats().applied === more.length);
    expect(second.stats().duplicate).toBe(0); // nothing of the first member's work came again
    const check = await checkApplied(db.url, sink, group);
    expect(check.versions['o-1']).toEqual([1, 2, 3, 4, 5]);
    expect(check.distinctEvents).toBe(check.applied);
    await second.stop();
  });
});
