import { dropSyncConflictsSqlV1, syncConflictsSqlV1 } from '@carve/shared-messaging';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'roadmaps';

/**
 * Sync conflicts on the service's side (expand only): `roadmaps.sync_conflicts` (an event of the
 * monolith at the version of a release the service wrote itself, kept with both payloads) and
 * `roadmaps.written_versions` (the newest version of each aggregate the service wrote, kept by
 * a trigger on its outbox). See @carve/shared-messaging conflicts.ts; the V1 builders never change.
 */
export class SyncConflicts1795893277183 implements MigrationInterface {
  name = 'SyncConflicts1795893277183';

  async up(q: QueryRunner): Promise<void> {
    await q.query(syncConflictsSqlV1(S, 'roadmaps-service'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropSyncConflictsSqlV1(S));
  }
}
