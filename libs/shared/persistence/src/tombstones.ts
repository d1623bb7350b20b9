/**
 * A carved service's tombstones (`<schema>.tombstones`: aggregate type, id, workspace, version),
 * and the read model of the monolith's features kept beside its own aggregates (`featureTitles`).
 * Forward sync records one for every deletion it applies, so that an older state (a late event,
 * a backfilled row read before the delete) never brings the row back, and a workspace's
 * tombstone stops everything of that workspace. `ex` is any executor of the caller's
 * transaction: a pg client or pool, a TypeORM manager.
 */
import { assertIdentifier } from './sql';

export interface TombstoneExecutor {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface Tombstones<T extends string = string> {
  /** True if the workspace is deleted (at any version), or any of `aggregates` (type, id) at `version` or later. */
  buried(ex: TombstoneExecutor, workspaceId: string, aggregates: ReadonlyArray<readonly [T, string]>, version: number): Promise<boolean>;
  /** Records that (type, id) of the workspace is deleted at `version` (a tombstone only ever moves to a later version). */
  bury(ex: TombstoneExecutor, type: T, id: string, workspaceId: string, version: number): Promise<void>;
}

/** The first row of a result, whatever shape the executor returns (pg's `{ rows }`, TypeORM's array). */
export const firstRow = (result: unknown): Record<string, unknown> | undefined =>
  (Array.isArray(result) ? result : (result as { rows?: Array<Record<string, unknown>> } | undefined)?.rows)?.[0];

export function tombstones<T extends string = string>(schema: string): Tombstones<T> {
  const s = assertIdentifier(schema, 'schema');
  return {
    async buried(ex, workspaceId, aggregates, version) {
      const found = firstRow(
        await ex.query(
          `SELECT EXISTS (
             SELECT 1 FROM ${s}.tombstones t
              WHERE (t.aggregate_type = 'workspace' AND t.aggregate_id = $1)
                 OR ((t.aggregate_type, t.aggregate_id) IN (SELECT * FROM unnest($2::text[], $3::text[])) AND t.aggregate_version >= $4)
           ) AS dead`,
          [workspaceId, aggregates.map((a) => a[0]), aggregates.map((a) => a[1]), version],
        ),
      );
      return found?.dead === true;
    },
    async bury(ex, type, id, workspaceId, version) {
      await ex.query(
        `INSERT INTO ${s}.tombstones (aggregate_type, aggregate_id, workspace_id, aggregate_version) VALUES ($1, $2, $3, $4)
         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET aggregate_version = GREATEST(tombstones.aggregate_version, EXCLUDED.aggregate_version), deleted_at = now()`,
        [type, id, workspaceId, version],
      );
    },
  };
}

/** What applying one event of the monolith did: written, skipped as older than what is held (or buried), or not this side's. */
export type ApplyResult = 'applied' | 'stale' | 'ignored';

/** A feature as the read model keeps it: its title and status. */
export interface FeatureTitle {
  id: string;
  workspaceId: string;
  title: string;
  status: string;
}

/**
 * The read model of the monolith's features a carved context keeps beside its own aggregates
 * (`<schema>.feature_titles`: feature_id, workspace_id, title, status, aggregate_version),
 * applied version-guarded from the features' events, a deletion leaving its tombstone.
 */
export function featureTitles(schema: string): {
  applyState(ex: TombstoneExecutor, f: FeatureTitle, version: number): Promise<ApplyResult>;
  applyDeleted(ex: TombstoneExecutor, d: { id: string; workspaceId: string }, version: number): Promise<ApplyResult>;
} {
  const s = assertIdentifier(schema, 'schema');
  const { buried, bury } = tombstones<'feature'>(s);
  return {
    async applyState(ex, f, version) {
      if (await buried(ex, f.workspaceId, [['feature', f.id]], version)) return 'stale';
      const written = firstRow(
        await ex.query(
          `INSERT INTO ${s}.feature_titles AS t (feature_id, workspace_id, title, status, aggregate_version) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (feature_id) DO UPDATE SET title = EXCLUDED.title, status = EXCLUDED.status, aggregate_version = EXCLUDED.aggregate_version
           WHERE t.aggregate_version <= EXCLUDED.aggregate_version
           RETURNING 1 AS written`,
          [f.id, f.workspaceId, f.title, f.status, version],
        ),
      );
      return written ? 'applied' : 'stale';
    },
    async applyDeleted(ex, d, version) {
      await ex.query(`DELETE FROM ${s}.feature_titles WHERE feature_id = $1 AND aggregate_version <= $2`, [d.id, version]);
      await bury(ex, 'feature', d.id, d.workspaceId, version);
      return 'applied';
    },
  };
}
