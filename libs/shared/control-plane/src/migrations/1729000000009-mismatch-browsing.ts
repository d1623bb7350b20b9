import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0009 of schema `carve`: shadow mismatches kept to be browsed (additive).
 *
 * - `shadow_mismatches.paths`: the normalised field paths a sample differs in (array indexes
 *   as `[*]`), so samples can be filtered by path (GIN index);
 * - `shadow_mismatch_paths`: per route and field path, how many mismatches differed there, and
 *   when first and last; updated in the statement that stores a sample, and never trimmed with
 *   the samples;
 * - `shadow_noise`: per route and field path, how often two answers of the monolith to the same
 *   request differed there (the noise baseline); a mismatch only in such paths is not counted.
 */
export class MismatchBrowsing1729000000009 implements MigrationInterface {
  name = 'MismatchBrowsing1729000000009';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    ALTER TABLE carve.shadow_mismatches ADD COLUMN paths text[] NOT NULL DEFAULT '{}';
    CREATE INDEX shadow_mismatches_paths ON carve.shadow_mismatches USING gin (paths);
    CREATE INDEX shadow_mismatches_route_at ON carve.shadow_mismatches (route_id, at);

    CREATE TABLE carve.shadow_mismatch_paths (
      route_id   text NOT NULL,
      path       text NOT NULL,
      count      bigint NOT NULL,
      first_seen timestamptz NOT NULL,
      last_seen  timestamptz NOT NULL,
      PRIMARY KEY (route_id, path)
    );

    CREATE TABLE carve.shadow_noise (
      route_id   text NOT NULL,
      path       text NOT NULL,
      count      bigint NOT NULL,
      first_seen timestamptz NOT NULL,
      last_seen  timestamptz NOT NULL,
      PRIMARY KEY (route_id, path)
    );
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): MismatchBrowsing1729000000009 has no down');
  }
}
