/**
 * The Fastify adapter for Nest when Carve's platform plugin (@carve/shared-http) owns the
 * Fastify instance's 404 and error handlers (problem+json, `route_not_found`, body limit → 413,
 * bad JSON → 400). Nest would install its own on init, which Fastify refuses for 404 ("Not
 * found handler already set"); here both calls are no-ops. Errors raised inside Nest's pipeline
 * (controllers, guards, pipes) still go through Nest's filters: register `ProblemFilter`
 * globally so they answer the same way.
 *
 * JSON only: Nest's adapter would also parse application/x-www-form-urlencoded bodies (and
 * Fastify plain text) into what a JSON endpoint's handler reads; here only application/json is
 * parsed, and any other body gets 415 unsupported_media_type before a handler runs.
 */
import { recordRoutes } from '@carve/shared-http';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';

export class PlatformFastifyAdapter extends FastifyAdapter {
  constructor(options?: FastifyServerOptions) {
    super(options);
    // Every route (Nest's controllers and the platform's) is listed by `registeredRoutes(instance)`.
    recordRoutes(this.getInstance() as unknown as FastifyInstance);
  }

  override registerParserMiddleware(prefix?: string, rawBody?: boolean) {
    super.registerParserMiddleware(prefix, rawBody);
    const fastify = this.getInstance();
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      if (fastify.hasContentTypeParser(type)) fastify.removeContentTypeParser(type);
    }
  }

  override setNotFoundHandler() {
    return this.getInstance();
  }

  override setErrorHandler() {
    return this.getInstance();
  }
}
