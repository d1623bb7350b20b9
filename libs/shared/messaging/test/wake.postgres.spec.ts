/**
 * Which consumers a relay's batch wakes on the Postgres transport: the relay's NOTIFY names the
 * batch's topics, so a group wakes (and reads) only for a topic it consumes. Two groups of one
 * source schema: `things` reads only `waking.things.v1`, `others` only `waking.others.v1`.
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { appendToOutbox, createEnvelope, createPostgresTransport, type Envelope, logNotice, outboxMigrationSql, pgTransactions, startRelay } from '../src';
import { createTestDatabase, type TestDatabase, waitFor } from '@carve/shared-testing';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('messaging_wake');
  pool = new Pool({ connectionString: db.url, max: 2 });
  await pool.query(outboxMigrationSql('waking'));
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const event = (aggregateType: 'thing' | 'other') =>
  createEnvelope({ type: `${aggregateType}.created`, version: '1.0', source: 'waking', aggregateType }, { tenantId: randomUUID(), aggregateId: randomUUID(), aggregateVersion: 1, data: {}, origin: 'waking' });

it("names the batch's topics in the notice, and leaves it empty (every consumer looks) when they would not fit", () => {
  expect(logNotice([{ topic: 'a.x.v1' }, { topic: 'a.y.v1' }, { topic: 'a.x.v1' }])).toBe('a.x.v1,a.y.v1');
  expect(logNotice(Array.from({ length: 300 }, (_, i) => ({ topic: `a.topic-${i}-${'z'.repeat(10)}.v1` })))).toBe('');
});

it('wakes a group for the topics it reads, at once (no poll), and never for the others', async () => {
  // A poll interval no test waits for: whatever arrives, arrives by notification.
  const transport = createPostgresTransport({ databaseUrl: db.url, pollIntervalMs: 600_000 });
  // Every read of the `things` topic the transport makes (its pool's queries, as sent to Postgres).
  let thingReads = 0;
  const query = transport.pool.query.bind(transport.pool) as (...a: unknown[]) => Promise<unknown>;
  (transport.pool as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = (...a: unknown[]) => {
    if (typeof a[0] === 'string' && a[0].includes('ORDER BY log_pos LIMIT') && Array.isArray(a[1]) && a[1][0] === 'waking.things.v1') thingReads++;
    return query(...a);
  };
  const seen = { things: [] as Envelope[], others: [] as Envelope[] };
  const subscribe = (group: 'things' | 'others') =>
    transport.subscribe({
      group: `wake-${group}`,
      topics: [`waking.${group}.v1`],
      handler: async (messages) => {
        for (const m of messages) seen[group].push(JSON.parse(m.value!.toString()));
        return messages.length;
      },
    });
  const things = await subscribe('things');
  const others = await subscribe('others');
  const relay = await startRelay({ databaseUrl: db.url, schema: 'waking', transport, pollIntervalMs: 600_000 });
  try {
    const first = event('thing');
    await pgTransactions(pool)((tx) => appendToOutbox(tx, 'waking', [first]));
    await waitFor('the thing delivered by notification', () => seen.things.some((e) => e.id === first.id), 15_000);
    const readsBefore = thingReads;

    // Twenty batches of the other topic, one commit each: the relay notifies twenty times or so.
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const e = event('other');
      sent.push(e.id);
      await pgTransactions(pool)((tx) => appendToOutbox(tx, 'waking', [e]));
    }
    await waitFor('every other delivered', () => sent.every((id) => seen.others.some((e) => e.id === id)), 15_000);
    expect(thingReads - readsBefore).toBe(0);
    expect(seen.things.map((e) => e.id)).toEqual([first.id]);

    // And the things group still wakes for its own topic.
    const second = event('thing');
    await pgTransactions(pool)((tx) => appendToOutbox(tx, 'waking', [second]));
    await waitFor('the second thing delivered', () => seen.things.some((e) => e.id === second.id), 15_000);
    expect(thingReads - readsBefore).toBeGreaterThan(0);
  } finally {
    await relay.stop();
    await things.stop();
    await others.stop();
    await transport.close();
  }
});
