/**
 * Reverse sync of Roadmaps: once the roadmaps service owns the writes of releases (`carve cutover
 * roadmaps --writes`), the monolith applies the service's events to its own tables, so the
 * releases other modules read stay current and `carve rollback roadmaps` loses nothing.
 *
 * Registered in `reverseSyncHandlers` (src/events/reverse-sync.ts) beside Insights': the
 * monolith's consumer `legacy-reverse-sync` runs it when CARVE_REVERSE_SYNC=true, each event inside
 * its inbox transaction (a redelivery, or an event not newer than the release's last one, never
 * gets here), in a write context caused by the event: what the monolith emits in turn keeps the
 * origin `roadmaps-service`, so the service skips it and nothing echoes.
 *
 * The events carry the monolith's own data shape (@carve/roadmaps-events: ReleaseState, the
 * whole plan in `featureIds`), so applying them is writing rows:
 * - release.created|updated: the release at `aggregateVersion` (upsert, only over an older
 *   version of the same workspace), then its plan made exactly `featureIds`: a planned feature
 *   that stays keeps its createdAt, a new one gets the release's `updatedAt` (the service plans
 *   in the release's transaction, as the monolith does); a feature the monolith has deleted
 *   meanwhile is left out (its own cascade removed it from every plan). Then release.created|
 *   updated in legacy.outbox, with the plan as the monolith now holds it;
 * - release.deleted: the release (and, by cascade, its plan) goes, unless the monolith already
 *   holds a newer version; release.deleted in legacy.outbox;
 * - an event at the version of a release the monolith wrote itself (`legacy.written_versions`) is
 *   a conflict: returned to the consumer, which stores it in `legacy.sync_conflicts` with both
 *   payloads; the monolith's row stays as it is.
 */
import { ReleaseCreated, type ReleaseStateV1, ReleaseUpdated } from '@carve/legacy-events';
import { ROADMAPS_RELEASES_TOPIC } from '@carve/roadmaps-events';
import { type Envelope, type SyncConflict, wroteVersionHere } from '@carve/shared-messaging';
import type { EntityManager } from 'typeorm';
import { LEGACY_SCHEMA as S } from '../../database/schema';
import { emitLegacyEvents, LEGACY_ORIGIN, releaseDeleted, releaseEvent } from '../../events/legacy-events';
import type { ReverseSyncHandler, ReverseSyncHandlers } from '../../events/reverse-sync';
import { Release } from '../../releases/release.entity';

async function rows<T = any>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const r = await em.query(sql, params);
  // TypeORM returns [rows, affected] for UPDATE/DELETE ... RETURNING, rows otherwise.
  return (Array.isArray(r) && r.length === 2 && Array.isArray(r[0]) && typeof r[1] === 'number' ? r[0] : r) as T[];
}

async function planOf(em: EntityManager, releaseId: string): Promise<string[]> {
  return (await rows<{ feature_id: string }>(em, `SELECT feature_id FROM ${S}.release_features WHERE release_id = $1 ORDER BY created_at, feature_id`, [releaseId])).map((r) => r.feature_id);
}

/**
 * The conflict of an event at `event.aggregateVersion` of release `id`, if the monolith wrote that
 * version itself: the release is at that version (or was deleted at it) and
 * `legacy.written_versions` says the monolith wrote it. Locks the release's row.
 */
async function conflictOf(event: Envelope, em: EntityManager, id: string): Promise<SyncConflict | null> {
  const v = event.aggregateVersion;
  const release = await rows<{ version: number }>(em, `SELECT version FROM ${S}.releases WHERE id = $1 FOR UPDATE`, [id]);
  if (release.length && Number(release[0].version) !== v) return null;
  if (!(await wroteVersionHere(em, S, 'release', id, v))) return null;
  const [local] = await rows<{ payload: unknown }>(
    em,
    `SELECT CASE WHEN r.id IS NULL THEN jsonb_build_object('deleted', true, 'id', $1::text, 'version', $2::int)
            ELSE to_jsonb(r) || jsonb_build_object('featureIds',
                   COALESCE((SELECT jsonb_agg(f.feature_id ORDER BY f.created_at, f.feature_id) FROM ${S}.release_features f WHERE f.release_id = r.id), '[]'::jsonb)) END AS payload
       FROM (SELECT 1) one LEFT JOIN ${S}.releases r ON r.id = $1::uuid`,
    [id, v],
  );
  return { context: 'roadmaps', aggregateType: 'release', aggregateId: id, localOrigin: LEGACY_ORIGIN, localPayload: local?.payload ?? null };
}

async function applyReleaseState(event: Envelope, em: EntityManager): Promise<void | SyncConflict> {
  const r = event.data as ReleaseStateV1;
  const conflict = await conflictOf(event, em, r.id);
  if (conflict) return conflict;
  const written = await rows<{ inserted: boolean }>(
    em,
    `INSERT INTO ${S}.releases AS t (id, workspace_id, name, description, starts_on, ends_on, state, version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on,
       state = EXCLUDED.state, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
     WHERE t.version < EXCLUDED.version AND t.workspace_id = EXCLUDED.workspace_id
     RETURNING (xmax = 0) AS inserted`,
    [r.id, r.workspaceId, r.name, r.description, r.startsOn, r.endsOn, r.state, event.aggregateVersion, r.createdAt, r.updatedAt],
  );
  if (written.length === 0) return; // the monolith holds this version or a newer one already
  await em.query(`DELETE FROM ${S}.release_features WHERE release_id = $1 AND NOT (feature_id = ANY($2::uuid[]))`, [r.id, r.featureIds]);
  if (r.featureIds.length) {
    await em.query(
      `INSERT INTO ${S}.release_features (release_id, feature_id, workspace_id, created_at)
       SELECT $1, f.id, f.workspace_id, $4 FROM ${S}.features f WHERE f.id = ANY($3::uuid[]) AND f.workspace_id = $2
       ON CONFLICT (release_id, feature_id) DO NOTHING`,
      [r.id, r.workspaceId, r.featureIds, r.updatedAt],
    );
  }
  const release = await em.getRepository(Release).findOneByOrFail({ id: r.id });
  await emitLegacyEvents(em, [releaseEvent(written[0].inserted ? ReleaseCreated : ReleaseUpdated, release, await planOf(em, r.id))]);
}

async function applyReleaseDeleted(event: Envelope, em: EntityManager): Promise<void | SyncConflict> {
  const d = event.data as { id: string; workspaceId: string };
  const conflict = await conflictOf(event, em, d.id);
  if (conflict) return conflict;
  const gone = await rows(em, `DELETE FROM ${S}.releases WHERE id = $1 AND workspace_id = $2 AND version < $3 RETURNING id`, [d.id, d.workspaceId, event.aggregateVersion]);
  if (gone.length) await emitLegacyEvents(em, [releaseDeleted(d, event.aggregateVersion)]);
}

const onRelease: ReverseSyncHandler = async (event, em) => {
  switch (event.type) {
    case 'release.created':
    case 'release.updated':
      return applyReleaseState(event, em);
    case 'release.deleted':
      return applyReleaseDeleted(event, em);
    default:
      return; // a type this monolith does not know yet: recorded in the inbox, nothing to apply
  }
};

/** The topics of the roadmaps service and what the monolith does with them. */
export const roadmapsReverseSyncHandlers: ReverseSyncHandlers = {
  [ROADMAPS_RELEASES_TOPIC]: onRelease,
};
