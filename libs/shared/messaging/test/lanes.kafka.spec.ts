/**
 * The Kafka consumer handles each partition off kafkajs's fetch loop (src/kafka/partition-lanes.ts),
 * against a real broker:
 * - a handler still busy with one partition does not hold back new messages of another (with
 *   kafkajs's own loop the next fetch waits for every batch of the last one to be handled):
 *   the busy partition is paused once its lane is full, and the others keep being fetched, with
 *   the default lane (one fetch ahead) as with a deeper one (`maxQueuedPerPartition`);
 * - a handler that rejects makes the transport read that partition again from the first message
 *   not done: nothing is skipped, and after the retry the partition goes on in order.
 */
import { createKafkaTransport, type DeliveredMessage, type KafkaTransport, perMessage } from '../src';
import { kafkaBrokers, uniqueName, waitFor } from './support/infra';

describe('kafka consumer lanes', () => {
  let transport: KafkaTransport;

  beforeAll(() => {
    transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'carve-lanes-test' });
  });
  afterAll(async () => {
    await transport?.close();
  });

  const topicOf = async (prefix: string) => {
    const topic = `test.${uniqueName(prefix)}.v1`;
    await transport.ensureTopics([{ name: topic, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' }]);
    return topic;
  };
  const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);

  /**
   * Holds the handler on the first message, then publishes `rounds` rounds of messages over many
   * keys (so over every partition), each round once the previous one's other-partition messages
   * were handled: all of them must be handled while the first is still held.
   */
  const whileHeld = async (t: KafkaTransport, rounds: number) => {
    const topic = await topicOf('busy');
    const seen: DeliveredMessage[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let blocked: DeliveredMessage | undefined;
    const sub = await t.subscribe({
      group: uniqueName('g'),
      topics: [topic],
      handler: perMessage(async (m) => {
        if (m.value?.toString() === 'first') {
          blocked = m;
          await held;
        }
        seen.push(m);
        return true;
      }),
    });
    const others = () => seen.filter((m) => m.partition !== blocked!.partition).length;
    try {
      await sub.ready;
      await t.publish([{ topic, key: 'the-first', value: 'first' }]);
      await waitFor('the first message in its handler', () => blocked);
      let expected = 0;
      for (let round = 0; round < rounds; round++) {
        await t.publish(keys.map((key) => ({ topic, key, value: `${key}-${round}` })));
        await waitFor(`round ${round + 1}: messages of other partitions handled`, () => others() > expected);
        expected = others();
      }
      expect(seen.some((m) => m.value?.toString() === 'first')).toBe(false);
    } finally {
      release();
    }
    await waitFor('everything handled', () => seen.length === rounds * keys.length + 1);
    // Per partition, in offset order.
    for (const p of [0, 1, 2]) {
      const offsets = seen.filter((m) => m.partition === p).map((m) => Number(m.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    await sub.stop();
  };

  it('a busy partition does not hold back the others, round after round (one fetch ahead, the default)', async () => {
    await whileHeld(transport, 3);
  });

  it('with a deeper lane (maxQueuedPerPartition), other partitions keep flowing for as long as one is held', async () => {
    const deep = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'carve-lanes-test-deep', maxQueuedPerPartition: 1000 });
    try {
      await whileHeld(deep, 3);
    } finally {
      await deep.close();
    }
  });

  it('a rejected handler call reads its partition again from the first message not done, in order', async () => {
    const topic = await topicOf('rewind');
    const seen: DeliveredMessage[] = [];
    let failOn: string | undefined = 'key-7';
    const sub = await transport.subscribe({
      group: uniqueName('g'),
      topics: [topic],
      handler: perMessage(async (m) => {
        if (m.value?.toString() === failOn) {
          failOn = undefined;
          throw new Error('the database said no');
        }
        seen.push(m);
        return true;
      }),
    });
    await sub.ready;
    // One key: one partition, so the order of all of them is checked.
    await transport.publish(keys.map((key) => ({ topic, key: 'one-aggregate', value: key })));
    await waitFor('every message handled', () => new Set(seen.map((m) => m.offset)).size === keys.length, 30_000);
    const values = seen.map((m) => m.value?.toString());
    // Those before key-7 in its chunk may come twice (a rejection counts as nothing done); none is
    // missing, and the order after the retry is the topic's order.
    expect(new Set(values)).toEqual(new Set(keys));
    const firstOf7 = values.indexOf('key-7');
    expect(values.slice(firstOf7)).toEqual(keys.slice(7));
    await sub.stop();
  });
});
