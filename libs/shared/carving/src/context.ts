/**
 * The descriptor a bounded context hands the carving machinery: everything the generic engines
 * (stages, backfill, verify, cutover, rollback, status) need to know about it, and nothing they
 * would have to special-case. A context's carving library (`libs/<context>/carving`) builds one
 * with `defineCarvableContext` and registers it; the CLI finds it through the registry.
 *
 * SQL in a descriptor runs over the CLI's admin connection; the engines add batching, COPY,
 * checkpoints, checksums and drill-down around it.
 */
import type { RouteKind } from './stages';

/** A gateway route (by its id in the route table) that belongs to the context. */
export interface CarvableRoute {
  readonly id: string;
  /** Reads move at shadow/canary/reads-switched; writes at writes-switched. */
  readonly kind: RouteKind;
}

/** A column of a backfill batch: how it is read from the source and its type in the staging table. */
export interface StagingColumn {
  /** Column name in the staging table (a plain lower-case identifier). */
  readonly name: string;
  /** Postgres type of the staging column (`uuid`, `text`, `text[]`, `timestamptz`, ...). */
  readonly type: string;
  /** SQL expression over the source relation; default the column name. */
  readonly expr?: string;
}

/**
 * One source of the backfill: rows read from the monolith's side in keyset order, by batches,
 * copied into a temporary staging table on the service's side (`COPY ... TO STDOUT` piped into
 * `COPY ... FROM STDIN`), then merged into the service's tables by `merge` in the same
 * transaction as the checkpoint.
 */
export interface BackfillSource {
  /** Name of the source (checkpoints and progress are per source), e.g. `notes`. */
  readonly name: string;
  readonly description?: string;
  /** The FROM clause over the source side, e.g. `legacy.notes n` or a join. */
  readonly from: string;
  /** An optional WHERE condition over `from`. */
  readonly where?: string;
  /**
   * The workspace id of a row, an SQL expression over `from`: what a backfill of some workspaces
   * filters on (`carve backfill <ctx> --workspace W`). Default: the `workspace_id` column's.
   */
  readonly tenant?: string;
  /**
   * The keyset: unique, ordered, and of types with a deterministic order (uuid, integers).
   * Each is also a staging column (by name) and its `expr` is used to page the source.
   */
  readonly key: readonly string[];
  readonly columns: readonly StagingColumn[];
  /**
   * Statements that move the staged rows (the temporary table named `staging`) into the target,
   * each guarded by the version (`WHERE target.aggregate_version < EXCLUDED.aggregate_version`)
   * so that a newer state forward sync already applied is never overwritten. Run in order, in
   * the batch's transaction. The row count of the statements marked `counts` is reported as
   * rows written.
   */
  readonly merge: (staging: string) => ReadonlyArray<string | { sql: string; counts?: boolean }>;
}

/**
 * One canonical projection compared by `carve verify`: two SQL queries, one per side, yielding
 * the same columns (same names and types), among them `workspace_id` and `id`. Every other
 * column is compared. Shapes may differ as much as they like underneath.
 */
export interface VerifyProjection {
  /** e.g. `notes`. */
  readonly name: string;
  readonly description?: string;
  /** Over the monolith's tables. */
  readonly monolith: string;
  /** Over the service's tables. */
  readonly service: string;
}

/** Forward sync: the service consuming the monolith's events. */
export interface ForwardSync {
  /** The service's consumer group (also its consumer name in its inbox). */
  readonly group: string;
  /** Schema of that consumer's inbox (the service's). */
  readonly inboxSchema: string;
  /** Schema of the outbox the events come from (the monolith's, `legacy`). */
  readonly outboxSchema: string;
  readonly topics: readonly string[];
}

/** Reverse sync: the monolith consuming the service's events once the service owns writes. */
export interface ReverseSync {
  /** The monolith's consumer group for this context (also its consumer name in its inbox). */
  readonly group: string;
  /** Schema of the monolith's inbox. */
  readonly inboxSchema: string;
  /** Schema of the service's outbox. */
  readonly outboxSchema: string;
  readonly topics: readonly string[];
}

