/**
 * What `carve events dlq replay` has sent back, for the Kafka transport: a Kafka DLQ topic
 * cannot mark a message, so the replay state lives in the control plane
 * (`carve.dead_letter_replays`, migration 0007 of @carve/shared-control-plane), one row per
 * dead letter with the consumer group it failed in. A replay claims its dead letters before it
 * publishes them (a row each, inserted only if absent): two replays running at once never send
 * one twice, and a dead letter is replayed at most once. A publish that fails gives its claims
 * back. (The Postgres transport keeps the same state in `messaging_dead_letters.replayed_at`.)
 */
import { Pool } from 'pg';
import type { DeadLetter } from './transport';

export interface DeadLetterReplayLedger {
  /** When each of `ids` was replayed; an id missing from the map is waiting. */
  replayedAt(ids: string[]): Promise<Map<string, string>>;
  /** Claims `letters` for a replay now; resolves with the ids this call claimed (with the time), leaving out those claimed before. */
  claim(letters: DeadLetter[]): Promise<Map<string, string>>;
  /** Gives claims back (their publish failed): they are waiting again. */
  release(ids: string[]): Promise<void>;
  close(): Promise<void>;
}

export class DeadLetterLedgerMissingError extends Error {
  constructor(table: string) {
    super(`${table} does not exist: the control plane is not migrated (its migration 0007 creates it; the gateway's migrator runs the control plane's migrations)`);
    this.name = 'DeadLetterLedgerMissingError';
  }
}

/** The ledger in `<schema>.dead_letter_replays` (default schema `carve`, the control plane). */
export function postgresReplayLedger(opts: { databaseUrl: string; schema?: string }): DeadLetterReplayLedger {
  const table = `${opts.schema ?? 'carve'}.dead_letter_replays`;
  const pool = new Pool({ connectionString: opts.databaseUrl, max: 2, application_name: 'carve-dlq-replay' });
  const query = async <R extends object>(text: string, values: unknown[]): Promise<R[]> => {
    try {
      return (await pool.query<R>(text, values)).rows;
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') throw new DeadLetterLedgerMissingError(table);
      throw err;
    }
  };
  return {
    async replayedAt(ids) {
      if (ids.length === 0) return new Map();
      const rows = await query<{ id: string; at: Date }>(`SELECT dead_letter_id AS id, replayed_at AS at FROM ${table} WHERE dead_letter_id = ANY($1::text[])`, [ids]);
      return new Map(rows.map((r) => [r.id, r.at.toISOString()]));
    },
    async claim(letters) {
      if (letters.length === 0) return new Map();
      const rows = await query<{ id: string; at: Date }>(
        `INSERT INTO ${table} (dead_letter_id, dlq_topic, consumer_group, original_topic, original_partition, original_offset, event_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
         ON CONFLICT (dead_letter_id) DO NOTHING
         RETURNING dead_letter_id AS id, replayed_at AS at`,
        [
          letters.map((d) => d.id),
          letters.map((d) => d.dlqTopic),
          letters.map((d) => d.group),
          letters.map((d) => d.originalTopic),
          letters.map((d) => d.partition),
          letters.map((d) => d.offset),
          letters.map((d) => d.eventId),
        ],
      );
      return new Map(rows.map((r) => [r.id, r.at.toISOString()]));
    },
    async release(ids) {
      if (ids.length > 0) await query(`DELETE FROM ${table} WHERE dead_letter_id = ANY($1::text[])`, [ids]);
    },
    close: () => pool.end(),
  };
}
