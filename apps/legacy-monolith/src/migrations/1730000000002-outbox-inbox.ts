import { inboxMigrationSql, outboxMigrationSql } from '@carve/shared-messaging';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

/**
 * The library's DDL without its `CREATE SCHEMA IF NOT EXISTS`: the schema exists (the migration
 * runner creates it), and Postgres checks CREATE on the database before IF NOT EXISTS, which the
 * schema's owner role (what migrator sessions run as, @carve/shared-persistence provisioning)
 * does not have.
 */
function withoutCreateSchema(sql: string): string {
  const out = sql.replace(new RegExp(`^\\s*CREATE SCHEMA IF NOT EXISTS ${S};\\s*$`, 'm'), '');
  if (/CREATE SCHEMA/i.test(out)) throw new Error('the messaging DDL creates a schema in a way this migration does not expect');
  return out;
}

/**
 * The event backbone's tables in the legacy schema (expand only: new tables, a sequence, a
 * trigger function; nothing the running version reads changes):
 * - `legacy.outbox`: every write appends its events here in its own transaction; the relay
 *   ships them (docs/events.md). Its NOTIFY trigger wakes the relay at commit.
 * - `legacy.inbox` and `legacy.aggregate_versions`: for the reverse sync to come, when the
 *   monolith consumes the carved services' events (ReverseSyncModule), idempotently.
 * The DDL is the messaging library's (minus CREATE SCHEMA, see below), idempotent by design (IF NOT EXISTS / OR REPLACE): a later
 * change of those tables ships as a new migration that runs the library's DDL again.
 */
export class OutboxInbox1730000000002 implements MigrationInterface {
  name = 'OutboxInbox1730000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(withoutCreateSchema(outboxMigrationSql(S)));
    await q.query(withoutCreateSchema(inboxMigrationSql(S)));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS ${S}.aggregate_versions`);
    await q.query(`DROP TABLE IF EXISTS ${S}.inbox`);
    await q.query(`DROP TABLE IF EXISTS ${S}.outbox`);
    await q.query(`DROP FUNCTION IF EXISTS ${S}.outbox_notify()`);
    await q.query(`DROP SEQUENCE IF EXISTS ${S}.outbox_log_pos_seq`);
  }
}
