/**
 * What every carved service's HTTP layer shares, whatever the framework: tenancy and roles in the
 * monolith's order (its TenancyGuard), ids from the path, checked list queries and bodies, and the
 * data-access layer's expected failures (the kernel's `Rejection`) as problems. Whether the
 * service owns the writes is not checked here: the write fence of its database refuses a write it
 * does not own in the writing transaction itself (409 not_source_of_truth, or 503 write_fenced
 * while a handover holds the writes, both with Retry-After).
 */
import { isUuid, type ListQuery, type ListSpec, parseListQuery, permissions, type QueryFilters, Rejection, type Result } from '@carve/shared-kernel';
import { type Identity, ProblemError, problems } from '@carve/shared-http';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Throws the problem a request gets when `identity` may not do `method` in the path's workspace:
 * the token's workspace must be the path's (403 workspace_mismatch), a path workspace that is no
 * UUID is not found (404), viewers cannot write (403 forbidden_role).
 */
export function checkTenancy(identity: Identity, method: string, workspaceId: string | undefined): void {
  if (workspaceId !== undefined) {
    if (workspaceId.toLowerCase() !== identity.workspaceId.toLowerCase()) {
      throw problems.forbidden('workspace_mismatch', 'The token is for another workspace than the one in the path.');
    }
    if (!isUuid(workspaceId)) throw problems.notFound('The workspace');
  }
  if (READS.has(method)) return;
  if (!permissions.write(identity.role)) throw problems.forbidden('forbidden_role', `The role ${identity.role} can read but not change anything.`);
}

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

/** A `Rejection` as its problem (404, 400 validation_failed, 409 with its code); anything else as it is. */
export function toProblemError(err: unknown): unknown {
  if (!(err instanceof Rejection)) return err;
  const f = err.failure;
  if (f.kind === 'not_found') return problems.notFound(f.what);
  if (f.kind === 'validation') return problems.validation(f.errors);
  return new ProblemError(409, f.code, f.detail);
}

export const workspacePath = (workspaceId: string) => `/api/v1/workspaces/${workspaceId}`;
