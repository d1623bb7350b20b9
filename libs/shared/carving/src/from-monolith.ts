/**
 * What every context carved out of the monolith declares alike, for its descriptor: the sync
 * pair with the monolith (forward sync of the monolith's topics from `legacy.outbox` into the
 * service's inbox; reverse sync of the service's own topics into `legacy.inbox` by the monolith's
 * one consumer group), a read and a write route per resource, and the read models of the
 * monolith's workspaces and features a context keeps beside its own aggregates
 * (`<schema>.workspaces`, `<schema>.feature_titles`: the title and status of each feature). A context's own tables, merges
 * and projections stay in its carving library.
 */
import type { BackfillSource, CarvableRoute, ForwardSync, ReverseSync, VerifyProjection } from './context';
import { sameNamedColumns, tombstoneGuards, versionGuardedUpsert } from './backfill-sql';
import { ident } from './sql';

/** The monolith's schema: its tables, its outbox and its inbox. */
export const LEGACY_SCHEMA = 'legacy';
/** The monolith's reverse-sync consumer group (apps/legacy-monolith, REVERSE_SYNC_GROUP), one for every context. */
export const LEGACY_REVERSE_SYNC_GROUP = 'legacy-reverse-sync';

export interface MonolithSync {
  /** The service's schema (its inbox and outbox). */
  readonly schema: string;
  /** The service's consumer group of the monolith's events. */
  readonly group: string;
  /** The monolith's topics the service consumes. */
  readonly monolithTopics: readonly string[];
  /** The service's own topics, which the monolith consumes once the service owns writes. */
  readonly ownTopics: readonly string[];
}

/** Forward and reverse sync between the monolith and the service of schema `schema`. */
export function monolithSync(o: MonolithSync): { forwardSync: ForwardSync; reverseSync: ReverseSync } {
  return {
    forwardSync: { group: o.group, inboxSchema: o.schema, outboxSchema: LEGACY_SCHEMA, topics: [...o.monolithTopics] },
    reverseSync: { group: LEGACY_REVERSE_SYNC_GROUP, inboxSchema: LEGACY_SCHEMA, outboxSchema: o.schema, topics: [...o.ownTopics] },
  };
}

/** The routes `<resource>-read` and `<resource>-write` of each resource, in order. */
export function resourceRoutes(...resources: string[]): CarvableRoute[] {
  return resources.flatMap((r) => [
    { id: `${r}-read`, kind: 'read' as const },
    { id: `${r}-write`, kind: 'write' as const },
  ]);
}

/**
 * The backfill of `legacy.workspaces` into `<schema>.workspaces`, the read model of which
 * workspaces exist: the id and version, and the further columns `columns` names (column → its
 * Postgres type, read from the monolith's column of the same name and overwritten by a newer version).
 */
export function workspacesBackfill(schema: string, columns: Readonly<Record<string, string>> = {}): BackfillSource {
  const s = ident(schema, 'schema');
  const { workspaceAlive } = tombstoneGuards(s);
  const extra = Object.keys(columns).map((c) => ident(c, 'column'));
  return {
    name: 'workspaces',
    description: `legacy.workspaces → ${s}.workspaces`,
    from: 'legacy.workspaces w',
    tenant: 'w.id',
    key: ['id'],
    columns: sameNamedColumns('w', { id: 'uuid', ...columns, version: 'integer' }),
    merge: (st) => [
      {
        counts: true,
        sql: versionGuardedUpsert(st, {
          into: `${s}.workspaces`,
          columns: { id: 's.id', ...Object.fromEntries(extra.map((c) => [c, `s.${c}`])), aggregate_version: 's.version' },
          conflict: ['id'],
          update: extra,
          where: [workspaceAlive('s.id')],
        }),
      },
    ],
  };
}

/** The backfill of `legacy.features` into `<schema>.feature_titles` (title and status), guarded by version and tombstones. */
export function featureTitlesBackfill(schema: string): BackfillSource {
  const s = ident(schema, 'schema');
  const { workspaceAlive, notBuried } = tombstoneGuards(s);
  return {
    name: 'features',
    description: `legacy.features → ${s}.feature_titles (title and status)`,
    from: 'legacy.features f',
    key: ['id'],
    columns: sameNamedColumns('f', { id: 'uuid', workspace_id: 'uuid', title: 'text', status: 'text', version: 'integer' }),
    merge: (st) => [
      {
        counts: true,
        sql: versionGuardedUpsert(st, {
          into: `${s}.feature_titles`,
          columns: { feature_id: 's.id', workspace_id: 's.workspace_id', title: 's.title', status: 's.status', aggregate_version: 's.version' },
          conflict: ['feature_id'],
          update: ['title', 'status'],
          where: [workspaceAlive('s.workspace_id'), notBuried('feature', 's.id::text', 's.version')],
        }),
      },
    ],
  };
}

/** The comparison of `<schema>.feature_titles` with `legacy.features`: id, title, status. */
export function featureTitlesVerify(schema: string): VerifyProjection {
  const s = ident(schema, 'schema');
  return {
    name: 'features',
    description: 'the feature titles and statuses the service keeps: id, title, status',
    monolith: 'SELECT f.workspace_id, f.id, f.title, f.status FROM legacy.features f',
    service: `SELECT f.workspace_id, f.feature_id AS id, f.title, f.status FROM ${s}.feature_titles f`,
  };
}

/** The workspaces verify compares: the monolith's, and those the service knows (its `workspaces` read model and the workspaces of its main table). */
export function monolithWorkspaces(schema: string, mainTable: string): { monolith: string; service: string } {
  const s = ident(schema, 'schema');
  return {
    monolith: 'SELECT id AS workspace_id FROM legacy.workspaces',
    service: `SELECT id AS workspace_id FROM ${s}.workspaces UNION SELECT DISTINCT workspace_id FROM ${s}.${ident(mainTable, 'table')}`,
  };
}
