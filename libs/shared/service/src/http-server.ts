/**
 * The seam between the runtime and a service's HTTP framework: `HttpServer` is all the runtime
 * drives (metrics registry, drain, listen, close). `platformFastifyApp` builds a Fastify 5 app
 * on the platform plugin of @carve/shared-http and `fastifyHttpServer` wraps it; a Nest service
 * uses `nestHttpServer` of @carve/shared-nest on `createPlatformNestApp`'s result instead.
 */
import { createLogger, platformPlugin, platformServerOptions, recordRoutes } from '@carve/shared-http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServiceDeps } from './runtime';

/**
 * A Fastify app on the platform: request ids, problem+json, /healthz, /readyz (a `SELECT 1` on
 * the pool), /metrics, JWT identity. JSON only: Fastify would hand a text/plain body to a JSON
 * endpoint as a string; without its parser such a body gets 415 unsupported_media_type, as any
 * other non-JSON body does. Not listening (tests use `app.inject`).
 */
export async function platformFastifyApp(deps: ServiceDeps): Promise<FastifyInstance> {
  const { config, pool } = deps;
  const app = Fastify(
    platformServerOptions({
      loggerInstance: deps.logger ?? createLogger(deps.name, { level: config.logLevel }),
      bodyLimit: config.bodyLimitBytes,
      trustProxy: config.trustProxy,
    }),
  );
  // Every route from here on is listed by `registeredRoutes(app)` (the OpenAPI coverage tests).
  recordRoutes(app);
  app.removeContentTypeParser('text/plain');
  await app.register(platformPlugin, {
    service: deps.name,
    auth: config.jwt,
    readiness: async () => {
      await pool.query('SELECT 1');
    },
  });
  return app;
}

export { fastifyHttpServer, type HttpServer } from '@carve/shared-http';
