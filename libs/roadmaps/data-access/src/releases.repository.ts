/**
 * Reads of the releases API (keyset pages, filters, one release with its plan, planned features)
 * and, once the service is the source of truth, its writes: each in the caller's transaction,
 * with the release's event appended to `roadmaps.outbox` in that same transaction (the monolith's
 * data shape, the whole plan in `featureIds`, origin `roadmaps-service`), so the monolith can
 * apply it (reverse sync). Versions move as the monolith moves them: a release starts at 1, every
 * change (a plan change included) adds one, a delete emits the version it would have reached.
 */
import { RoadmapsReleaseCreated, RoadmapsReleaseDeleted, RoadmapsReleaseUpdated } from '@carve/roadmaps-events';
import { type ListQuery, type Page, type ReleaseCreate, type ReleasePatch } from '@carve/roadmaps-domain';
import { type OutboxEvent, queryRows, type SqlExecutor } from '@carve/shared-messaging';
import { type KeysetSql, keysetPage, type SortColumn } from '@carve/shared-persistence';
import { conflict, invalid, notFound, PLANNED_FEATURE, RELEASE, WORKSPACE } from './errors';
import { emitRoadmapsEvents, roadmapsEvent } from './outbox';
import { ROADMAPS_SCHEMA as S } from './schema';
import { type PlannedFeatureView, plannedFeatureView, type PlannedRow, releaseState, type ReleaseView, releaseView, type ReleaseRow, type ReleaseWithPlanView, releaseWithPlanView } from './views';

/** Who asked (the request id travels as the events' correlation id). */
export interface WriteContext {
  correlationId?: string;
}

export interface ReleaseFilters {
  state?: string;
  featureId?: string;
}

const RELEASE_COLUMNS = `r.id, r.workspace_id, r.name, r.description, to_char(r.starts_on, 'YYYY-MM-DD') AS starts_on, to_char(r.ends_on, 'YYYY-MM-DD') AS ends_on,
  r.state, r.aggregate_version, r.created_at, r.updated_at`;
const PLANNED_COLUMNS = 'p.release_id, p.feature_id, p.created_at';

const SORT_COLUMNS: Record<string, SortColumn> = {
  createdAt: { column: 'created_at', cast: 'timestamptz', value: (r) => r.created_at },
  updatedAt: { column: 'updated_at', cast: 'timestamptz', value: (r) => r.updated_at },
  name: { column: 'name', cast: 'text', value: (r) => r.name },
  startsOn: { column: 'starts_on', cast: 'date', value: (r) => r.starts_on },
};

/** One keyset page of this repository's lists (@carve/shared-persistence `keysetPage`). */
const keyset = <R>(ex: SqlExecutor, sql: KeysetSql, query: ListQuery<any>): Promise<Page<R>> => keysetPage((text, params) => queryRows<R>(ex, text, params), sql, SORT_COLUMNS, query);

// ---- reads -----------------------------------------------------------------------------------------

export async function listReleases(ex: SqlExecutor, workspaceId: string, query: ListQuery<ReleaseFilters>): Promise<Page<ReleaseView>> {
  const where = ['r.workspace_id = $1'];
  const params: unknown[] = [workspaceId];
  const f = query.filters;
  if (f.state) {
    params.push(f.state);
    where.push(`r.state = $${params.length}`);
  }
  if (f.featureId) {
    params.push(f.featureId);
    where.push(`EXISTS (SELECT 1 FROM ${S}.release_features rf WHERE rf.release_id = r.id AND rf.feature_id = $${params.length}::uuid)`);
  }
  const page = await keyset<ReleaseRow>(ex, { select: `SELECT ${RELEASE_COLUMNS} FROM ${S}.releases r`, where, params, alias: 'r', idColumn: 'id' }, query);
  return { items: page.items.map(releaseView), nextCursor: page.nextCursor };
}

async function releaseRow(ex: SqlExecutor, workspaceId: string, id: string, lock = false): Promise<ReleaseRow> {
  const [row] = await queryRows<ReleaseRow>(ex, `SELECT ${RELEASE_COLUMNS} FROM ${S}.releases r WHERE r.id = $1 AND r.workspace_id = $2${lock ? ' FOR UPDATE' : ''}`, [id, workspaceId]);
  if (!row) throw notFound(RELEASE);
  return row;
}

async function planRows(ex: SqlExecutor, workspaceId: string, releaseId: string): Promise<PlannedRow[]> {
  return queryRows<PlannedRow>(ex, `SELECT ${PLANNED_COLUMNS} FROM ${S}.release_features p WHERE p.release_id = $1 AND p.workspace_id = $2 ORDER BY p.created_at, p.feature_id`, [
    releaseId,
    workspaceId,
  ]);
}

