import { dropWriteFenceSqlV1, writeFenceSchemaSqlV1, writeFenceTablesSqlV1 } from '@carve/shared-persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

/**
 * The write fence on the monolith's side (expand only: a table, functions, triggers). The
 * monolith owns the writes of every context until a handover moves them; from then on its
 * database refuses a write of that context's aggregates (409 not_source_of_truth), whoever makes
 * it, and refuses every write of it while a handover holds the fence (503 write_fenced).
 * See @carve/shared-persistence write-fence.ts; the V1 builders never change.
 */
export class WriteFence1730000000004 implements MigrationInterface {
  name = 'WriteFence1730000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(writeFenceSchemaSqlV1(S));
    await q.query(writeFenceTablesSqlV1({ schema: S, context: 'insights', tables: ['notes', 'note_features'], ownerByDefault: true }));
    await q.query(writeFenceTablesSqlV1({ schema: S, context: 'roadmaps', tables: ['releases', 'release_features'], ownerByDefault: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropWriteFenceSqlV1(S, ['notes', 'note_features', 'releases', 'release_features']));
  }
}
