/**
 * One way to build a NestJS service on Carve's platform: the Fastify adapter above (server
 * options with request ids), the platform plugin registered before Nest initialises (request
 * ids, problem+json, /healthz, /readyz, /metrics, JWT identity, the draining flag), the global
 * ProblemFilter. The result is initialised but not listening: tests use `app.inject()`, a
 * process calls `app.listen(port, host)`.
 */
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AuthOptions, fastifyHttpServer, type HttpServer, type Logger, type PlatformConfig, platformPlugin, platformServerOptions } from '@carve/shared-http';
import type { FastifyInstance } from 'fastify';
import { PlatformFastifyAdapter } from './adapter';
import { ProblemFilter } from './problem.filter';

export interface PlatformNestAppOptions {
  /** The service's name (health answers, metrics label). */
  service: string;
  logger: Logger;
  /** JWT verification (HS256 secret or RS256 public key); every non-public route needs a token. */
  auth?: AuthOptions;
  /** Throws when a dependency is unreachable: /readyz answers 503. */
  readiness?: () => Promise<void>;
  /** Paths without a token besides health and metrics (exact, or prefixes ending in '*'). */
  publicPaths?: string[];
  bodyLimit?: number;
  trustProxy?: boolean;
  /** Levels of Nest's own logger (default errors and warnings). */
  nestLogLevels?: Array<'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal'>;
  /** Runs on the Fastify instance after the platform plugin, before Nest's init (hooks, decorations). */
  beforeInit?: (fastify: FastifyInstance, app: NestFastifyApplication) => void | Promise<void>;
}

/** An initialised Nest application for `module` on the platform. */
export async function createPlatformNestApp(module: unknown, opts: PlatformNestAppOptions): Promise<NestFastifyApplication> {
  const adapter = new PlatformFastifyAdapter(
    platformServerOptions({
      loggerInstance: opts.logger,
      ...(opts.bodyLimit === undefined ? {} : { bodyLimit: opts.bodyLimit }),
      ...(opts.trustProxy === undefined ? {} : { trustProxy: opts.trustProxy }),
    }),
  );
  const app = await NestFactory.create<NestFastifyApplication>(module as never, adapter, {
    logger: opts.nestLogLevels ?? ['error', 'warn'],
    abortOnError: false,
  });
  try {
    await app.register(platformPlugin, { service: opts.service, auth: opts.auth, readiness: opts.readiness, publicPaths: opts.publicPaths });
    app.useGlobalFilters(new ProblemFilter());
    const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
    await opts.beforeInit?.(fastify, app);
    await app.init();
    return app;
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
}

/** A platform Nest application as the HttpServer a service's runtime drives (listen and close through Nest). */
export function nestHttpServer(app: NestFastifyApplication): HttpServer {
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  return fastifyHttpServer(fastify, { listen: (port, host) => app.listen(port, host), close: () => app.close() });
}

/** `createPlatformNestApp`'s options for a carved service (its runtime's deps; readiness: a `SELECT 1` on its pool). */
export function serviceNestOptions(deps: { name: string; logger: Logger; config: PlatformConfig; pool: { query(sql: string): Promise<unknown> } }): PlatformNestAppOptions {
  return {
    service: deps.name,
    logger: deps.logger,
    auth: deps.config.jwt,
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: deps.config.trustProxy,
    readiness: async () => {
      await deps.pool.query('SELECT 1');
    },
  };
}
