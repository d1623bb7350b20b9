/** What the routes share: ids from the path, checked list queries and bodies, failures as problems. */
import { InsightsRejection } from '@carve/insights-data-access';
import { isUuid, type ListQuery, type ListSpec, parseListQuery, type QueryFilters, type Result } from '@carve/insights-domain';
import { ProblemError, problems } from '@carve/shared-http';

/** The value of a validation result, or a 400 validation_failed with the field errors. */
export function valid<T>(result: Result<T>): T {
  if (!result.ok) throw problems.validation(result.errors);
  return result.value;
}

export function listQuery<F extends QueryFilters>(spec: ListSpec<F>, query: unknown): ListQuery<any> {
  return valid(parseListQuery(spec, (query ?? {}) as Record<string, unknown>));
}

/** A path id; anything that is not a UUID cannot name a row, so it is a 404 like a missing one. */
export function pathId(value: string, what: string): string {
  if (!isUuid(value)) throw problems.notFound(what);
  return value.toLowerCase();
}

/** Runs a read or write of the data-access layer, turning its expected failures into problems. */
export async function edge<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toProblemError(err);
  }
}

export function toProblemError(err: unknown): unknown {
  if (!(err instanceof InsightsRejection)) return err;
  const f = err.failure;
  if (f.kind === 'not_found') return problems.notFound(f.what);
  if (f.kind === 'validation') return problems.validation(f.errors);
  return new ProblemError(409, f.code, f.detail);
}

export const workspacePath = (workspaceId: string) => `/api/v1/workspaces/${workspaceId}`;
