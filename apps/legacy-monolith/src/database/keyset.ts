/** One keyset page of a TypeORM query: WHERE (sort, id) after the cursor, ORDER BY sort, id, LIMIT n + 1. */
import { type ListQuery, type Page, toPage } from '@carve/legacy-domain';
import { problems } from '@carve/shared-http';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { pgError } from './pg-errors';

export async function keysetPage<E extends ObjectLiteral>(
  qb: SelectQueryBuilder<E>,
  query: ListQuery<any>,
  opts: { idProperty?: string; sortProperties?: Record<string, string> } = {},
): Promise<Page<E>> {
  const alias = qb.alias;
  const idProp = opts.idProperty ?? 'id';
  const sortProp = opts.sortProperties?.[query.sort.field] ?? query.sort.field;
  const desc = query.sort.direction === 'desc';
  if (query.after) {
    qb.andWhere(`(${alias}.${sortProp}, ${alias}.${idProp}) ${desc ? '<' : '>'} (:cursorValue, :cursorId)`, {
      cursorValue: query.after.value,
      cursorId: query.after.id,
    });
  }
  qb.orderBy(`${alias}.${sortProp}`, desc ? 'DESC' : 'ASC')
    .addOrderBy(`${alias}.${idProp}`, desc ? 'DESC' : 'ASC')
    .limit(query.limit + 1);
  let rows: E[];
  try {
    rows = await qb.getMany();
  } catch (err) {
    // A forged cursor the domain checks let through but Postgres cannot cast (class 22: data exception).
    if (query.after && pgError(err)?.code.startsWith('22')) {
      throw problems.validation([{ field: 'cursor', message: 'is not a cursor of this list with this sort and these filters' }]);
    }
    throw err;
  }
  return toPage(rows, query, (r) => r[sortProp], (r) => r[idProp]);
}
