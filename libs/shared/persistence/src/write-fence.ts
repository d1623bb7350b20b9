/**
 * The write fence: who may write a carved context's aggregates, enforced by the database of the
 * side that writes, in the writing transaction itself.
 *
 * Each side (the monolith's schema and each service's) keeps `<schema>.write_fence`, one row per
 * (context, scope): scope `*` is the whole context, a workspace id a per-workspace override. A
 * row says whether this side owns the writes (`owner`) and whether a handover holds them
 * (`fenced_until`, a deadline after which the fence lifts by itself with the owner unchanged).
 * A workspace with a row of its own is answered by that row alone, owner and fence: a handover of
 * the whole context therefore fences and flips `*` and every workspace row (per-tenant carving).
 * Statement triggers on the context's tables check the rows of every workspace a statement
 * touches and lock them `FOR KEY SHARE` until commit:
 *
 * - fenced (`fenced_until` in the future): SQLSTATE `CV503` → 503 `write_fenced`, Retry-After;
 * - not the owner: SQLSTATE `CV409` → 409 `not_source_of_truth`, Retry-After.
 *
 * A handover fences a side with `SELECT ... FOR UPDATE` on those rows, which waits for every
 * transaction that passed the check to commit or roll back: once the fence has committed, the
 * set of the old owner's writes is final, whatever path they came by (HTTP, jobs, `carve seed`,
 * psql). Sync appliers (an inbox handler applying the other side's events) and the backfill
 * mark their transaction with `set_config('carve.sync_apply', 'on', true)` and pass; so do writes
 * made by a cascade or another trigger (`pg_trigger_depth() > 1`).
 *
 * The DDL is versioned: `writeFenceSqlV1` is what migrations that shipped ran, so it never
 * changes; a change of the fence is a new `...V2` and a new migration.
 */
import type { Pool, PoolClient } from 'pg';

/**
 * SQLSTATEs the fence raises (class `CV`, unused by Postgres). The HTTP layer maps them to 409
 * `not_source_of_truth` and 503 `write_fenced` (WRITE_FENCE_SQLSTATE of @carve/shared-http, which
 * cannot import this data-access library); the services' tests check the mapping end to end.
 */
export const WRITE_FENCE_SQLSTATE = { notOwner: 'CV409', fenced: 'CV503' } as const;

/** The scope of a context-wide row. */
export const WHOLE_CONTEXT = '*';

/** The GUC a sync applier or the backfill sets (transaction-local) to pass the fence. */
export const SYNC_APPLY_GUC = 'carve.sync_apply';

/** The statement that marks the current transaction as a sync apply (returns one row). */
export const MARK_SYNC_APPLY_SQL = `SELECT set_config('${SYNC_APPLY_GUC}', 'on', true)`;

export interface WriteFenceTables {
  /** The side's schema (`legacy`, `insights`, ...). */
  readonly schema: string;
  /** The context whose writes the tables hold (`insights`). */
  readonly context: string;
  /** Unqualified table names of the context's aggregates. */
  readonly tables: readonly string[];
  /** The tenant column of those tables (default `workspace_id`). */
  readonly tenantColumn?: string;
  /** Whether this side owns the context's writes before any handover (the monolith: true). */
  readonly ownerByDefault: boolean;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;
function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return name;
}
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The fence table and check function of a schema (idempotent). Version 1: never edit; migrations
 * that shipped ran exactly this.
 */
