import { dropWriteFenceSqlV1, writeFenceSchemaSqlV1, writeFenceTablesSqlV1 } from '@carve/shared-persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'roadmaps';
const TABLES = ['releases', 'release_features'];

/**
 * The write fence on the service's side (expand only). The service owns none of the context's
 * writes until a handover gives them to it: before that, its database refuses a write of these
 * tables (409 not_source_of_truth), and while a handover holds the fence, every write (503
 * write_fenced). Forward sync and the backfill pass (they apply the monolith's changes).
 * See @carve/shared-persistence write-fence.ts; the V1 builders never change.
 */
export class WriteFence1795893277182 implements MigrationInterface {
  name = 'WriteFence1795893277182';

  async up(q: QueryRunner): Promise<void> {
    await q.query(writeFenceSchemaSqlV1(S));
    await q.query(writeFenceTablesSqlV1({ schema: S, context: 'roadmaps', tables: TABLES, ownerByDefault: false }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropWriteFenceSqlV1(S, TABLES));
  }
}
