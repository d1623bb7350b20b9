import { inboxTablesSqlV1, outboxTablesSqlV1 } from '@carve/shared-messaging';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

/**
 * The event backbone's tables in the legacy schema (expand only: new tables, a sequence, a
 * trigger function; nothing the running version reads changes):
 * - `legacy.outbox`: every write appends its events here in its own transaction; the relay
 *   ships them (docs/events.md). Its NOTIFY trigger wakes the relay at commit.
 * - `legacy.inbox` and `legacy.aggregate_versions`: the reverse sync's, where the monolith
 *   consumes the carved services' events (ReverseSyncModule), idempotently.
 * The DDL is the messaging library's version 1 of those tables, frozen (`outboxTablesSqlV1`,
 * `inboxTablesSqlV1`: a change is a new version run by a new migration), without CREATE SCHEMA
 * (the schema exists, and the schema's owner role, what migrator sessions run as, may not CREATE
 * on the database, which Postgres checks before IF NOT EXISTS).
 */
export class OutboxInbox1730000000002 implements MigrationInterface {
  name = 'OutboxInbox1730000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(outboxTablesSqlV1(S));
    await q.query(inboxTablesSqlV1(S));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${S}.aggregate_versions`);
    await q.query(`DROP TABLE IF EXISTS ${S}.inbox`);
    await q.query(`DROP TABLE IF EXISTS ${S}.outbox`);
    await q.query(`DROP FUNCTION IF EXISTS ${S}.outbox_notify()`);
    await q.query(`DROP SEQUENCE IF EXISTS ${S}.outbox_log_pos_seq`);
  }
}
