/**
 * The least a caller's transaction must offer for the outbox writer and the consumer's inbox:
 * a pg `Client`/`PoolClient`, a TypeORM `EntityManager` or `QueryRunner` all satisfy it.
 */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/**
 * Rows of a query result, whatever shape the executor returns: pg's `{ rows }`, TypeORM's
 * array of rows, or TypeORM's `[rows, affected]` for UPDATE/DELETE.
 */
export function rowsOf<R = Record<string, unknown>>(result: unknown): R[] {
  if (result && typeof result === 'object' && !Array.isArray(result) && Array.isArray((result as { rows?: unknown }).rows)) {
    return (result as { rows: R[] }).rows;
  }
  if (Array.isArray(result)) {
    if (result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as R[];
    return result as R[];
  }
  return [];
}

export async function queryRows<R = Record<string, unknown>>(ex: SqlExecutor, sql: string, params?: unknown[]): Promise<R[]> {
  return rowsOf<R>(await ex.query(sql, params));
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** A schema or table name checked to be a plain lower-case identifier (they end up in SQL text). */
export function ident(name: string, what = 'schema'): string {
  if (!IDENT.test(name)) throw new TypeError(`${what} name must be a lower-case SQL identifier, got ${JSON.stringify(name)}`);
  return name;
}
