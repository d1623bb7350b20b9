/**
 * `carve move plan`: what a move of one schema from one Postgres server to another would copy,
 * what stops it, and how long the copy should take, from a sample copied for real.
 */
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { keyExpr } from './capture';
import { MOVE_SCHEMA, parentsFirst, qi, readCatalog, type SchemaCatalog, type TableInfo } from './catalog';

export interface MoveBlocker {
  /** Stable code: no_primary_key, missing_on_target, shape_differs, extension_missing, target_not_empty, no_schema. */
  readonly code: string;
  readonly table?: string;
  readonly message: string;
  /** What to do about it. */
  readonly next: string;
}

export interface MovePlan {
  readonly schema: string;
  readonly source: { readonly server: string; readonly version: string };
  readonly target: { readonly server: string; readonly version: string };
  /** In the order they are copied (parents first). */
  readonly tables: ReadonlyArray<{ readonly name: string; readonly rows: number; readonly bytes: number; readonly primaryKey: readonly string[] | null }>;
  readonly sequences: ReadonlyArray<{ readonly name: string; readonly lastValue: number | null }>;
  readonly blockers: readonly MoveBlocker[];
  /** From a sample of the largest table copied into a temporary table on the target. */
  readonly estimate: { readonly sampleRows: number; readonly rowsPerSecond: number; readonly seconds: number } | null;
}

/** host:port/database of a URL, without its credentials (what a plan and the audit show). */
export function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable url)';
  }
}