export function writeFenceSchemaSqlV1(schema: string): string {
  const s = ident(schema);
  return `
CREATE TABLE IF NOT EXISTS ${s}.write_fence (
  context      text NOT NULL,
  scope        text NOT NULL DEFAULT '*',
  owner        boolean NOT NULL,
  fenced_until timestamptz,
  handover_id  text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (context, scope)
);

CREATE OR REPLACE FUNCTION ${s}.carve_write_fence_check(p_context text, p_owner_by_default boolean, p_workspaces text[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  r record;
BEGIN
  IF current_setting('${SYNC_APPLY_GUC}', true) = 'on' OR pg_trigger_depth() > 1 OR p_workspaces IS NULL THEN
    RETURN;
  END IF;
  FOR r IN
    WITH f AS (
      SELECT scope, owner, fenced_until FROM ${s}.write_fence
       WHERE context = p_context AND scope = ANY(p_workspaces || '*'::text)
       ORDER BY scope
         FOR KEY SHARE)
    SELECT w.ws,
           coalesce(fw.owner, fa.owner, p_owner_by_default) AS owner,
           CASE WHEN fw.scope IS NOT NULL THEN fw.fenced_until ELSE fa.fenced_until END AS fenced_until
      FROM unnest(p_workspaces) AS w(ws)
      LEFT JOIN f fw ON fw.scope = w.ws
      LEFT JOIN f fa ON fa.scope = '*'
  LOOP
    IF r.fenced_until IS NOT NULL AND r.fenced_until > clock_timestamp() THEN
      RAISE EXCEPTION 'writes of % are fenced: a handover is in progress', p_context
        USING ERRCODE = '${WRITE_FENCE_SQLSTATE.fenced}', DETAIL = r.ws, HINT = p_context;
    END IF;
    IF NOT r.owner THEN
      RAISE EXCEPTION 'this side does not own the writes of %', p_context
        USING ERRCODE = '${WRITE_FENCE_SQLSTATE.notOwner}', DETAIL = r.ws, HINT = p_context;
    END IF;
  END LOOP;
END
$fn$;

-- TG_ARGV: the context, whether this side owns it by default, the tenant column of the table.
CREATE OR REPLACE FUNCTION ${s}.carve_write_fence_new() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  workspaces text[];
BEGIN
  IF current_setting('${SYNC_APPLY_GUC}', true) = 'on' OR pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT array_agg(DISTINCT %I::text) FROM changed', TG_ARGV[2]) INTO workspaces;
  PERFORM ${s}.carve_write_fence_check(TG_ARGV[0], TG_ARGV[1]::boolean, workspaces);
  RETURN NULL;
END
$fn$;
`;
}

/**
 * The fence's row and triggers for one context's tables (idempotent). Version 1: never edit.
 * Three statement triggers per table (a transition table serves one event only).
 */
export function writeFenceTablesSqlV1(spec: WriteFenceTables): string {
  const s = ident(spec.schema);
  const ctx = literal(spec.context);
  const owner = spec.ownerByDefault ? 'true' : 'false';
  const tenant = ident(spec.tenantColumn ?? 'workspace_id');
  const triggers = spec.tables.map((t) => {
    const table = ident(t);
    const name = (op: string) => `carve_write_fence_${op}`;
    const one = (op: string, event: string, transition: string) => `
DROP TRIGGER IF EXISTS ${name(op)} ON ${s}.${table};
CREATE TRIGGER ${name(op)} AFTER ${event} ON ${s}.${table} REFERENCING ${transition} TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.carve_write_fence_new(${ctx}, '${owner}', '${tenant}');`;
    return one('ins', 'INSERT', 'NEW') + one('upd', 'UPDATE', 'NEW') + one('del', 'DELETE', 'OLD');
  });
  return `
INSERT INTO ${s}.write_fence (context, scope, owner) VALUES (${ctx}, '*', ${owner}) ON CONFLICT (context, scope) DO NOTHING;
${triggers.join('\n')}
`;
}

// ---- the fence as a handover drives it (over an admin connection to the side's database) --------

export interface FenceRow {
  readonly context: string;
  readonly scope: string;
  readonly owner: boolean;
  readonly fencedUntil: string | null;
  readonly handoverId: string | null;
}

type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

const toRow = (r: any): FenceRow => ({
  context: r.context,
  scope: r.scope,
  owner: r.owner === true,
  fencedUntil: r.fenced_until ? new Date(r.fenced_until).toISOString() : null,
  handoverId: r.handover_id ?? null,
});

