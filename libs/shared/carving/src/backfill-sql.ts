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

/** Staging columns read from the source's columns of the same name (`<alias>.<name>`), with their types, in order. */
export function sameNamedColumns(alias: string, types: Readonly<Record<string, string>>): StagingColumn[] {
  return Object.entries(types).map(([name, type]) => stagingColumn(name, type, `${alias}.${name}`));
}

export interface TombstoneGuards {
  /** No workspace tombstone for the workspace id `ws` (a deleted workspace takes everything of it along). */
  workspaceAlive(ws: string): string;
  /** No tombstone of (`type`, `id`) at `version` or later: a delete forward sync applied is not undone. */
  notBuried(type: string, id: string, version: string): string;
  /**
   * The statement that removes again the rows of `table` (keyed by `id`) that the staged rows
   * wrote and a tombstone of `type` at their version or later buries: a delete forward sync
   * committed while the batch was being written wins.
   */
  deleteBuried(staging: string, table: string, type: string): string;
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
    deleteBuried: (staging, table, type) =>
      `DELETE FROM ${table} t USING ${s}.tombstones x, ${staging} s
          WHERE x.aggregate_type = '${type}' AND x.aggregate_id = s.id::text AND t.id = s.id AND x.aggregate_version >= t.aggregate_version`,
  };
}

export interface VersionGuardedUpsert {
  /** The service's table, schema-qualified (`insights.feature_titles`). */
  readonly into: string;
  /** Each column written, in order, with its expression over the staged row `s` (`aggregate_version` among them). */
  readonly columns: Readonly<Record<string, string>>;
  /** The columns of the unique key a row conflicts on. */
  readonly conflict: readonly string[];
  /** The columns a newer version overwrites; `aggregate_version` is always overwritten, last. */
  readonly update: readonly string[];
  /** Conditions on the staged row `s` (the tombstone guards), joined with AND. */
  readonly where?: readonly string[];
  /** Further assignments of the update (`synced_at = now()`). */
  readonly alsoSet?: readonly string[];
}

/**
 * A backfill merge of the staged rows (`staging`) into a service's table that never goes back
 * in time: a row the service holds at the same or a newer aggregate version (forward sync got
 * there first) is left as it is, so the merge can run beside forward sync, and again.
 */
export function versionGuardedUpsert(staging: string, u: VersionGuardedUpsert): string {
  const columns = Object.keys(u.columns);
  if (!columns.includes('aggregate_version')) throw new TypeError(`versionGuardedUpsert into ${u.into} needs an aggregate_version column`);
  const set = [...u.update.filter((c) => c !== 'aggregate_version'), 'aggregate_version'].map((c) => `${c} = EXCLUDED.${c}`);
  return `INSERT INTO ${u.into} AS t (${columns.join(', ')})
SELECT ${Object.values(u.columns).join(', ')} FROM ${staging} s${u.where?.length ? `\n WHERE ${u.where.join(' AND ')}` : ''}
ON CONFLICT (${u.conflict.join(', ')}) DO UPDATE SET ${[...set, ...(u.alsoSet ?? [])].join(', ')}
 WHERE t.aggregate_version < EXCLUDED.aggregate_version`;
}
