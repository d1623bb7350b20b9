/** One keyset page of a TypeORM query: WHERE (sort, id) after the cursor, ORDER BY sort, id, LIMIT n + 1. */
import { type ListQuery, type Page, toPage } from '@carve/legacy-domain';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';

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
  const rows = await qb.getMany();
  return toPage(rows, query, (r) => r[sortProp], (r) => r[idProp]);
}