export async function getRelease(ex: SqlExecutor, workspaceId: string, id: string): Promise<ReleaseWithPlanView> {
  const row = await releaseRow(ex, workspaceId, id);
  return releaseWithPlanView(row, await planRows(ex, workspaceId, id));
}

export async function listPlannedFeatures(ex: SqlExecutor, workspaceId: string, releaseId: string, query: ListQuery): Promise<Page<PlannedFeatureView>> {
  await releaseRow(ex, workspaceId, releaseId);
  const page = await keyset<PlannedRow>(
    ex,
    { select: `SELECT ${PLANNED_COLUMNS} FROM ${S}.release_features p`, where: ['p.workspace_id = $1', 'p.release_id = $2'], params: [workspaceId, releaseId], alias: 'p', idColumn: 'feature_id' },
    query,
  );
  return { items: page.items.map(plannedFeatureView), nextCursor: page.nextCursor };
}

async function plannedRow(ex: SqlExecutor, workspaceId: string, releaseId: string, featureId: string): Promise<PlannedRow> {
  const [row] = await queryRows<PlannedRow>(ex, `SELECT ${PLANNED_COLUMNS} FROM ${S}.release_features p WHERE p.release_id = $1 AND p.feature_id = $2 AND p.workspace_id = $3`, [
    releaseId,
    featureId,
    workspaceId,
  ]);
  if (!row) throw notFound(PLANNED_FEATURE);
  return row;
}

export async function getPlannedFeature(ex: SqlExecutor, workspaceId: string, releaseId: string, featureId: string): Promise<PlannedFeatureView> {
  return plannedFeatureView(await plannedRow(ex, workspaceId, releaseId, featureId));
}

// ---- writes (the service as the source of truth) ------------------------------------------------------

async function featuresKnown(ex: SqlExecutor, workspaceId: string, featureIds: readonly string[]): Promise<Set<string>> {
  if (featureIds.length === 0) return new Set();
  const rows = await queryRows<{ feature_id: string }>(ex, `SELECT feature_id FROM ${S}.feature_titles WHERE workspace_id = $1 AND feature_id = ANY($2::uuid[])`, [
    workspaceId,
    featureIds,
  ]);
  return new Set(rows.map((r) => r.feature_id));
}

/** The release and its plan after a change, with its event appended to the outbox. */
async function emitted(ex: SqlExecutor, workspaceId: string, id: string, contract: typeof RoadmapsReleaseCreated | typeof RoadmapsReleaseUpdated, ctx: WriteContext): Promise<ReleaseWithPlanView> {
  const row = await releaseRow(ex, workspaceId, id);
  const plan = await planRows(ex, workspaceId, id);
  await emitRoadmapsEvents(ex, [event(contract, workspaceId, id, row.aggregate_version, releaseState(row, plan), ctx)]);
  return releaseWithPlanView(row, plan);
}

function event<T>(contract: { type: string; version: string; source: string; aggregateType: string; topic: string; __data?: T }, workspaceId: string, id: string, version: number, data: T, ctx: WriteContext): OutboxEvent<T> {
  return roadmapsEvent(contract, { tenantId: workspaceId, aggregateId: id, aggregateVersion: version, correlationId: ctx.correlationId, data });
}

/** The release and its planned features in one transaction; release.created carries the plan. */
export async function createRelease(ex: SqlExecutor, workspaceId: string, input: ReleaseCreate, ctx: WriteContext = {}): Promise<ReleaseWithPlanView> {
  const [ws] = await queryRows(ex, `SELECT 1 FROM ${S}.workspaces WHERE id = $1`, [workspaceId]);
  if (!ws) throw notFound(WORKSPACE);
  const known = await featuresKnown(ex, workspaceId, input.featureIds);
  const bad = input.featureIds.findIndex((f) => !known.has(f));
  if (bad >= 0) throw invalid([{ field: `featureIds[${bad}]`, message: 'is not a feature of this workspace' }]);
  const [{ id }] = await queryRows<{ id: string }>(
    ex,
    `INSERT INTO ${S}.releases (id, workspace_id, name, description, starts_on, ends_on, state, aggregate_version, created_at, updated_at)
     VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, 1, now(), now()) RETURNING id`,
    [workspaceId, input.name, input.description, input.timeframe.start, input.timeframe.end, input.state],
  );
  if (input.featureIds.length) {
    await ex.query(`INSERT INTO ${S}.release_features (release_id, feature_id, workspace_id, created_at) SELECT $1, f, $2, now() FROM unnest($3::uuid[]) f`, [
      id,
      workspaceId,
      input.featureIds,
    ]);
  }
  return emitted(ex, workspaceId, id, RoadmapsReleaseCreated, ctx);
}

