/**
 * The Fastify adapter for Nest when Carve's platform plugin (@carve/shared-http) owns the
 * Fastify instance's 404 and error handlers (problem+json, `route_not_found`, body limit → 413,
 * bad JSON → 400). Nest would install its own on init, which Fastify refuses for 404 ("Not
 * found handler already set"); here both calls are no-ops. Errors raised inside Nest's pipeline
 * (controllers, guards, pipes) still go through Nest's filters: register `ProblemFilter`
 * globally so they answer the same way.
 */
import { FastifyAdapter } from '@nestjs/platform-fastify';

export class PlatformFastifyAdapter extends FastifyAdapter {
  override setNotFoundHandler() {
    return this.getInstance();
  }

  override setErrorHandler() {
    return this.getInstance();
  }
}
