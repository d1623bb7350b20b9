/** The reads of the service's API: an aggregate's latest state in a workspace, one or a page. */
import { queryRows, type SqlExecutor } from '@carve/shared-messaging';
import { ROADMAPS_STATE_TABLES, type RoadmapsAggregateType } from './schema';

export interface StatePage {
  items: Array<Record<string, unknown>>;
  /** The id to pass as `after` for the next page, or null on the last one. */
  nextCursor: string | null;
}

export async function findState(ex: SqlExecutor, type: RoadmapsAggregateType, workspaceId: string, id: string): Promise<Record<string, unknown> | undefined> {
  const rows = await queryRows<{ state: Record<string, unknown> }>(ex, `SELECT state FROM ${ROADMAPS_STATE_TABLES[type]} WHERE workspace_id = $1 AND id = $2`, [workspaceId, id]);
  return rows[0]?.state;
}

/** Keyset pages by id. */
export async function listStates(ex: SqlExecutor, type: RoadmapsAggregateType, workspaceId: string, opts: { limit: number; after?: string }): Promise<StatePage> {
  const rows = await queryRows<{ id: string; state: Record<string, unknown> }>(
    ex,
    `SELECT id, state FROM ${ROADMAPS_STATE_TABLES[type]} WHERE workspace_id = $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3`,
    [workspaceId, opts.after ?? null, opts.limit + 1],
  );
  const items = rows.slice(0, opts.limit);
  return { items: items.map((r) => r.state), nextCursor: rows.length > opts.limit ? items[items.length - 1].id : null };
}
