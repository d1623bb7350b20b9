/**
 * The Postgres transport reads a topic whose source outbox does not exist yet (the schema of a
 * service not deployed yet) as an empty topic: the group's other topics are delivered meanwhile,
 * and the topic is read once its outbox appears. (The monolith's reverse sync subscribes to every
 * carved context's topics, deployed or not.)
 */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { appendToOutbox, createEnvelope, createPostgresTransport, type Envelope, outboxMigrationSql, pgTransactions, startRelay } from '../src';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('messaging_missing_outbox');
  pool = new Pool({ connectionString: db.url, max: 2 });
  await pool.query(outboxMigrationSql('present'));
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const event = (source: string) => createEnvelope({ type: 'thing.created', version: '1.0', source, aggregateType: 'thing' }, { tenantId: randomUUID(), aggregateId: randomUUID(), aggregateVersion: 1, data: {}, origin: source });

it('delivers the other topics while one outbox is missing, and that one once it exists', async () => {
  const transport = createPostgresTransport({ databaseUrl: db.url, pollIntervalMs: 100 });
  const seen: Envelope[] = [];
  const consumer = await transport.subscribe({
    group: 'missing-outbox-test',
    topics: ['absent.things.v1', 'present.things.v1'],
    handler: async (messages) => {
      for (const m of messages) seen.push(JSON.parse(m.value!.toString()));
      return messages.length;
    },
  });
  const relays = [await startRelay({ databaseUrl: db.url, schema: 'present', transport, pollIntervalMs: 100 })];
  try {
    const first = event('present');
    await pgTransactions(pool)((tx) => appendToOutbox(tx, 'present', [first]));
    await waitFor(() => seen.some((e) => e.id === first.id));

    await pool.query(outboxMigrationSql('absent'));
    relays.push(await startRelay({ databaseUrl: db.url, schema: 'absent', transport, pollIntervalMs: 100 }));
    const late = event('absent');
    await pgTransactions(pool)((tx) => appendToOutbox(tx, 'absent', [late]));
    await waitFor(() => seen.some((e) => e.id === late.id));
  } finally {
    for (const r of relays) await r.stop();
    await consumer.stop();
    await transport.close();
  }
});

async function waitFor(probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