/** The fence rows of a context on one side (the whole-context row first). */
export async function readFence(db: Queryable, schema: string, context: string): Promise<FenceRow[]> {
  const r = await db.query(`SELECT * FROM ${ident(schema)}.write_fence WHERE context = $1 ORDER BY scope <> '*', scope`, [context]);
  return r.rows.map(toRow);
}

/** Whether `schema` has the fence at all (its migration ran). */
export async function hasWriteFence(db: Queryable, schema: string): Promise<boolean> {
  const r = await db.query(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${ident(schema)}.write_fence`]);
  return r.rows[0]?.ok === true;
}

/**
 * One transaction on a side's fence rows: the rows of `scopes` (created with `ownerIfNew` where
 * missing) are taken `FOR UPDATE` first, which waits for every write that passed the fence check
 * and still holds them `FOR KEY SHARE`, then `fn` runs; committed when it returns, rolled back
 * when it throws.
 */
async function onLockedFence<T>(
  pool: Pool,
  s: string,
  args: { context: string; scopes: readonly string[]; ownerIfNew: boolean; lockTimeoutMs?: number },
  fn: (c: PoolClient, locked: number) => Promise<T>,
): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    if (args.lockTimeoutMs !== undefined) await c.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(args.lockTimeoutMs))}`);
    await c.query(`INSERT INTO ${s}.write_fence (context, scope, owner) SELECT $1, unnest($2::text[]), $3 ON CONFLICT (context, scope) DO NOTHING`, [
      args.context,
      args.scopes,
      args.ownerIfNew,
    ]);
    const locked = await c.query(`SELECT 1 FROM ${s}.write_fence WHERE context = $1 AND scope = ANY($2) ORDER BY scope FOR UPDATE`, [args.context, args.scopes]);
    const out = await fn(c, locked.rowCount ?? 0);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/**
 * Fences `scopes` of a context on one side for `ttlMs` from now (the database's clock), in one
 * transaction that first takes the whole-context row and the scopes' rows `FOR UPDATE`: it returns
 * only when every write that passed the fence check before it has committed or rolled back. The
 * owner is left as it is. Rows missing for a scope are created with `ownerIfNew`.
 */
export async function fenceSide(
  pool: Pool,
  schema: string,
  args: { context: string; scopes: readonly string[]; ttlMs: number; handoverId: string; ownerIfNew: boolean; lockTimeoutMs?: number },
): Promise<FenceRow[]> {
  const s = ident(schema);
  const scopes = [...new Set([WHOLE_CONTEXT, ...args.scopes])].sort();
  return onLockedFence(pool, s, { context: args.context, scopes, ownerIfNew: args.ownerIfNew, lockTimeoutMs: args.lockTimeoutMs ?? 10_000 }, async (c) => {
    const r = await c.query(
      `UPDATE ${s}.write_fence SET fenced_until = clock_timestamp() + make_interval(secs => $3::double precision / 1000), handover_id = $4, updated_at = now()
        WHERE context = $1 AND scope = ANY($2) RETURNING *`,
      [args.context, args.scopes.length ? args.scopes : [WHOLE_CONTEXT], args.ttlMs, args.handoverId],
    );
    return r.rows.map(toRow);
  });
}

/** The fence of a handover has expired (or was never set) on a side: nothing was changed. */
export class FenceExpiredError extends Error {
  constructor(readonly schema: string, readonly context: string) {
    super(`the fence of ${context} on ${schema} expired before the handover could flip the owner`);
    this.name = 'FenceExpiredError';
  }
}

/**
 * Sets the owner of `scopes` on one side. With `requireFence`, only while this handover's fence
 * still holds there (checked under the row lock, on the database's clock): otherwise nothing is
 * changed and FenceExpiredError is thrown. `keepFenced` leaves the fence in place (the side answers
 * 503 until its deadline or `unfenceSide`), else it is lifted in the same statement.
 */
export async function setSideOwner(
  pool: Pool,
  schema: string,
  args: { context: string; scopes: readonly string[]; owner: boolean; handoverId: string | null; requireFence?: boolean; keepFenced?: boolean },
): Promise<FenceRow[]> {
  const s = ident(schema);
  const scopes = args.scopes.length ? args.scopes : [WHOLE_CONTEXT];
  return onLockedFence(pool, s, { context: args.context, scopes, ownerIfNew: args.owner }, async (c, locked) => {
    if (args.requireFence) {
      const held = await c.query(
        `SELECT count(*)::int AS n FROM ${s}.write_fence WHERE context = $1 AND scope = ANY($2) AND handover_id = $3 AND fenced_until > clock_timestamp()`,
        [args.context, scopes, args.handoverId],
      );
      if (held.rows[0].n !== locked) throw new FenceExpiredError(schema, args.context);
    }
    const r = await c.query(
      `UPDATE ${s}.write_fence SET owner = $3, fenced_until = CASE WHEN $4 THEN fenced_until ELSE NULL END,
              handover_id = CASE WHEN $4 THEN handover_id ELSE NULL END, updated_at = now()
        WHERE context = $1 AND scope = ANY($2) RETURNING *`,
      [args.context, scopes, args.owner, args.keepFenced === true],
    );
    return r.rows.map(toRow);
  });
}

/** Lifts a handover's fence on one side (the owner unchanged). Only rows this handover fenced. */
export async function unfenceSide(pool: Pool, schema: string, args: { context: string; handoverId: string }): Promise<number> {
  const r = await pool.query(
    `UPDATE ${ident(schema)}.write_fence SET fenced_until = NULL, handover_id = NULL, updated_at = now() WHERE context = $1 AND handover_id = $2`,
    [args.context, args.handoverId],
  );
  return r.rowCount ?? 0;
}

/** Undoes `writeFenceSchemaSqlV1` and `writeFenceTablesSqlV1` of those tables (a migration's `down`). */
export function dropWriteFenceSqlV1(schema: string, tables: readonly string[]): string {
  const s = ident(schema);
  const triggers = tables.flatMap((t) => ['ins', 'upd', 'del'].map((op) => `DROP TRIGGER IF EXISTS carve_write_fence_${op} ON ${s}.${ident(t)};`));
  return `${triggers.join('\n')}
DROP FUNCTION IF EXISTS ${s}.carve_write_fence_new();
DROP FUNCTION IF EXISTS ${s}.carve_write_fence_check(text, boolean, text[]);
DROP TABLE IF EXISTS ${s}.write_fence;`;
}

/**
 * Only the fence's owner (the migrator, the handover's admin connection) may change who owns the
 * writes: the check runs with its owner's rights (SECURITY DEFINER, a fixed search_path), and
 * every other role loses INSERT, UPDATE, DELETE and TRUNCATE on `write_fence`, so an app role,
 * compromised or not, cannot give its side the writes. Version 1: never edit.
 */
export function writeFenceLockdownSqlV1(schema: string): string {
  const s = ident(schema);
  return `
ALTER FUNCTION ${s}.carve_write_fence_check(text, boolean, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
${revokeWriteFenceSql(s)}`;
}

/**
 * Undoes the function's half of `writeFenceLockdownSqlV1` (a migration's `down`): the check runs
 * with its caller's rights again. The privileges stay revoked. Version 1: never edit.
 */
export function undoWriteFenceLockdownSqlV1(schema: string): string {
  return `ALTER FUNCTION ${ident(schema)}.carve_write_fence_check(text, boolean, text[]) SECURITY INVOKER`;
}

/**
 * Takes every write privilege on `<schema>.write_fence` from every role but its owner (a DO
 * block; nothing when the table does not exist). Run by the migration that locks the fence and
 * again by `provisionSchema`, whose grant on all the schema's tables would give them back.
 */
export function revokeWriteFenceSql(schema: string): string {
  const s = ident(schema);
  return `
DO $lock$
DECLARE r record;
BEGIN
  IF to_regclass('${s}.write_fence') IS NULL THEN RETURN; END IF;
  FOR r IN
    SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END AS who
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.oid = '${s}.write_fence'::regclass AND a.grantee <> c.relowner
       AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
  LOOP
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ${s}.write_fence FROM %s', r.who);
  END LOOP;
END
$lock$;`;
}
