/**
 * One way to build a NestJS service on Carve's platform: the Fastify adapter above (server
 * options with request ids), the platform plugin registered before Nest initialises (request
 * ids, problem+json, /healthz, /readyz, /metrics, JWT identity, the draining flag), the global
 * ProblemFilter. The result is initialised but not listening: tests use `app.inject()`, a
 * process calls `app.listen(port, host)`.
 */
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AuthOptions, type Logger, platformPlugin, platformServerOptions } from '@carve/shared-http';
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