export interface CarvableContext {
  /** The context's name in the control plane and on the command line, e.g. `insights`. */
  readonly name: string;
  readonly description?: string;
  /** The service's Postgres schema. */
  readonly schema: string;
  /** The service's name (its upstream in the route table, its deployable). */
  readonly service: string;
  readonly routes: readonly CarvableRoute[];
  readonly forwardSync: ForwardSync;
  readonly reverseSync: ReverseSync;
  /** In order: parents before children where the merge needs them (not enforced by keys). */
  readonly backfill: readonly BackfillSource[];
  readonly verify: readonly VerifyProjection[];
  /**
   * The tenants to compare, per side: a query yielding `workspace_id` (the union of both sides
   * is compared, so a workspace missing on one side shows). Default: the workspace ids of the
   * projections.
   */
  readonly workspaces?: { readonly monolith: string; readonly service: string };
  /** Postgres type of the tenant (workspace) id, default `uuid`. */
  readonly tenantIdType?: string;
}

const NAME = /^[a-z][a-z0-9-]*$/;
const IDENT = /^[a-z_][a-z0-9_]*$/;

/** Problems with a descriptor (empty when it is usable). */
export function descriptorProblems(c: CarvableContext): string[] {
  const p: string[] = [];
  if (!NAME.test(c.name ?? '')) p.push(`name must be lower-case kebab-case, got ${JSON.stringify(c.name)}`);
  if (!IDENT.test(c.schema ?? '')) p.push(`schema must be a plain lower-case identifier, got ${JSON.stringify(c.schema)}`);
  if (!c.routes?.length) p.push('routes: at least one gateway route id');
  const ids = new Set<string>();
  for (const r of c.routes ?? []) {
    if (ids.has(r.id)) p.push(`routes: ${r.id} is listed twice`);
    ids.add(r.id);
    if (r.kind !== 'read' && r.kind !== 'write') p.push(`routes: ${r.id} has kind ${JSON.stringify(r.kind)} (read or write)`);
  }
  for (const [side, s] of [['forwardSync', c.forwardSync], ['reverseSync', c.reverseSync]] as const) {
    if (!s?.group) p.push(`${side}.group is required`);
    if (!IDENT.test(s?.inboxSchema ?? '')) p.push(`${side}.inboxSchema must be an identifier`);
    if (!IDENT.test(s?.outboxSchema ?? '')) p.push(`${side}.outboxSchema must be an identifier`);
  }
  const sources = new Set<string>();
  for (const s of c.backfill ?? []) {
    if (!NAME.test(s.name)) p.push(`backfill: source name ${JSON.stringify(s.name)} must be lower-case kebab-case`);
    if (sources.has(s.name)) p.push(`backfill: source ${s.name} is listed twice`);
    sources.add(s.name);
    const cols = new Set(s.columns.map((col) => col.name));
    for (const col of s.columns) if (!IDENT.test(col.name)) p.push(`backfill ${s.name}: column ${JSON.stringify(col.name)} must be an identifier`);
    if (!s.key.length) p.push(`backfill ${s.name}: key needs at least one column`);
    for (const k of s.key) if (!cols.has(k)) p.push(`backfill ${s.name}: key column ${k} is not one of its columns`);
  }
  if (!c.verify?.length) p.push('verify: at least one projection');
  const projections = new Set<string>();
  for (const v of c.verify ?? []) {
    if (!NAME.test(v.name)) p.push(`verify: projection name ${JSON.stringify(v.name)} must be lower-case kebab-case`);
    if (projections.has(v.name)) p.push(`verify: projection ${v.name} is listed twice`);
    projections.add(v.name);
  }
  return p;
}

/** Checks and freezes a descriptor. */
export function defineCarvableContext<C extends CarvableContext>(c: C): C {
  const problems = descriptorProblems(c);
  if (problems.length) throw new TypeError(`carvable context ${JSON.stringify(c.name)} is not valid:\n  - ${problems.join('\n  - ')}`);
  return Object.freeze(c);
}

// ---- the registry -----------------------------------------------------------------------------

const registry = new Map<string, CarvableContext>();

/**
 * Makes a context known to the machinery (and to `carve status`). A context's carving library
 * calls it when it is loaded; registering the same descriptor again is a no-op, another one
 * under a taken name is refused.
 */
export function registerCarvableContext(c: CarvableContext): CarvableContext {
  const existing = registry.get(c.name);
  if (existing && existing !== c) throw new Error(`a carvable context named ${c.name} is already registered`);
  registry.set(c.name, defineCarvableContext(c));
  return c;
}

export function carvableContexts(): CarvableContext[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function findCarvableContext(name: string): CarvableContext | undefined {
  return registry.get(name);
}

/** For tests: forget a registration. */
export function unregisterCarvableContext(name: string): void {
  registry.delete(name);
}

export const readRoutes = (c: CarvableContext) => c.routes.filter((r) => r.kind === 'read');
export const writeRoutes = (c: CarvableContext) => c.routes.filter((r) => r.kind === 'write');
