/**
 * Tenancy and roles for every route under /api/v1/workspaces/:workspaceId, in the monolith's
 * order (its TenancyGuard): the token's workspace must be the path's (403 workspace_mismatch), a
 * path workspace that is no UUID is not found (404), viewers cannot write (403 forbidden_role).
 * Whether the service owns the writes is not checked here: the write fence of its database
 * (insights.write_fence, @carve/shared-persistence write-fence.ts) refuses a write it does not
 * own in the writing transaction itself (409 not_source_of_truth, or 503 write_fenced while a
 * handover holds the writes, both with Retry-After). Runs as a preHandler: after authentication
 * (401, the platform's onRequest) and body parsing (400 malformed_json, 413), as in the monolith.
 */
import { requireIdentity } from '@carve/shared-http';
import { checkTenancy } from '@carve/shared-service';
import type { FastifyRequest } from 'fastify';

export function tenancy(req: FastifyRequest): void {
  checkTenancy(requireIdentity(req), req.method, (req.params as Record<string, string | undefined>)?.workspaceId);
}
