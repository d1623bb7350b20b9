/** Small helpers controllers share: identity, validation results, ids, Location headers. */
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { isUuid, type ListQuery, type ListSpec, parseListQuery, type QueryFilters, type Result } from '@carve/legacy-domain';
import { type Identity, problems, requireIdentity } from '@carve/shared-http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The verified caller (set by the platform's JWT hook). */
export const CurrentIdentity = createParamDecorator((_data: unknown, ctx: ExecutionContext): Identity =>
  requireIdentity(ctx.switchToHttp().getRequest<FastifyRequest>()),
);

/** The value of a validation result, or a 400 validation_failed with the field errors. */
export function valid<T>(result: Result<T>): T {
  if (!result.ok) throw problems.validation(result.errors);
  return result.value;
}

/** A checked list query, or a 400 naming the bad parameters. */
export function listQuery<F extends QueryFilters>(spec: ListSpec<F>, query: unknown): ListQuery<{ [K in keyof F]?: any }> {
  return valid(parseListQuery(spec, (query ?? {}) as Record<string, unknown>));
}

/** A path id; anything that is not a UUID cannot name a row, so it is a 404 like a missing one. */
export function pathId(value: string, what: string): string {
  if (!isUuid(value)) throw problems.notFound(what);
  return value.toLowerCase();
}

export function created(reply: FastifyReply, location: string): void {
  void reply.header('location', location);
}

export const workspacePath = (workspaceId: string) => `/api/v1/workspaces/${workspaceId}`;
