import type { Envelope } from './envelope';
import { ident, queryRows, type SqlExecutor } from './executor';

/**
 * Sync conflicts: an event from the other side at the same aggregate version as the row this
 * side holds, where this side wrote that version itself. Both sides accepted a write at one
 * version; applying the event would silently drop this side's write, skipping it would drop the
 * other's. Neither happens: the consumer records the conflict with both payloads in
 * `<schema>.sync_conflicts` (its own database), counts it (`carve_sync_conflicts_total`), marks
 * the inbox row `conflict`, and leaves the stored row as it is. `carve status <context>` shows
 * the open conflicts of both sides; docs/runbooks/sync-conflicts.md says how to resolve one.
 *
 * What "this side wrote that version itself" means is kept by the side's outbox:
 * `<schema>.written_versions` holds, per aggregate, the newest version an event of this side's
 * own origin was appended for (a trigger on `<schema>.outbox`, so every write path of the side
 * counts, whatever its code). A row that got its version from the other side (an applied event,
 * a backfill) has no such entry, so an event at the same version is the same change again.
 *
 * The DDL for both tables and the trigger, idempotent; shipped migrations call this V1 builder,
 * so it never changes (a change is a V2 beside it).
 */
export function syncConflictsSqlV1(schema: string, ownOrigin: string): string {
  const s = ident(schema);
  if (!/^[a-z][a-z0-9-]*$/.test(ownOrigin)) throw new TypeError(`origin must be lower-case kebab-case, got ${JSON.stringify(ownOrigin)}`);
  return `
CREATE TABLE IF NOT EXISTS ${s}.sync_conflicts (
  id bigserial PRIMARY KEY,
  consumer text NOT NULL,
  context text NOT NULL,
  event_id uuid NOT NULL,
  topic text NOT NULL,
  event_type text NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  aggregate_version bigint NOT NULL,
  event_origin text NOT NULL,
  local_origin text NOT NULL,
  event_payload jsonb NOT NULL,
  local_payload jsonb,
  detected_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  resolved_at timestamptz,
  resolved_by text,
  resolution text,
  UNIQUE (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS sync_conflicts_open_idx ON ${s}.sync_conflicts (context, detected_at) WHERE resolved_at IS NULL;
CREATE TABLE IF NOT EXISTS ${s}.written_versions (
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  version bigint NOT NULL,
  event_id uuid NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id)
);
CREATE OR REPLACE FUNCTION ${s}.record_written_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO ${s}.written_versions (aggregate_type, aggregate_id, version, event_id)
  VALUES (NEW.envelope->>'aggregateType', NEW.envelope->>'aggregateId', (NEW.envelope->>'aggregateVersion')::bigint, NEW.id)
  ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = EXCLUDED.version, event_id = EXCLUDED.event_id
    WHERE written_versions.version <= EXCLUDED.version;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE TRIGGER outbox_written_version AFTER INSERT ON ${s}.outbox
  FOR EACH ROW WHEN (NEW.envelope->>'origin' = '${ownOrigin}') EXECUTE FUNCTION ${s}.record_written_version();
`;
}

/** Undoes `syncConflictsSqlV1` (a migration's `down`). Version 1: never edit. */
export function dropSyncConflictsSqlV1(schema: string): string {
  const s = ident(schema);
  return `
DROP TRIGGER IF EXISTS outbox_written_version ON ${s}.outbox;
DROP FUNCTION IF EXISTS ${s}.record_written_version();
DROP TABLE IF EXISTS ${s}.written_versions;
DROP TABLE IF EXISTS ${s}.sync_conflicts;
`;
}

/** What a handler returns instead of applying an event that conflicts (see syncConflictsSqlV1). */
export interface SyncConflict {
  /** The carved context the aggregate belongs to (metric label, `carve status`). */
  readonly context: string;
  /** The aggregate whose version both sides wrote (for a link event: its note). */
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** This side's origin (who wrote the stored version). */
  readonly localOrigin: string;
  /** The stored row (with what belongs to it), as this side holds it. */
  readonly localPayload: unknown;
}

export function isSyncConflict(x: unknown): x is SyncConflict {
  return typeof x === 'object' && x !== null && typeof (x as SyncConflict).context === 'string' && typeof (x as SyncConflict).aggregateId === 'string' && 'localPayload' in x;
}

/** Whether this side wrote `version` of the aggregate itself (its newest own write is that version). */
export async function wroteVersionHere(ex: SqlExecutor, schema: string, aggregateType: string, aggregateId: string, version: number): Promise<boolean> {
  const rows = await queryRows<{ version: string }>(ex, `SELECT version FROM ${ident(schema)}.written_versions WHERE aggregate_type = $1 AND aggregate_id = $2`, [aggregateType, aggregateId]);
  return rows.length > 0 && Number(rows[0].version) === version;
}

/** Stores a conflict (both payloads) in the consumer's schema; a redelivery of the same event stores nothing more. */
export async function recordSyncConflict(ex: SqlExecutor, schema: string, args: { consumer: string; topic: string; event: Envelope; conflict: SyncConflict }): Promise<void> {
  const e = args.event;
  const c = args.conflict;
  await ex.query(
    `INSERT INTO ${ident(schema)}.sync_conflicts
       (consumer, context, event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version, event_origin, local_origin, event_payload, local_payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb)
     ON CONFLICT (consumer, event_id) DO NOTHING`,
    [args.consumer, c.context, e.id, args.topic, e.type, c.aggregateType, c.aggregateId, e.aggregateVersion, e.origin, c.localOrigin, JSON.stringify(e), c.localPayload === undefined ? null : JSON.stringify(c.localPayload)],
  );
}

export interface StoredSyncConflict {
  id: number;
  consumer: string;
  context: string;
  eventId: string;
  topic: string;
  eventType: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  eventOrigin: string;
  localOrigin: string;
  eventPayload: Envelope;
  localPayload: unknown;
  detectedAt: Date;
}

/** The open (unresolved) conflicts of a context in one side's schema, oldest first, and how many there are. */
export async function openSyncConflicts(ex: SqlExecutor, schema: string, context: string, limit = 20): Promise<{ count: number; oldest: StoredSyncConflict[] }> {
  const s = ident(schema);
  const [{ n }] = await queryRows<{ n: string }>(ex, `SELECT count(*) AS n FROM ${s}.sync_conflicts WHERE context = $1 AND resolved_at IS NULL`, [context]);
  const rows = await queryRows<any>(
    ex,
    `SELECT id, consumer, context, event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version, event_origin, local_origin, event_payload, local_payload, detected_at
       FROM ${s}.sync_conflicts WHERE context = $1 AND resolved_at IS NULL ORDER BY detected_at, id LIMIT $2`,
    [context, limit],
  );
  return {
    count: Number(n),
    oldest: rows.map((r) => ({
      id: Number(r.id),
      consumer: r.consumer,
      context: r.context,
      eventId: r.event_id,
      topic: r.topic,
      eventType: r.event_type,
      aggregateType: r.aggregate_type,
      aggregateId: r.aggregate_id,
      aggregateVersion: Number(r.aggregate_version),
      eventOrigin: r.event_origin,
      localOrigin: r.local_origin,
      eventPayload: r.event_payload,
      localPayload: r.local_payload,
      detectedAt: r.detected_at,
    })),
  };
}
