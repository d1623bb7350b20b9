import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0004 of schema `carve`: named operators of the gateway's admin API. Additive only.
 *
 * - `operators`: one row per live operator token (`carve operator create`): its name (the audit
 *   actor of everything done with it), its role (`operator` may change, `viewer` only reads),
 *   and the SHA-256 of the token. The token itself is printed once and never stored.
 *   `carve operator revoke` deletes the row; the audit keeps who created and revoked it.
 */
export class Operators1729000000004 implements MigrationInterface {
  name = 'Operators1729000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    CREATE TABLE IF NOT EXISTS carve.operators (
      name         text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
      role         text NOT NULL CHECK (role IN ('operator', 'viewer')),
      token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
      created_at   timestamptz NOT NULL DEFAULT now(),
      created_by   text NOT NULL,
      last_used_at timestamptz
    );
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): Operators1729000000004 has no down');
  }
}
