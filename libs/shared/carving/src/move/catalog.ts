/**
 * What a schema holds, read from a server's catalog: its tables (columns, primary key, foreign
 * keys, size), its sequences and the database's extensions. `carve move` compares the source's
 * and the target's, orders tables so that a parent comes before its children, and builds every
 * statement it runs from this (never from the app's own migrations).
 */
import type { Client, Pool, PoolClient } from 'pg';

export type Queryable = Pick<Client, 'query'> | Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

/** A quoted identifier (any name a catalog can hold). */
export const qi = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export interface ForeignKey {
  readonly columns: readonly string[];
  readonly parent: string;
  readonly parentColumns: readonly string[];
}

export interface TableInfo {
  readonly name: string;
  /** Columns a row is written with, in order (generated columns left out), with their types. */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string; readonly identityAlways: boolean }>;
  /** Primary key columns, null when the table has none (a move cannot follow its rows). */
  readonly primaryKey: readonly string[] | null;
  /** Foreign keys to tables of the same schema. */
  readonly foreignKeys: readonly ForeignKey[];
  readonly bytes: number;
  /** The planner's estimate (`reltuples`), -1 when never analysed. */
  readonly estimatedRows: number;
}

export interface SequenceInfo {
  readonly name: string;
  /** Null when the sequence was never used. */
  readonly lastValue: number | null;
}

export interface SchemaCatalog {
  readonly schema: string;
  readonly exists: boolean;
  readonly tables: readonly TableInfo[];
  readonly sequences: readonly SequenceInfo[];
  readonly extensions: readonly string[];
  readonly serverVersion: string;
}

/** The schema of Carve's own capture tables in the source database (never moved). */
export const MOVE_SCHEMA = 'carve_move';

export async function readCatalog(db: Queryable, schema: string): Promise<SchemaCatalog> {
  const version = (await db.query('SHOW server_version')).rows[0].server_version as string;
  const exists = (await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1;
  const extensions = (await db.query(`SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname`)).rows.map((r) => r.extname as string);
  if (!exists) return { schema, exists, tables: [], sequences: [], extensions, serverVersion: version };
  const tables = await db.query(
    `SELECT c.oid, c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes, c.reltuples::bigint AS est,
            (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'identityAlways', a.attidentity = 'a') ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
            (SELECT json_agg(a.attname ORDER BY k.ord)
               FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      ORDER BY c.relname`,
    [schema],
  );
  const fks = await db.query(
    `SELECT ch.relname AS child, pa.relname AS parent,
            (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS cols,
            (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum) AS pcols
       FROM pg_constraint con
       JOIN pg_class ch ON ch.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = ch.relnamespace
       JOIN pg_class pa ON pa.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pa.relnamespace
      WHERE con.contype = 'f' AND cn.nspname = $1 AND pn.nspname = $1
      ORDER BY con.conname`,
    [schema],
  );
  const byChild = new Map<string, ForeignKey[]>();
  for (const r of fks.rows) {
    const list = byChild.get(r.child) ?? [];
    list.push({ columns: r.cols, parent: r.parent, parentColumns: r.pcols });
    byChild.set(r.child, list);
  }
  const sequences = await db.query('SELECT sequencename AS name, last_value FROM pg_sequences WHERE schemaname = $1 ORDER BY sequencename', [schema]);
  return {
    schema,
    exists,
    serverVersion: version,
    extensions,
    tables: tables.rows.map((r) => ({
      name: r.name,
      columns: r.columns ?? [],
      primaryKey: r.pk ?? null,
      foreignKeys: byChild.get(r.name) ?? [],
      bytes: Number(r.bytes),
      estimatedRows: Number(r.est),
    })),
    sequences: sequences.rows.map((r) => ({ name: r.name, lastValue: r.last_value === null ? null : Number(r.last_value) })),
  };
}

/**
 * Tables with every parent before its children (a foreign key to itself does not count; a cycle
 * is broken at its alphabetically first table, whose rows then wait for their parents as a
 * self-reference's do).
 */
export function parentsFirst(tables: readonly TableInfo[]): TableInfo[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: TableInfo[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: TableInfo) => {
    if (state.get(t.name)) return;
    state.set(t.name, 'visiting');
    for (const fk of t.foreignKeys) {
      const p = byName.get(fk.parent);
      if (p && p.name !== t.name && state.get(p.name) !== 'visiting') visit(p);
    }
    state.set(t.name, 'done');
    out.push(t);
  };
  for (const t of [...tables].sort((a, b) => a.name.localeCompare(b.name))) visit(t);
  return out;
}

/**
 * The condition under which a row (`alias`) can be written to the target without breaking a
 * foreign key: every parent it names already exists there (or the key is null). Rows that do not
 * hold it wait for their parents.
 */
export function parentsPresent(schema: string, t: TableInfo, alias: string): string {
  const conds = t.foreignKeys.map((fk) => {
    const anyNull = fk.columns.map((c) => `${alias}.${qi(c)} IS NULL`).join(' OR ');
    const match = fk.columns.map((c, i) => `p.${qi(fk.parentColumns[i])} = ${alias}.${qi(c)}`).join(' AND ');
    return `(${anyNull} OR EXISTS (SELECT 1 FROM ${qi(schema)}.${qi(fk.parent)} p WHERE ${match}))`;
  });
  return conds.length ? conds.join(' AND ') : 'true';
}

/** `INSERT ... SELECT <columns> FROM <from> ... ON CONFLICT (pk) DO UPDATE` for one table. */
export function upsertSql(schema: string, t: TableInfo, from: string, where = 'true'): string {
  const cols = t.columns.map((c) => qi(c.name));
  const pk = t.primaryKey!.map(qi);
  const others = t.columns.filter((c) => !t.primaryKey!.includes(c.name)).map((c) => qi(c.name));
  const overriding = t.columns.some((c) => c.identityAlways) ? ' OVERRIDING SYSTEM VALUE' : '';
  const onConflict = others.length ? `DO UPDATE SET ${others.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}` : 'DO NOTHING';
  return `INSERT INTO ${qi(schema)}.${qi(t.name)} (${cols.join(', ')})${overriding} SELECT ${cols.map((c) => `s.${c}`).join(', ')} FROM ${from} s WHERE ${where} ON CONFLICT (${pk.join(', ')}) ${onConflict}`;
}
