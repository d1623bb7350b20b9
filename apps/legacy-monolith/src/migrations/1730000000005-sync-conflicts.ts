import { syncConflictsSqlV1 } from '@carve/shared-messaging';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

/**
 * Sync conflicts on the monolith's side (expand only): `legacy.sync_conflicts` (a carved
 * service's event at the version of a note or release the monolith wrote itself, kept with both
 * payloads by reverse sync) and `legacy.written_versions` (the newest version of each aggregate
 * the monolith wrote with its own origin, kept by a trigger on `legacy.outbox`). See
 * @carve/shared-messaging conflicts.ts; the V1 builder never changes.
 */
export class SyncConflicts1730000000005 implements MigrationInterface {
  name = 'SyncConflicts1730000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(syncConflictsSqlV1(S, 'legacy'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS outbox_written_version ON ${S}.outbox`);
    await q.query(`DROP FUNCTION IF EXISTS ${S}.record_written_version()`);
    await q.query(`DROP TABLE IF EXISTS ${S}.written_versions`);
    await q.query(`DROP TABLE IF EXISTS ${S}.sync_conflicts`);
  }
}
