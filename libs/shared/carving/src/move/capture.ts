/**
 * Change capture without replication slots: statement triggers on every table of the moved
 * schema write the primary keys of the rows a statement touched to `carve_move.changes`, in the
 * writing transaction. Nothing about the app changes (its outbox keeps working), and writes that
 * bypass the app (psql, a cron job, a migration) are captured too. What a change records is only
 * which row changed: applying it reads the row's state at that moment, so changes can be applied
 * more than once and in any grouping, and the last one wins.
 *
 * `carve_move` (a schema of its own in the source database, installed and removed by Carve) also
 * holds the move's state: its phase, the copy's progress per table, and an audit of every step.
 * TRUNCATE of a moved table is refused while the triggers are installed (it cannot be followed
 * row by row).
 */
import { MOVE_SCHEMA, qi, type Queryable, type TableInfo } from './catalog';

export type MovePhase = 'capturing' | 'copying' | 'copied' | 'switched' | 'rolled_back' | 'stopped' | 'finished';

/** The order of the phases: a step that needs a later one than the move is in is refused. */
export const PHASES: readonly MovePhase[] = ['capturing', 'copying', 'copied'];

export interface MoveState {
  readonly schema: string;
  readonly target: string;
  readonly phase: MovePhase;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly appliedAt: string | null;
}

/** Version 1 of the capture tables and function (idempotent). */
export const CAPTURE_SQL_V1 = `
CREATE SCHEMA IF NOT EXISTS ${MOVE_SCHEMA};
CREATE TABLE IF NOT EXISTS ${MOVE_SCHEMA}.changes (
  id bigserial PRIMARY KEY,
  sch text NOT NULL,
  tbl text NOT NULL,
  pk jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS changes_sch_id ON ${MOVE_SCHEMA}.changes (sch, id);
CREATE TABLE IF NOT EXISTS ${MOVE_SCHEMA}.moves (
  schema text PRIMARY KEY,
  target text NOT NULL,
  phase text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  applied_at timestamptz
);
CREATE TABLE IF NOT EXISTS ${MOVE_SCHEMA}.copy_progress (
  schema text NOT NULL,
  tbl text NOT NULL,
  last_key jsonb,
  rows bigint NOT NULL DEFAULT 0,
  finished_at timestamptz,
  PRIMARY KEY (schema, tbl)
);
CREATE TABLE IF NOT EXISTS ${MOVE_SCHEMA}.audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  schema text NOT NULL,
  action text NOT NULL,
  actor text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE OR REPLACE FUNCTION ${MOVE_SCHEMA}.capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- TG_ARGV[0]: the expression of a row's key, e.g. jsonb_build_object('id', "id").
  IF TG_OP = 'INSERT' THEN
    EXECUTE format('INSERT INTO ${MOVE_SCHEMA}.changes (sch, tbl, pk) SELECT %L, %L, %s FROM carve_move_new', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0]);
  ELSIF TG_OP = 'UPDATE' THEN
    EXECUTE format('INSERT INTO ${MOVE_SCHEMA}.changes (sch, tbl, pk) SELECT %L, %L, k FROM (SELECT %s AS k FROM carve_move_new UNION SELECT %s FROM carve_move_old) x',
                   TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[0]);
  ELSE
    EXECUTE format('INSERT INTO ${MOVE_SCHEMA}.changes (sch, tbl, pk) SELECT %L, %L, %s FROM carve_move_old', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0]);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE OR REPLACE FUNCTION ${MOVE_SCHEMA}.refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'TRUNCATE of %.% while carve move captures its changes', TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'CV409', HINT = 'delete the rows instead, or stop the move (carve move stop) first';
END
$fn$;
`;

/** The expression of a row's key as jsonb, for the capture trigger's argument. */
export const keyExpr = (t: TableInfo, alias?: string) =>
  `jsonb_build_object(${t.primaryKey!.map((c) => `'${c.replace(/'/g, "''")}', ${alias ? `${alias}.` : ''}${qi(c)}`).join(', ')})`;

const TRIGGERS = ['carve_move_ins', 'carve_move_upd', 'carve_move_del', 'carve_move_trunc'];

/** The capture triggers of one table (idempotent). */
export function captureTriggersSql(schema: string, t: TableInfo): string {
  const table = `${qi(schema)}.${qi(t.name)}`;
  const arg = `'${keyExpr(t).replace(/'/g, "''")}'`;
  return `
DROP TRIGGER IF EXISTS carve_move_ins ON ${table};
CREATE TRIGGER carve_move_ins AFTER INSERT ON ${table} REFERENCING NEW TABLE AS carve_move_new FOR EACH STATEMENT EXECUTE FUNCTION ${MOVE_SCHEMA}.capture(${arg});
DROP TRIGGER IF EXISTS carve_move_upd ON ${table};
CREATE TRIGGER carve_move_upd AFTER UPDATE ON ${table} REFERENCING OLD TABLE AS carve_move_old NEW TABLE AS carve_move_new FOR EACH STATEMENT EXECUTE FUNCTION ${MOVE_SCHEMA}.capture(${arg});
DROP TRIGGER IF EXISTS carve_move_del ON ${table};
CREATE TRIGGER carve_move_del AFTER DELETE ON ${table} REFERENCING OLD TABLE AS carve_move_old FOR EACH STATEMENT EXECUTE FUNCTION ${MOVE_SCHEMA}.capture(${arg});
DROP TRIGGER IF EXISTS carve_move_trunc ON ${table};
CREATE TRIGGER carve_move_trunc BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${MOVE_SCHEMA}.refuse_truncate();
`;
}

export function dropCaptureTriggersSql(schema: string, tables: readonly string[]): string {
  return tables.map((t) => TRIGGERS.map((name) => `DROP TRIGGER IF EXISTS ${name} ON ${qi(schema)}.${qi(t)};`).join('\n')).join('\n');
}

const toState = (r: any): MoveState => ({
  schema: r.schema,
  target: r.target,
  phase: r.phase,
  startedAt: new Date(r.started_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
  appliedAt: r.applied_at ? new Date(r.applied_at).toISOString() : null,
});

/** The move of `schema` as the source database records it, or null (none, or carve_move not installed). */
export async function readMoveState(db: Queryable, schema: string): Promise<MoveState | null> {
  const installed = (await db.query(`SELECT to_regclass('${MOVE_SCHEMA}.moves') IS NOT NULL AS ok`)).rows[0].ok === true;
  if (!installed) return null;
  const r = await db.query(`SELECT * FROM ${MOVE_SCHEMA}.moves WHERE schema = $1`, [schema]);
  return r.rows[0] ? toState(r.rows[0]) : null;
}

export async function setPhase(db: Queryable, schema: string, phase: MovePhase, audit: { actor: string; action: string; detail?: object }): Promise<void> {
  await db.query(`UPDATE ${MOVE_SCHEMA}.moves SET phase = $2, updated_at = now() WHERE schema = $1`, [schema, phase]);
  await recordAudit(db, schema, audit);
}

export async function recordAudit(db: Queryable, schema: string, a: { actor: string; action: string; detail?: object }): Promise<void> {
  await db.query(`INSERT INTO ${MOVE_SCHEMA}.audit (schema, action, actor, detail) VALUES ($1, $2, $3, $4)`, [schema, a.action, a.actor, JSON.stringify(a.detail ?? {})]);
}
