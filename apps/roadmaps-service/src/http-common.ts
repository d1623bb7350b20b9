/**
 * What the HTTP layer needs whatever the framework: tenancy (the token's workspace must be the
 * path's; a path workspace that is no UUID is not found), writes only for makers and admins and
 * only once the service owns writes, page parameters, and the reads of the state tables.
 */
import { isUuid, permissions } from '@carve/roadmaps-domain';
import { findState, listStates, type RoadmapsAggregateType, type StatePage } from '@carve/roadmaps-data-access';
import { type Identity, ProblemError, problems } from '@carve/shared-http';
import type { Pool } from 'pg';
import type { StageReader } from './stage-reader';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Throws the problem a request gets when its identity may not do `method` in `workspaceId`. */
export async function checkTenancy(identity: Identity, method: string, workspaceId: string | undefined, stageReader: StageReader): Promise<void> {
  if (workspaceId !== undefined) {
    if (workspaceId.toLowerCase() !== identity.workspaceId.toLowerCase()) {
      throw problems.forbidden('workspace_mismatch', 'The token is for another workspace than the one in the path.');
    }
    if (!isUuid(workspaceId)) throw problems.notFound('The workspace');
  }
  if (READS.has(method)) return;
  if (!permissions.write(identity.role)) throw problems.forbidden('forbidden_role', `The role ${identity.role} can read but not change anything.`);
  if (!(await stageReader.ownsWrites())) {
    throw new ProblemError(409, 'not_source_of_truth', 'The monolith owns these writes at this carving stage; send them to it (the gateway does).', { stage: await stageReader.stage() });
  }
}

/** `?limit` (1-100, default 50) and `?after` (an id). */
export function pageParams(query: unknown): { limit: number; after?: string } {
  const q = (query ?? {}) as Record<string, unknown>;
  const errors: Array<{ field: string; message: string }> = [];
  let limit = 50;
  if (q.limit !== undefined) {
    limit = Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) errors.push({ field: 'limit', message: 'must be a whole number from 1 to 100' });
  }
  const after = q.after === undefined ? undefined : String(q.after);
  if (after !== undefined && !isUuid(after)) errors.push({ field: 'after', message: 'must be an id from a previous page' });
  if (errors.length) throw problems.validation(errors);
  return { limit, after: after?.toLowerCase() };
}

export async function readOne(pool: Pool, type: RoadmapsAggregateType, what: string, workspaceId: string, id: string): Promise<Record<string, unknown>> {
  if (!isUuid(id)) throw problems.notFound(what);
  const state = await findState(pool, type, workspaceId.toLowerCase(), id.toLowerCase());
  if (!state) throw problems.notFound(what);
  return state;
}

export function readPage(pool: Pool, type: RoadmapsAggregateType, workspaceId: string, query: unknown): Promise<StatePage> {
  return listStates(pool, type, workspaceId.toLowerCase(), pageParams(query));
}

/** The aggregates the API serves: path segment, aggregate type, and how a missing one is named. */
export const RESOURCES: ReadonlyArray<{ plural: string; type: RoadmapsAggregateType; what: string }> = [
  { plural: 'releases', type: 'release', what: 'The release' },
];
