/**
 * `carve_consumer_lag` from the broker: the Kafka consumer samples its group's committed offsets
 * against the partitions' high watermarks on a timer, so a consumer stuck in a handler shows
 * its lag growing (the lag reported after each applied batch stops with the handler). Against a
 * real broker and real Postgres: a handler blocked on the first event of a partition, 50 events
 * behind it, then released.
 */
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { createKafkaTransport, type KafkaTransport, startConsumer } from '../src';
import { migrate, noteEvent, sinkHandler, testSource } from './support/events';
import { createTestDatabase, kafkaBrokers, type TestDatabase, uniqueName, waitFor } from './support/infra';

describe('consumer lag sampled from the broker (kafka)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let transport: KafkaTransport;

  beforeAll(async () => {
    db = await createTestDatabase('lag_kafka');
    pool = new Pool({ connectionString: db.url, max: 4 });
    transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'carve-lag-test', lagSampleIntervalMs: 200 });
  });
  afterAll(async () => {
    await transport?.close();
    await pool?.end();
    await db?.drop();
  });

  it('a consumer blocked in its handler shows lag growing to what waits behind it, and 0 once it catches up', async () => {
    const src = testSource(uniqueName('lag'));
    await migrate(db.url, src, 'sink');
    await transport.ensureTopics([{ name: src.topic, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' }]);
    const group = uniqueName('g');
    const registry = new Registry();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let blocked = false;
    const handle = sinkHandler('sink', group);
    const consumer = await startConsumer({
      transport,
      pool,
      group,
      topics: [src.topic],
      schema: 'sink',
      registry,
      handle: async (e, tx, meta) => {
        if (e.aggregateId === 'stuck' && e.aggregateVersion === 1) {
          blocked = true;
          await released;
        }
        await handle(e, tx, meta);
      },
    });
    try {
      await consumer.ready;
      // 51 events of one aggregate (one key, one partition): the first blocks the handler.
      await transport.publish(Array.from({ length: 51 }, (_, i) => ({ topic: src.topic, key: 'stuck', value: JSON.stringify(noteEvent(src, 'stuck', i + 1).envelope) })));
      await waitFor('the handler blocked', () => blocked);
      const partition = (await transport.lag(group, [src.topic])).find((p) => Number(p.end) > 0)!.partition;
      const lagOf = async () => {
        const metric = (await registry.getSingleMetric('carve_consumer_lag')!.get()).values;
        return metric.find((v) => v.labels.group === group && v.labels.topic === src.topic && v.labels.partition === String(partition))?.value;
      };
      // Nothing of the partition is committed while the first event is held: the whole 51 waits.
      await waitFor('the lag gauge at 51 while the handler is stuck', async () => (await lagOf()) === 51, 20_000, 100);
      expect(consumer.stats().applied).toBe(0);

      release();
      await waitFor('all 51 applied', () => consumer.stats().applied === 51, 30_000);
      await waitFor('the lag gauge back to 0', async () => (await lagOf()) === 0, 20_000, 100);
    } finally {
      release();
      await consumer.stop();
    }
  });
});
