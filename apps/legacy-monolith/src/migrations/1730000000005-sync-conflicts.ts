import { dropSyncConflictsSqlV1, syncConflictsSqlV1 } from '@carve/shared-messaging';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'legacy';

/**
 * Sync conflicts on the monolith's side (expand only): `legacy.sync_conflicts` (a carved
 * service's event at the version of a note or release the monolith wrote itself, kept with both
 * payloads by reverse sync) and `legacy.written_versions` (the newest version of each aggregate
 * the monolith wrote with its own origin, kept by a trigger on `legacy.outbox`). See
 * @carve/shared-messaging conflicts.ts; the V1 builders never change.
 */
export class SyncConflicts1730000000005 implements MigrationInterface {
  name = 'SyncConflicts1730000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(syncConflictsSqlV1(S, 'legacy'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropSyncConflictsSqlV1(S));
  }
}
