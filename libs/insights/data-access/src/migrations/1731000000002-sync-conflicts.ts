import { dropSyncConflictsSqlV1, syncConflictsSqlV1 } from '@carve/shared-messaging';
import type { MigrationInterface, QueryRunner } from 'typeorm';

const S = 'insights';

/**
 * Sync conflicts on the service's side (expand only): `insights.sync_conflicts` (an event of the
 * monolith at the version of a note the service wrote itself, kept with both payloads) and
 * `insights.written_versions` (the newest version of each aggregate the service wrote, kept by
 * a trigger on its outbox). See @carve/shared-messaging conflicts.ts; the V1 builders never change.
 */
export class SyncConflicts1731000000002 implements MigrationInterface {
  name = 'SyncConflicts1731000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(syncConflictsSqlV1(S, 'insights-service'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropSyncConflictsSqlV1(S));
  }
}
