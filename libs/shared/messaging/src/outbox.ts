import { context } from '@opentelemetry/api';
import { type Envelope, type OutboxEvent, topicFor } from './envelope';
import { ident, type SqlExecutor } from './executor';
import { activeSpan, endSpans, messageSpan, type MessageSpan } from './tracing';

/** NOTIFY channel the outbox trigger signals at commit: `<schema>_outbox` (wakes the relay). */
export const outboxChannel = (schema: string) => `${ident(schema)}_outbox`;
/** NOTIFY channel the relay signals when it has published rows: wakes Postgres-transport consumers. */
export const outboxLogChannel = (schema: string) => `${ident(schema)}_outbox_log`;

/**
 * DDL for `<schema>.outbox`, idempotent (safe to run on every migration), for the migration of
 * the schema's owner. Columns:
 * - `id` the row id (the event id, except for a replayed dead letter), `seq` insertion order;
 * - `topic`, `key` (aggregate id) and the `envelope` as jsonb, optional `headers`;
 * - `published_at`: null until the relay has shipped it (partial index: the relay's queue);
 * - `log_pos`: position in the outbox-as-a-log, given by the single active relay when it marks
 *   a row published, so it follows commit order (seq does not): the Postgres transport's offset.
 * A statement trigger NOTIFYs `<schema>_outbox` so the relay wakes at commit.
 */
export function outboxMigrationSql(schema: string, opts: { createSchema?: boolean } = {}): string {
  return `${opts.createSchema === false ? '' : `\nCREATE SCHEMA IF NOT EXISTS ${ident(schema)};`}${outboxTablesSqlV1(schema)}`;
}

/**
 * Version 1 of the outbox's DDL (above), without CREATE SCHEMA, frozen: a migration that shipped
 * runs exactly this, so it never changes. A change of the outbox's tables is a new version (the
 * delta, run by a new migration) and `outboxMigrationSql` the sum of the versions.
 */
export function outboxTablesSqlV1(schema: string): string {
  const s = ident(schema);
  return `
CREATE TABLE IF NOT EXISTS ${s}.outbox (
  id uuid PRIMARY KEY,
  seq bigserial NOT NULL,
  topic text NOT NULL,
  key text NOT NULL,
  envelope jsonb NOT NULL,
  headers jsonb,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  published_at timestamptz,
  log_pos bigint
);
CREATE SEQUENCE IF NOT EXISTS ${s}.outbox_log_pos_seq;
CREATE INDEX IF NOT EXISTS outbox_unpublished_idx ON ${s}.outbox (seq) WHERE published_at IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS outbox_log_idx ON ${s}.outbox (topic, log_pos) WHERE log_pos IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_published_at_idx ON ${s}.outbox (published_at) WHERE published_at IS NOT NULL;
CREATE OR REPLACE FUNCTION ${s}.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('${s}_outbox', '');
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON ${s}.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.outbox_notify();
`;
}

export type OutboxEntry = Envelope | OutboxEvent;

function isOutboxEvent(e: OutboxEntry): e is OutboxEvent {
  return typeof (e as OutboxEvent).topic === 'string' && typeof (e as OutboxEvent).envelope === 'object';
}

/**
 * Appends events to `<schema>.outbox` inside the caller's transaction: they become visible
 * (and the relay is woken) when, and only if, that transaction commits. One statement for the
 * whole list. An entry is an envelope (topic by convention, `topicFor`) or `{ topic, envelope }`.
 * Called inside a traced request, each event gets a `create` span whose trace context is stored
 * in the row's `headers` (tracing.ts); otherwise `headers` stays null.
 */
export async function appendToOutbox(executor: SqlExecutor, schema: string, entries: OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const ids: string[] = [];
  const topics: string[] = [];
  const keys: string[] = [];
  const bodies: string[] = [];
  const parent = activeSpan() ? context.active() : undefined;
  const spans: MessageSpan[] = [];
  for (const entry of entries) {
    const { topic, envelope } = isOutboxEvent(entry) ? entry : { topic: topicFor(entry), envelope: entry };
    ids.push(envelope.id);
    topics.push(topic);
    keys.push(envelope.aggregateId);
    bodies.push(JSON.stringify(envelope));
    if (parent) spans.push(messageSpan('create', topic, parent, { 'messaging.message.id': envelope.id, 'messaging.system': 'carve-outbox', 'carve.outbox.schema': schema, 'carve.event.type': envelope.type }));
  }
  if (spans.length === 0) {
    await executor.query(
      `INSERT INTO ${ident(schema)}.outbox (id, topic, key, envelope)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[])`,
      [ids, topics, keys, bodies],
    );
    return;
  }
  try {
    await executor.query(
      `INSERT INTO ${ident(schema)}.outbox (id, topic, key, envelope, headers)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[])`,
      [ids, topics, keys, bodies, spans.map((s) => JSON.stringify(s.headers))],
    );
  } catch (err) {
    endSpans(spans, err);
    throw err;
  }
  endSpans(spans);
}
