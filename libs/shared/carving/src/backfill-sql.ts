/**
 * SQL pieces a context's backfill steps are written with (libs/<context>/carving): the staging
 * columns they read from the monolith, and the guards of their merges against the service's
 * tombstones.
 */
import type { StagingColumn } from './context';
import { ident } from './sql';

/** A staging column: its name and type in the staging table, and the SQL that reads it from the source. */
export function stagingColumn(name: string, type: string, expr: string): StagingColumn {
  return { name, type, expr };
}

export interface TombstoneGuards {
  /** No workspace tombstone for the workspace id `ws` (a deleted workspace takes everything of it along). */
  workspaceAlive(ws: string): string;
  /** No tombstone of (`type`, `id`) at `version` or later: a delete forward sync applied is not undone. */
  notBuried(type: string, id: string, version: string): string;
}

/**
 * The guards of a merge into a service's tables against `<schema>.tombstones` (forward sync
 * records one per applied delete), as `WHERE` conditions: a merge guarded by them and by the
 * aggregate version can run beside forward sync, and again.
 */
export function tombstoneGuards(schema: string): TombstoneGuards {
  const s = ident(schema, 'schema');
  return {
    workspaceAlive: (ws) => `NOT EXISTS (SELECT 1 FROM ${s}.tombstones x WHERE x.aggregate_type = 'workspace' AND x.aggregate_id = ${ws}::text)`,
    notBuried: (type, id, version) =>
      `NOT EXISTS (SELECT 1 FROM ${s}.tombstones x WHERE x.aggregate_type = '${type}' AND x.aggregate_id = ${id} AND x.aggregate_version >= ${version})`,
  };
}
