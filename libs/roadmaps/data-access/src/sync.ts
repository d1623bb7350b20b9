/**
 * Applying the monolith's state to schema `roadmaps`, version-guarded. One function per kind of
 * change, each safe in any order and any number of times:
 *
 * - a row is only written when the incoming `aggregate_version` is not older than the stored one
 *   (`<=`: the same version again rewrites the same state);
 * - deletions leave a tombstone (type, id, version): an older state (a late event, a backfilled
 *   row read before the delete) never brings the row back; a workspace tombstone stops
 *   everything of that workspace;
 * - a release carries its whole plan (`featureIds`): the plan is replaced with it. A planned
 *   feature that is new at this version was planned at this version's `updatedAt` (the monolith
 *   plans and bumps the release in one transaction), so that is its `createdAt`; one that stays
 *   keeps its own. That holds while forward sync sees every version; if one were skipped (a
 *   compacted topic), `carve verify roadmaps` names the release and `carve backfill roadmaps
 *   --restart` rewrites its plan from the monolith (it does where both sides hold one version).
 *
 * An event of the monolith at the version of a release the service wrote itself is a conflict
 * (`forwardSyncConflict`): neither applied nor skipped, recorded by the consumer with both payloads
 * (see @carve/shared-messaging conflicts.ts).
 *
 * The forward-sync consumer calls `applyLegacyEvent` inside its inbox transaction; tests and
 * tools call the per-kind functions. `ex` is any executor of the caller's transaction.
 */
import type { FeatureStateV1, ReleaseStateV1 } from '@carve/legacy-events';
import { ROADMAPS_ORIGIN } from '@carve/roadmaps-events';
import { type Envelope, queryRows, type SqlExecutor, type SyncConflict, wroteVersionHere } from '@carve/shared-messaging';
import { type ApplyResult, featureTitles, tombstones } from '@carve/shared-persistence';
import { ROADMAPS_SCHEMA as S } from './schema';

export type { ApplyResult } from '@carve/shared-persistence';

type TombstoneType = 'workspace' | 'feature' | 'release';

async function one<R>(ex: SqlExecutor, sql: string, params: unknown[]): Promise<R | undefined> {
  return (await queryRows<R>(ex, sql, params))[0];
}

/** The schema's tombstones (@carve/shared-persistence): a workspace's buries everything of it, an aggregate's the versions up to its own. */
const { buried, bury } = tombstones<TombstoneType>(S);
/** The read model of the monolith's features (@carve/shared-persistence): title and status. */
const titles = featureTitles(S);

// ---- workspaces ------------------------------------------------------------------------------------

export async function applyWorkspaceState(ex: SqlExecutor, w: { id: string }, version: number): Promise<ApplyResult> {
  if (await buried(ex, w.id, [['workspace', w.id]], version)) return 'stale';
  const rows = await queryRows(
    ex,
    `INSERT INTO ${S}.workspaces AS t (id, aggregate_version) VALUES ($1, $2)
     ON CONFLICT (id) DO UPDATE SET aggregate_version = EXCLUDED.aggregate_version WHERE t.aggregate_version <= EXCLUDED.aggregate_version
     RETURNING 1`,
    [w.id, version],
  );
  return rows.length ? 'applied' : 'stale';
}

/** A deleted workspace takes everything of it along (the monolith cascades the same way). */
export async function applyWorkspaceDeleted(ex: SqlExecutor, d: { id: string }, version: number): Promise<ApplyResult> {
  for (const t of ['release_features', 'releases', 'feature_titles']) await ex.query(`DELETE FROM ${S}.${t} WHERE workspace_id = $1`, [d.id]);
  await ex.query(`DELETE FROM ${S}.workspaces WHERE id = $1`, [d.id]);
  await bury(ex, 'workspace', d.id, d.id, version);
  return 'applied';
}

// ---- features (read model: title and status) ------------------------------------------------------

export const applyFeatureState = (ex: SqlExecutor, f: Pick<FeatureStateV1, 'id' | 'workspaceId' | 'title' | 'status'>, version: number): Promise<ApplyResult> => titles.applyState(ex, f, version);

/**
 * The feature leaves the read model. Plans are not touched here: the monolith removes a deleted
 * feature from every plan in the same transaction and emits release.updated for each release,
 * which carries the new plan (and a newer version).
 */
export const applyFeatureDeleted = (ex: SqlExecutor, d: { id: string; workspaceId: string }, version: number): Promise<ApplyResult> => titles.applyDeleted(ex, d, version);

// ---- releases and their plans ----------------------------------------------------------------------

