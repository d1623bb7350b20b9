import { ident } from './executor';

/**
 * DDL for a consumer's inbox in its own schema, idempotent:
 * - `<schema>.inbox(consumer, event_id)`: every event a consumer has seen and what it did with
 *   it (`applied`, `stale`, `own-origin`); the primary key makes a redelivery a no-op.
 * - `<schema>.aggregate_versions(consumer, aggregate_type, aggregate_id, version)`: the newest
 *   aggregateVersion applied per aggregate; anything not newer is skipped.
 */
export function inboxMigrationSql(schema: string, opts: { createSchema?: boolean } = {}): string {
  return `${opts.createSchema === false ? '' : `\nCREATE SCHEMA IF NOT EXISTS ${ident(schema)};`}${inboxTablesSqlV1(schema)}`;
}

/**
 * Version 1 of the inbox's DDL (above), without CREATE SCHEMA, frozen: a migration that shipped
 * runs exactly this, so it never changes. A change is a new version run by a new migration.
 */
export function inboxTablesSqlV1(schema: string): string {
  const s = ident(schema);
  return `
CREATE TABLE IF NOT EXISTS ${s}.inbox (
  consumer text NOT NULL,
  event_id uuid NOT NULL,
  topic text NOT NULL,
  event_type text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  aggregate_version bigint NOT NULL,
  outcome text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS inbox_received_at_idx ON ${s}.inbox (received_at);
CREATE TABLE IF NOT EXISTS ${s}.aggregate_versions (
  consumer text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  version bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, aggregate_type, aggregate_id)
);
`;
}

/**
 * DDL for the Postgres transport's own tables (in `carve` by default): each consumer group's
 * position per topic, and the dead-letter table that stands in for `<topic>.dlq`.
 */
export function postgresTransportMigrationSql(schema = 'carve'): string {
  const s = ident(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.messaging_offsets (
  group_id text NOT NULL,
  topic text NOT NULL,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic)
);
CREATE TABLE IF NOT EXISTS ${s}.messaging_dead_letters (
  id bigserial PRIMARY KEY,
  dlq_topic text NOT NULL,
  original_topic text NOT NULL,
  partition integer NOT NULL DEFAULT 0,
  "offset" text NOT NULL,
  key text,
  value text,
  headers jsonb,
  event_id text,
  error text NOT NULL,
  reason text NOT NULL,
  group_id text,
  attempts integer NOT NULL DEFAULT 0,
  failed_at timestamptz NOT NULL DEFAULT now(),
  replayed_at timestamptz
);
CREATE INDEX IF NOT EXISTS messaging_dead_letters_topic_idx ON ${s}.messaging_dead_letters (original_topic, id);
`;
}
