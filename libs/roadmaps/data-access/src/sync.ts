/**
 * Applying the monolith's state to schema `roadmaps`, version-guarded. Safe in any order and
 * any number of times:
 * - a state is only written when its `aggregate_version` is not older than the stored one (`<=`:
 *   the same version again rewrites the same state);
 * - a deletion removes the row and leaves a tombstone (type, id, version): an older state (a late
 *   event, a backfilled row read before the delete) never brings it back.
 *
 * The forward-sync consumer calls `applyLegacyEvent` inside its inbox transaction (which has
 * already skipped redeliveries and versions not newer than the last applied); the backfill merges
 * rows with the same guard. `ex` is any executor of the caller's transaction (pg client, TypeORM
 * manager).
 */
import { type Envelope, queryRows, type SqlExecutor } from '@carve/shared-messaging';
import { ROADMAPS_SCHEMA as S, ROADMAPS_STATE_TABLES, type RoadmapsAggregateType, isRoadmapsAggregateType } from './schema';

export type ApplyResult = 'applied' | 'stale' | 'ignored';

/** Any state of the monolith's aggregates: what the guard needs of it. */
export interface AggregateState {
  id: string;
  workspaceId: string;
  [field: string]: unknown;
}

async function buried(ex: SqlExecutor, type: string, id: string, version: number): Promise<boolean> {
  const rows = await queryRows(ex, `SELECT 1 FROM ${S}.tombstones WHERE aggregate_type = $1 AND aggregate_id = $2 AND aggregate_version >= $3`, [type, id, version]);
  return rows.length > 0;
}

/** The aggregate's whole state at `version` (a created or updated event's data). */
export async function applyState(ex: SqlExecutor, type: RoadmapsAggregateType, state: AggregateState, version: number): Promise<ApplyResult> {
  if (await buried(ex, type, state.id, version)) return 'stale';
  const table = ROADMAPS_STATE_TABLES[type];
  const rows = await queryRows(
    ex,
    `INSERT INTO ${table} AS t (id, workspace_id, state, aggregate_version) VALUES ($1, $2, $3::jsonb, $4)
     ON CONFLICT (id) DO UPDATE SET workspace_id = EXCLUDED.workspace_id, state = EXCLUDED.state,
       aggregate_version = EXCLUDED.aggregate_version, synced_at = now()
     WHERE t.aggregate_version <= EXCLUDED.aggregate_version
     RETURNING 1`,
    [state.id, state.workspaceId, JSON.stringify(state), version],
  );
  return rows.length ? 'applied' : 'stale';
}

/** The aggregate is gone at `version` (the version the delete gave it). */
export async function applyDeleted(ex: SqlExecutor, type: RoadmapsAggregateType, d: { id: string; workspaceId: string }, version: number): Promise<ApplyResult> {
  const table = ROADMAPS_STATE_TABLES[type];
  const current = await queryRows<{ v: number }>(ex, `SELECT aggregate_version AS v FROM ${table} WHERE id = $1 FOR UPDATE`, [d.id]);
  if (current[0] && current[0].v > version) return 'stale';
  await ex.query(`DELETE FROM ${table} WHERE id = $1`, [d.id]);
  await ex.query(
    `INSERT INTO ${S}.tombstones (aggregate_type, aggregate_id, workspace_id, aggregate_version) VALUES ($1, $2, $3, $4)
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET aggregate_version = GREATEST(tombstones.aggregate_version, EXCLUDED.aggregate_version), deleted_at = now()`,
    [type, d.id, d.workspaceId, version],
  );
  return 'applied';
}

/** One of the monolith's events (validated against @carve/legacy-contracts by the consumer). */
export async function applyLegacyEvent(ex: SqlExecutor, event: Envelope): Promise<ApplyResult> {
  if (!isRoadmapsAggregateType(event.aggregateType)) return 'ignored';
  const action = event.type.slice(event.aggregateType.length + 1);
  const data = event.data as AggregateState;
  if (action === 'deleted') return applyDeleted(ex, event.aggregateType, { id: data.id, workspaceId: data.workspaceId ?? event.tenantId }, event.aggregateVersion);
  if (action === 'created' || action === 'updated') return applyState(ex, event.aggregateType, data, event.aggregateVersion);
  return 'ignored';
}
