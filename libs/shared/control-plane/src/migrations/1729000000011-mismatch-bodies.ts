import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Migration 0011 of schema `carve`: the two bodies of a stored shadow mismatch (additive).
 *
 * `shadow_mismatches.bodies`: `{ "monolith": <body>, "service": <body> }` as the gateway
 * compared them (parsed JSON, or text), so the console shows them side by side with the
 * differing fields marked. Null when the gateway did not keep them (bodies above its size
 * limit for samples, or a gateway older than this migration).
 */
export class MismatchBodies1729000000011 implements MigrationInterface {
  name = 'MismatchBodies1729000000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
    ALTER TABLE carve.shadow_mismatches ADD COLUMN bodies jsonb;
  `);
  }

  async down(): Promise<void> {
    throw new Error('schema carve only grows (expand/contract): MismatchBodies1729000000011 has no down');
  }
}
