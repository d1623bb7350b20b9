/** Recognising Postgres errors that are the client's fault (so they become 4xx, never 500). */
import { QueryFailedError } from 'typeorm';

export interface PgError {
  code: string;
  constraint?: string;
  detail?: string;
}

export function pgError(err: unknown): PgError | undefined {
  if (err instanceof QueryFailedError) return err.driverError as PgError;
  const e = err as Partial<PgError> | undefined;
  return e && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? (e as PgError) : undefined;
}

export const isForeignKeyViolation = (err: unknown, constraint?: string) => {
  const e = pgError(err);
  return e?.code === '23503' && (!constraint || e.constraint === constraint);
};

export const isUniqueViolation = (err: unknown, constraint?: string) => {
  const e = pgError(err);
  return e?.code === '23505' && (!constraint || e.constraint === constraint);
};

/** The first UUID in a violation's detail ("Key (feature_id, workspace_id)=(<uuid>, <uuid>) is not present ..."). */
export function offendingId(err: unknown): string | undefined {
  return /\(([0-9a-f-]{36})[,)]/i.exec(pgError(err)?.detail ?? '')?.[1]?.toLowerCase();
}