/** Locks the release and moves it to the next version (applying `set`); 404 when missing. */
async function bump(ex: SqlExecutor, workspaceId: string, id: string, set: { sql: string[]; params: unknown[] } = { sql: [], params: [] }): Promise<void> {
  const rows = await queryRows(
    ex,
    `UPDATE ${S}.releases SET ${[...set.sql, 'aggregate_version = aggregate_version + 1', 'updated_at = now()'].join(', ')} WHERE id = $1 AND workspace_id = $2 RETURNING 1`,
    [id, workspaceId, ...set.params],
  );
  if (!rows.length) throw notFound(RELEASE);
}

export async function updateRelease(ex: SqlExecutor, workspaceId: string, id: string, patch: ReleasePatch, ctx: WriteContext = {}): Promise<ReleaseWithPlanView> {
  const sql: string[] = [];
  const params: unknown[] = [];
  const set = (column: string, value: unknown, cast = '') => {
    params.push(value);
    sql.push(`${column} = $${params.length + 2}${cast}`);
  };
  if (patch.name !== undefined) set('name', patch.name);
  if (patch.description !== undefined) set('description', patch.description);
  if (patch.state !== undefined) set('state', patch.state);
  if (patch.timeframe !== undefined) {
    set('starts_on', patch.timeframe.start, '::date');
    set('ends_on', patch.timeframe.end, '::date');
  }
  try {
    await bump(ex, workspaceId, id, { sql, params });
  } catch (err) {
    // The database's own timeframe check (a change of the dates against stored ones).
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23514' && e.constraint === 'releases_timeframe') throw invalid([{ field: 'timeframe.end', message: 'must not be before the start' }]);
    throw err;
  }
  return emitted(ex, workspaceId, id, RoadmapsReleaseUpdated, ctx);
}

/** Deletes the release with its plan: release.deleted with the version the delete gives it. */
export async function deleteRelease(ex: SqlExecutor, workspaceId: string, id: string, ctx: WriteContext = {}): Promise<void> {
  const rows = await queryRows<{ aggregate_version: number }>(ex, `DELETE FROM ${S}.releases WHERE id = $1 AND workspace_id = $2 RETURNING aggregate_version`, [id, workspaceId]);
  if (!rows.length) throw notFound(RELEASE);
  const version = rows[0].aggregate_version + 1;
  await ex.query(
    `INSERT INTO ${S}.tombstones (aggregate_type, aggregate_id, workspace_id, aggregate_version) VALUES ('release', $1, $2, $3)
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET aggregate_version = GREATEST(tombstones.aggregate_version, EXCLUDED.aggregate_version), deleted_at = now()`,
    [id, workspaceId, version],
  );
  await emitRoadmapsEvents(ex, [event(RoadmapsReleaseDeleted, workspaceId, id, version, { id, workspaceId }, ctx)]);
}

export async function planFeature(ex: SqlExecutor, workspaceId: string, releaseId: string, featureId: string, ctx: WriteContext = {}): Promise<PlannedFeatureView> {
  await bump(ex, workspaceId, releaseId);
  if (!(await featuresKnown(ex, workspaceId, [featureId])).has(featureId)) throw invalid([{ field: 'featureId', message: 'is not a feature of this workspace' }]);
  const inserted = await queryRows(
    ex,
    `INSERT INTO ${S}.release_features (release_id, feature_id, workspace_id, created_at) VALUES ($1, $2, $3, now()) ON CONFLICT DO NOTHING RETURNING 1`,
    [releaseId, featureId, workspaceId],
  );
  if (!inserted.length) throw conflict('already_planned', 'The feature is already planned in this release.');
  await emitted(ex, workspaceId, releaseId, RoadmapsReleaseUpdated, ctx);
  return getPlannedFeature(ex, workspaceId, releaseId, featureId);
}

export async function unplanFeature(ex: SqlExecutor, workspaceId: string, releaseId: string, featureId: string, ctx: WriteContext = {}): Promise<void> {
  await bump(ex, workspaceId, releaseId);
  const gone = await queryRows(ex, `DELETE FROM ${S}.release_features WHERE release_id = $1 AND feature_id = $2 AND workspace_id = $3 RETURNING 1`, [releaseId, featureId, workspaceId]);
  if (!gone.length) throw notFound(PLANNED_FEATURE);
  await emitted(ex, workspaceId, releaseId, RoadmapsReleaseUpdated, ctx);
}
