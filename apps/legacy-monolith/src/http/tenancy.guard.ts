/**
 * Tenancy and roles, for every route: the token's workspace must be the one in the path
 * (403 workspace_mismatch), viewers cannot write (403 forbidden_role), and routes marked
 * @AdminOnly() need an admin. Authentication itself (401) happens earlier, in the platform's
 * onRequest hook.
 */
import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isUuid, permissions } from '@carve/legacy-domain';
import { problems, requireIdentity } from '@carve/shared-http';
import type { FastifyRequest } from 'fastify';

const ADMIN_ONLY = 'carve:admin-only';

/** Only workspace admins may call this route. */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

@Injectable()
export class TenancyGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const identity = requireIdentity(req);
    const workspaceId = (req.params as Record<string, string | undefined>)?.workspaceId;
    if (workspaceId !== undefined) {
      if (workspaceId.toLowerCase() !== identity.workspaceId.toLowerCase()) {
        throw problems.forbidden('workspace_mismatch', 'The token is for another workspace than the one in the path.');
      }
      if (!isUuid(workspaceId)) throw problems.notFound('The workspace');
    }
    if (!READS.has(req.method) && !permissions.write(identity.role)) {
      throw problems.forbidden('forbidden_role', `The role ${identity.role} can read but not change anything.`);
    }
    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, [ctx.getHandler(), ctx.getClass()]);
    if (adminOnly && !permissions.administer(identity.role)) {
      throw problems.forbidden('forbidden_role', `Only an admin can do this; the token's role is ${identity.role}.`);
    }
    return true;
  }
}
