/**
 * Nest catches controller, guard and pipe exceptions before Fastify's error handler sees them:
 * this global filter sends them the platform's way (problem+json with a stable code, request id,
 * no internals on a 500), through the same `toProblem` as the platform plugin.
 */
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import { PROBLEM_CONTENT_TYPE, ProblemError, toProblem } from '@carve/shared-http';
import type { FastifyReply, FastifyRequest } from 'fastify';

@Catch()
export class ProblemFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const req = ctx.getRequest<FastifyRequest>();
    const path = req.url.split('?', 1)[0];
    const err = nestRouteNotFound(exception) ? new ProblemError(404, 'route_not_found', `No route for ${req.method} ${path}.`) : exception;
    const { status, body, headers } = toProblem(err);
    if (status >= 500 && !headers) req.log.error({ err: exception }, 'request failed');
    if (reply.sent) return;
    if (headers) void reply.headers(headers);
    void reply.status(status).type(PROBLEM_CONTENT_TYPE).send({ ...body, instance: path, requestId: req.id });
  }
}

/** Nest's own 404 for an unmatched route ("Cannot GET /x"), as opposed to a resource that is not there. */
export function nestRouteNotFound(e: unknown): boolean {
  return e instanceof HttpException && e.getStatus() === 404 && /^Cannot [A-Z]+ /.test(e.message);
}
