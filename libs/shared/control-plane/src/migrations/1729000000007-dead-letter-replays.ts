import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0007 of schema `carve`: which Kafka dead letters `carve events dlq replay` has sent
 * back to their topic. A Kafka DLQ topic cannot mark a message, so the replay state lives here:
 * one row per dead letter (its id `<dlq topic>:<partition>:<offset>`), with the consumer group
 * it failed in. A replay claims the rows before it publishes (INSERT ... ON CONFLICT DO
 * NOTHING), so two replays running at once never send a dead letter twice; `dlq list` shows a
 * dead letter with a row as replayed, the others as waiting. (The Postgres transport keeps the
 * same state in its own `messaging_dead_letters.replayed_at`.) Additive only.
 */
export class DeadLetterReplays1729000000007 implements MigrationInterface {
  name = 'DeadLetterReplays1729000000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    CREATE TABLE IF NOT EXISTS carve.dead_letter_replays (
      dead_letter_id     text PRIMARY KEY,
      dlq_topic          text NOT NULL,
      consumer_group     text,
      original_topic     text NOT NULL,
      original_partition integer NOT NULL,
      original_offset    text NOT NULL,
      event_id           text,
      replayed_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS dead_letter_replays_dlq_topic ON carve.dead_letter_replays (dlq_topic, consumer_group);
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): DeadLetterReplays1729000000007 has no down');
  }
}
