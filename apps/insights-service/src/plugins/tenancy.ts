/**
 * Tenancy and roles for every route under /api/v1/workspaces/:workspaceId, in the monolith's
 * order (its TenancyGuard): the token's workspace must be the path's (403 workspace_mismatch), a
 * path workspace that is no UUID is not found (404), viewers cannot write (403 forbidden_role).
 * Then, for writes only, the service must be the source of truth (409 not_source_of_truth).
 * Runs as a preHandler: after authentication (401, the platform's onRequest) and body parsing
 * (400 malformed_json, 413), as in the monolith.
 */
import { isUuid, permissions } from '@carve/insights-domain';
import { ProblemError, problems, requireIdentity } from '@carve/shared-http';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function tenancyAndOwnership(app: FastifyInstance, req: FastifyRequest): Promise<void> {
  const identity = requireIdentity(req);
  const workspaceId = (req.params as Record<string, string | undefined>)?.workspaceId;
  if (workspaceId !== undefined) {
    if (workspaceId.toLowerCase() !== identity.workspaceId.toLowerCase()) {
      throw problems.forbidden('workspace_mismatch', 'The token is for another workspace than the one in the path.');
    }
    if (!isUuid(workspaceId)) throw problems.notFound('The workspace');
  }
  if (READS.has(req.method)) return;
  if (!permissions.write(identity.role)) throw problems.forbidden('forbidden_role', `The role ${identity.role} can read but not change anything.`);
  if (!(await app.ownership.ownsWrites())) {
    throw new ProblemError(409, 'not_source_of_truth', 'The monolith owns writes of notes at this carving stage; send writes to it (the gateway does).', {
      stage: await app.ownership.stage(),
    });
  }
}
