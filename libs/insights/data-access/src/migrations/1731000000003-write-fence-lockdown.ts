import { undoWriteFenceLockdownSqlV1, writeFenceLockdownSqlV1 } from '@carve/shared-persistence';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Only the fence's owner changes who owns the writes: the fence's check runs with its owner's
 * rights and no other role (the app's included) may write `insights.write_fence`. See
 * @carve/shared-persistence write-fence.ts; the V1 builders never change.
 */
export class WriteFenceLockdown1731000000003 implements MigrationInterface {
  name = 'WriteFenceLockdown1731000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(writeFenceLockdownSqlV1('insights'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(undoWriteFenceLockdownSqlV1('insights'));
  }
}