/** A release's whole state (its plan included) at `version`. */
export async function applyReleaseState(ex: SqlExecutor, r: ReleaseStateV1, version: number): Promise<ApplyResult> {
  if (await buried(ex, r.workspaceId, [['release', r.id]], version)) return 'stale';
  const current = await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.releases WHERE id = $1 FOR UPDATE`, [r.id]);
  if (current && current.v > version) return 'stale';
  await ex.query(
    `INSERT INTO ${S}.releases AS t (id, workspace_id, name, description, starts_on, ends_on, state, aggregate_version, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description, starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on,
       state = EXCLUDED.state, aggregate_version = EXCLUDED.aggregate_version, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
    [r.id, r.workspaceId, r.name, r.description, r.startsOn, r.endsOn, r.state, version, r.createdAt, r.updatedAt],
  );
  await replacePlan(ex, r.id, r.workspaceId, r.featureIds, r.updatedAt);
  return 'applied';
}

/** Makes the release's plan exactly `featureIds`: entries that stay keep their createdAt; new ones get `at`. */
export async function replacePlan(ex: SqlExecutor, releaseId: string, workspaceId: string, featureIds: readonly string[], at: string | Date): Promise<void> {
  await ex.query(`DELETE FROM ${S}.release_features WHERE release_id = $1 AND NOT (feature_id = ANY($2::uuid[]))`, [releaseId, featureIds]);
  if (featureIds.length) {
    await ex.query(
      `INSERT INTO ${S}.release_features (release_id, feature_id, workspace_id, created_at)
       SELECT $1, f, $2, $4 FROM unnest($3::uuid[]) f
       ON CONFLICT (release_id, feature_id) DO NOTHING`,
      [releaseId, workspaceId, featureIds, at],
    );
  }
}

/** The release and its plan go; `version` is the one the delete gave it. */
export async function applyReleaseDeleted(ex: SqlExecutor, d: { id: string; workspaceId: string }, version: number): Promise<ApplyResult> {
  const current = await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.releases WHERE id = $1 FOR UPDATE`, [d.id]);
  if (current && current.v > version) return 'stale';
  await ex.query(`DELETE FROM ${S}.releases WHERE id = $1`, [d.id]);
  await bury(ex, 'release', d.id, d.workspaceId, version);
  return 'applied';
}

// ---- events -------------------------------------------------------------------------------------------

/**
 * Whether a release event of the monolith hits a version of a release the service wrote itself:
 * the stored release (or its tombstone) is at the event's version and `roadmaps.written_versions`
 * says the service wrote it. Locks the release's row. Null: apply as usual.
 */
export async function forwardSyncConflict(ex: SqlExecutor, e: Pick<Envelope, 'type' | 'aggregateVersion' | 'data'>): Promise<SyncConflict | null> {
  if (e.type !== 'release.updated' && e.type !== 'release.deleted') return null;
  const id = (e.data as { id?: string } | null)?.id;
  if (!id) return null;
  const row = await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.releases WHERE id = $1 FOR UPDATE`, [id]);
  const stored = row
    ? Number(row.v)
    : Number((await one<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${S}.tombstones WHERE aggregate_type = 'release' AND aggregate_id = $1`, [id]))?.v ?? 0);
  if (stored !== e.aggregateVersion || !(await wroteVersionHere(ex, S, 'release', id, stored))) return null;
  const local = await one<{ payload: unknown }>(
    ex,
    `SELECT CASE WHEN r.id IS NULL THEN jsonb_build_object('deleted', true, 'id', $1::text, 'aggregate_version', $2::int)
            ELSE to_jsonb(r) || jsonb_build_object('featureIds',
                   COALESCE((SELECT jsonb_agg(f.feature_id ORDER BY f.created_at, f.feature_id) FROM ${S}.release_features f WHERE f.release_id = r.id), '[]'::jsonb)) END AS payload
       FROM (SELECT 1) one LEFT JOIN ${S}.releases r ON r.id = $1::uuid`,
    [id, stored],
  );
  return { context: 'roadmaps', aggregateType: 'release', aggregateId: id, localOrigin: ROADMAPS_ORIGIN, localPayload: local?.payload ?? null };
}

/** One of the monolith's events (validated against @carve/legacy-events by the consumer). */
export async function applyLegacyEvent(ex: SqlExecutor, event: Pick<Envelope, 'type' | 'aggregateVersion' | 'data'>): Promise<ApplyResult> {
  const v = event.aggregateVersion;
  const data = event.data as any;
  switch (event.type) {
    case 'workspace.created':
    case 'workspace.updated':
      return applyWorkspaceState(ex, data, v);
    case 'workspace.deleted':
      return applyWorkspaceDeleted(ex, data, v);
    case 'feature.created':
    case 'feature.updated':
      return applyFeatureState(ex, data, v);
    case 'feature.deleted':
      return applyFeatureDeleted(ex, data, v);
    case 'release.created':
    case 'release.updated':
      return applyReleaseState(ex, data, v);
    case 'release.deleted':
      return applyReleaseDeleted(ex, data, v);
    default:
      return 'ignored';
  }
}