export function connectTo(url: string, name: string): Client {
  const c = new Client({ connectionString: url, application_name: name, connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined); // a broken connection surfaces on its next query
  return c;
}

/** Session settings under which a value reads as the same text on both servers, whatever theirs. */
export const SAME_TEXT_SQL = `SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1`;

/** Row count and an md5 of every row (as JSON, in key order) of one table: what verify compares. */
export async function tableDigest(c: Pick<Client, 'query'>, schema: string, tb: TableInfo): Promise<{ n: string; d: string }> {
  const order = tb.primaryKey!.map((k) => `t.${qi(k)}`).join(', ');
  return (await c.query(`SELECT count(*)::bigint AS n, coalesce(md5(string_agg(md5(to_jsonb(t)::text), '' ORDER BY ${order})), '') AS d FROM ${qi(schema)}.${qi(tb.name)} t`)).rows[0];
}

/** The names of `tables` that `other` lacks or holds in another shape. */
export function tablesOfOtherShape(tables: readonly TableInfo[], other: readonly TableInfo[]): string[] {
  const there = new Map(other.map((x) => [x.name, x]));
  return tables.filter((x) => !there.has(x.name) || !sameShape(x, there.get(x.name)!)).map((x) => x.name);
}

export const sameShape = (a: TableInfo, b: TableInfo): boolean =>
  a.columns.length === b.columns.length && a.columns.every((c, i) => c.name === b.columns[i].name && c.type === b.columns[i].type);

/**
 * The blockers of a move, from both catalogs and `targetRows`: per table, the rows of the target
 * the source does not have (`strayRows`).
 */
export function blockersOf(src: SchemaCatalog, dst: SchemaCatalog, targetRows: ReadonlyMap<string, number> | null): MoveBlocker[] {
  const out: MoveBlocker[] = [];
  if (!src.exists) out.push({ code: 'no_schema', message: `the source has no schema ${src.schema}`, next: 'check --schema and --from' });
  if (!dst.exists) out.push({ code: 'no_schema', message: `the target has no schema ${dst.schema}`, next: `create it on the target with the app's migrations (or \`pg_dump --schema-only --schema ${src.schema}\` restored there), then plan again` });
  const there = new Map(dst.tables.map((t) => [t.name, t]));
  for (const t of src.tables) {
    if (!t.primaryKey) out.push({ code: 'no_primary_key', table: t.name, message: `${src.schema}.${t.name} has no primary key: its changes cannot be followed row by row`, next: `add a primary key to ${src.schema}.${t.name} (on both sides), then plan again` });
    const d = there.get(t.name);
    if (!d) {
      if (dst.exists) out.push({ code: 'missing_on_target', table: t.name, message: `${dst.schema}.${t.name} does not exist on the target`, next: "run the app's migrations against the target, then plan again" });
      continue;
    }
    if (!sameShape(t, d)) {
      const cols = (x: TableInfo) => x.columns.map((c) => `${c.name} ${c.type}`).join(', ');
      out.push({ code: 'shape_differs', table: t.name, message: `${src.schema}.${t.name} differs: source (${cols(t)}), target (${cols(d)})`, next: 'bring both sides to the same migration, then plan again' });
    }
    const n = targetRows?.get(t.name) ?? 0;
    if (n > 0) out.push({ code: 'target_not_empty', table: t.name, message: `${dst.schema}.${t.name} holds ${n} row(s) on the target that the source does not have`, next: 'move into tables that hold nothing but rows of the source: truncate them on the target (it is not serving yet), then plan again' });
  }
  for (const ext of src.extensions) {
    if (!dst.extensions.includes(ext)) out.push({ code: 'extension_missing', message: `extension ${ext} is installed on the source, not on the target`, next: `CREATE EXTENSION ${ext} on the target (on RDS: allowed by its parameter group / rds.allowed_extensions)` });
  }
  return out;
}

/** Target tables with more rows than this are not compared key by key: any row there blocks. */
const STRAY_CHECK_LIMIT = 10_000;

/**
 * Per table, the rows on the target whose keys the source does not have: what a copy would leave
 * behind. Rows the app's migrations write on both sides (their bookkeeping, seeded settings) are
 * not strays: the copy overwrites them with the source's values.
 */
export async function strayRows(src: Client, dst: Client, schema: string, tables: readonly TableInfo[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of tables) {
    const n = Number((await dst.query(`SELECT count(*)::bigint AS n FROM ${qi(schema)}.${qi(t.name)}`)).rows[0].n);
    if (n === 0 || !t.primaryKey) {
      out.set(t.name, n);
      continue;
    }
    if (n > STRAY_CHECK_LIMIT) {
      out.set(t.name, n);
      continue;
    }
    const keys = (await dst.query(`SELECT coalesce(jsonb_agg(${keyExpr(t)}), '[]'::jsonb) AS k FROM ${qi(schema)}.${qi(t.name)}`)).rows[0].k;
    const missing = await src.query(`SELECT count(*)::bigint AS n FROM (SELECT k FROM jsonb_array_elements($1::jsonb) AS k EXCEPT SELECT ${keyExpr(t)} FROM ${qi(schema)}.${qi(t.name)}) x`, [JSON.stringify(keys)]);
    out.set(t.name, Number(missing.rows[0].n));
  }
  return out;
}

async function rowCounts(db: Client, schema: string, tables: readonly TableInfo[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of tables) out.set(t.name, Number((await db.query(`SELECT count(*)::bigint AS n FROM ${qi(schema)}.${qi(t.name)}`)).rows[0].n));
  return out;
}

/** Copies up to `limit` rows of `t` from src into a temporary copy of it on dst; rows per second of that. */
async function sampleCopy(src: Client, dst: Client, schema: string, t: TableInfo, limit: number): Promise<{ rows: number; rowsPerSecond: number }> {
  const cols = t.columns.map((c) => qi(c.name)).join(', ');
  await dst.query(`CREATE TEMP TABLE carve_move_sample (LIKE ${qi(schema)}.${qi(t.name)} INCLUDING DEFAULTS INCLUDING INDEXES) ON COMMIT DROP`);
  const t0 = performance.now();
  const out = src.query(copyTo(`COPY (SELECT ${cols} FROM ${qi(schema)}.${qi(t.name)} LIMIT ${Math.floor(limit)}) TO STDOUT`));
  const into = dst.query(copyFrom(`COPY carve_move_sample (${cols}) FROM STDIN`));
  await new Promise<void>((resolve, reject) => {
    out.on('error', reject);
    into.on('error', reject);
    into.on('finish', resolve);
    out.pipe(into);
  });
  const ms = performance.now() - t0;
  const rows = Number((await dst.query('SELECT count(*)::bigint AS n FROM carve_move_sample')).rows[0].n);
  return { rows, rowsPerSecond: ms > 0 ? (rows * 1000) / ms : 0 };
}

export async function planMove(opts: { fromUrl: string; toUrl: string; schema: string; sampleRows?: number }): Promise<MovePlan> {
  if (opts.schema === MOVE_SCHEMA) throw new Error(`${MOVE_SCHEMA} is carve move's own schema; it is not moved`);
  const src = connectTo(opts.fromUrl, 'carve-move-plan');
  const dst = connectTo(opts.toUrl, 'carve-move-plan');
  await src.connect();
  try {
    await dst.connect();
    const [a, b] = [await readCatalog(src, opts.schema), await readCatalog(dst, opts.schema)];
    const ordered = parentsFirst(a.tables);
    const present = new Set(b.tables.map((t) => t.name));
    const [srcRows, dstRows] = [await rowCounts(src, opts.schema, ordered), await strayRows(src, dst, opts.schema, ordered.filter((t) => present.has(t.name) && b.tables.some((x) => x.name === t.name && sameShape(t, x))))];
    const blockers = blockersOf(a, b, dstRows);
    const total = [...srcRows.values()].reduce((x, y) => x + y, 0);
    let estimate: MovePlan['estimate'] = null;
    const largest = [...ordered].filter((t) => present.has(t.name)).sort((x, y) => (srcRows.get(y.name) ?? 0) - (srcRows.get(x.name) ?? 0))[0];
    if (largest && (srcRows.get(largest.name) ?? 0) > 0 && !blockers.some((x) => x.code === 'shape_differs' && x.table === largest.name)) {
      await dst.query('BEGIN');
      try {
        const s = await sampleCopy(src, dst, opts.schema, largest, opts.sampleRows ?? 20_000);
        estimate = { sampleRows: s.rows, rowsPerSecond: Math.round(s.rowsPerSecond), seconds: s.rowsPerSecond > 0 ? Math.ceil(total / s.rowsPerSecond) : 0 };
      } finally {
        await dst.query('ROLLBACK');
      }
    }
    return {
      schema: opts.schema,
      source: { server: serverOf(opts.fromUrl), version: a.serverVersion },
      target: { server: serverOf(opts.toUrl), version: b.serverVersion },
      tables: ordered.map((t) => ({ name: t.name, rows: srcRows.get(t.name) ?? 0, bytes: t.bytes, primaryKey: t.primaryKey })),
      sequences: a.sequences,
      blockers,
      estimate,
    };
  } finally {
    await src.end().catch(() => undefined);
    await dst.end().catch(() => undefined);
  }
}
