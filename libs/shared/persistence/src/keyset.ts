/**
 * Keyset paging of a list query (@carve/shared-kernel's `ListQuery`, whose cursors page on across
 * the monolith and the services): WHERE (sort, id) after the cursor, ORDER BY sort, id, LIMIT n + 1.
 * A forged cursor whose value Postgres cannot cast (a data exception, class 22) is a 400 on
 * `cursor`, as the monolith answers it.
 */
import { invalid, type ListQuery, type Page, toPage } from '@carve/shared-kernel';

/** A sortable field: its column, the Postgres type its cursor value is cast to, and its value in a row. */
export interface SortColumn {
  column: string;
  cast: string;
  value: (row: any) => unknown;
}

export interface KeysetSql {
  /** `SELECT ... FROM ...` without WHERE. */
  select: string;
  where: string[];
  params: unknown[];
  /** The table alias the sort and id columns belong to. */
  alias: string;
  idColumn: string;
}

const isDataException = (err: unknown) => typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('22');

/** One page of `query` over `sql`, sorted by one of `sorts`; `rows` runs the statement. */
export async function keysetPage<R>(rows: (text: string, params: unknown[]) => Promise<R[]>, sql: KeysetSql, sorts: Record<string, SortColumn>, query: ListQuery<any>): Promise<Page<R>> {
  const sort = sorts[query.sort.field];
  const desc = query.sort.direction === 'desc';
  const where = [...sql.where];
  const params = [...sql.params];
  const col = `${sql.alias}.${sort.column}`;
  const id = `${sql.alias}.${sql.idColumn}`;
  if (query.after) {
    params.push(query.after.value, query.after.id);
    where.push(`(${col}, ${id}) ${desc ? '<' : '>'} ($${params.length - 1}::${sort.cast}, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const dir = desc ? 'DESC' : 'ASC';
  const text = `${sql.select} WHERE ${where.join(' AND ')} ORDER BY ${col} ${dir}, ${id} ${dir} LIMIT $${params.length}`;
  let found: R[];
  try {
    found = await rows(text, params);
  } catch (err) {
    if (query.after && isDataException(err)) throw invalid([{ field: 'cursor', message: 'is not a cursor of this list with this sort and these filters' }]);
    throw err;
  }
  return toPage(found, query, (r) => sort.value(r), (r: any) => r[sql.idColumn]);
}
