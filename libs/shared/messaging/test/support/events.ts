import { Client, type PoolClient } from 'pg';
import { appendToOutbox, createEvent, type Envelope, type EventContractRef, type EventHandler, inboxMigrationSql, outboxMigrationSql, type OutboxEvent } from '../../src';

/** A test source: its outbox schema and topic `<source>.notes.v1`. */
export interface TestSource {
  source: string;
  schema: string;
  topic: string;
}

export function testSource(source: string): TestSource {
  return { source, schema: source, topic: `${source}.notes.v1` };
}

export const noteContract = (source: string): EventContractRef<{ title: string }> => ({ type: 'note.updated', version: '1.0', source, aggregateType: 'note' });

export function noteEvent(src: TestSource, aggregateId: string, version: number, extra: Partial<Envelope> = {}): OutboxEvent<{ title: string }> {
  const e = createEvent(noteContract(src.source), {
    tenantId: 'w1',
    aggregateId,
    aggregateVersion: version,
    data: { title: `${aggregateId} v${version}` },
  });
  Object.assign(e.envelope, extra);
  return e;
}

/** Outbox of the source, inbox and the sink tables of the consumer, in one database. */
export async function migrate(url: string, src: TestSource, sinkSchema: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(outboxMigrationSql(src.schema));
    await c.query(inboxMigrationSql(sinkSchema));
    await c.query(`
      CREATE TABLE IF NOT EXISTS ${sinkSchema}.notes (id text PRIMARY KEY, title text NOT NULL, version int NOT NULL, applies int NOT NULL DEFAULT 1);
      CREATE TABLE IF NOT EXISTS ${sinkSchema}.applied_log (
        seq bigserial PRIMARY KEY, consumer text NOT NULL, event_id uuid NOT NULL, aggregate_id text NOT NULL, version int NOT NULL,
        occurred_at timestamptz NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp());`);
  } finally {
    await c.end();
  }
}

/** The consumer's side effect: the note's state, and a log line per application (to check order and count). */
export function sinkHandler(sinkSchema: string, consumer: string): EventHandler<PoolClient> {
  return async (e, tx) => {
    const data = e.data as { title: string };
    await tx.query(
      `INSERT INTO ${sinkSchema}.notes (id, title, version) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, version = EXCLUDED.version, applies = notes.applies + 1`,
      [e.aggregateId, data.title, e.aggregateVersion],
    );
    await tx.query(`INSERT INTO ${sinkSchema}.applied_log (consumer, event_id, aggregate_id, version, occurred_at) VALUES ($1, $2, $3, $4, $5)`, [
      consumer, e.id, e.aggregateId, e.aggregateVersion, e.occurredAt,
    ]);
  };
}

/**
 * Commits `versions` versions of each aggregate, interleaved (v1 of all, then v2...), `perTx`
 * events per transaction. Returns the envelopes in commit order.
 */
export async function writeEvents(url: string, src: TestSource, aggregates: string[], versions: number, perTx = 5, fromVersion = 1): Promise<Envelope[]> {
  const all: OutboxEvent[] = [];
  for (let v = fromVersion; v < fromVersion + versions; v++) for (const a of aggregates) all.push(noteEvent(src, a, v));
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    for (let i = 0; i < all.length; i += perTx) {
      await c.query('BEGIN');
      await appendToOutbox(c, src.schema, all.slice(i, i + perTx));
      await c.query('COMMIT');
    }
  } finally {
    await c.end();
  }
  return all.map((e) => e.envelope);
}

export interface AppliedCheck {
  /** Rows in the consumer's applied log. */
  applied: number;
  /** Distinct event ids among them (== applied means nothing was applied twice). */
  distinctEvents: number;
  /** Aggregates whose versions were applied out of order (must be empty). */
  outOfOrder: string[];
  /** Per aggregate: the versions applied, in application order. */
  versions: Record<string, number[]>;
}

export async function checkApplied(url: string, sinkSchema: string, consumer: string): Promise<AppliedCheck> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ event_id: string; aggregate_id: string; version: number }>(
      `SELECT event_id, aggregate_id, version FROM ${sinkSchema}.applied_log WHERE consumer = $1 ORDER BY seq`,
      [consumer],
    );
    const versions: Record<string, number[]> = {};
    for (const r of rows) (versions[r.aggregate_id] ??= []).push(r.version);
    const outOfOrder = Object.entries(versions)
      .filter(([, vs]) => vs.some((v, i) => i > 0 && v <= vs[i - 1]))
      .map(([a]) => a);
    return { applied: rows.length, distinctEvents: new Set(rows.map((r) => r.event_id)).size, outOfOrder, versions };
  } finally {
    await c.end();
  }
}
