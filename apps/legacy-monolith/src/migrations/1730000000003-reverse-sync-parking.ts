import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

/**
 * Where the reverse sync parks an event that arrived before what it depends on (expand only: a
 * new table). The carved services' topics are not ordered with each other: a note's link can
 * arrive before the note itself, and the monolith's foreign keys refuse it. Such an event is
 * recorded in the inbox (so it is never redelivered) and parked here, keyed by what it waits for
 * (`note:<id>`); the handler of that parent applies it in the same transaction as the parent.
 * See src/reverse-sync/insights/insights-reverse-sync.ts.
 */
export class ReverseSyncParking1730000000003 implements MigrationInterface {
  name = 'ReverseSyncParking1730000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS ${S}.reverse_sync_parked (
      consumer text NOT NULL,
      event_id uuid NOT NULL,
      waits_for text NOT NULL,
      topic text NOT NULL,
      envelope jsonb NOT NULL,
      parked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (consumer, event_id)
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS reverse_sync_parked_waits_for ON ${S}.reverse_sync_parked (consumer, waits_for)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${S}.reverse_sync_parked`);
  }
}
