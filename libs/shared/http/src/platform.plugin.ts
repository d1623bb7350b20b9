/**
 * The platform every HTTP deployable shares, as one Fastify plugin (wrapped with
 * fastify-plugin because it must decorate and set handlers on the root instance):
 * x-request-id, problem+json errors and 404s, /healthz, /readyz, /metrics, request metrics,
 * JWT identity, and the draining flag that graceful shutdown flips.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { type AuthOptions, createTokenVerifier, type Identity, identityFromHeader } from './auth';
import { PROBLEM_CONTENT_TYPE, ProblemError, toProblem } from './problem';

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
  interface FastifyInstance {
    platform: PlatformState;
  }
}

export interface PlatformState {
  readonly service: string;
  readonly metrics: Registry;
  draining: boolean;
  /** Flip readiness off (called when shutdown begins). */
  beginDrain(): void;
}

export interface PlatformOptions {
  service: string;
  /** Throws (or rejects) when a dependency is unreachable; /readyz then answers 503. */
  readiness?: () => Promise<void>;
  /** When set, every request outside publicPaths needs a valid bearer token. */
  auth?: AuthOptions;
  /** Paths (exact, or prefixes ending in '*') that need no token. Health and metrics are always public. */
  publicPaths?: string[];
  /** Collect Node process metrics too (default true). */
  defaultMetrics?: boolean;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Server options every deployable uses: x-request-id becomes the request id when well-formed. */
export function platformServerOptions(extra: FastifyServerOptions = {}): FastifyServerOptions {
  return {
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    ...extra,
  };
}

function isPublic(path: string, publicPaths: string[]): boolean {
  for (const p of publicPaths) {
    if (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : path === p) return true;
  }
  return false;
}

const platform: FastifyPluginAsync<PlatformOptions> = async (app: FastifyInstance, opts) => {
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'HTTP requests served, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const state: PlatformState = {
    service: opts.service,
    metrics: registry,
    draining: false,
    beginDrain() {
      state.draining = true;
    },
  };
  app.decorate('platform', state);
  app.decorateRequest('identity', undefined);

  const publicPaths = ['/healthz', '/readyz', '/metrics', ...(opts.publicPaths ?? [])];
  const verify = opts.auth && (opts.auth.secret || opts.auth.publicKey) ? createTokenVerifier(opts.auth) : undefined;

  // Callback-style hooks: they run on every request, and skip a promise per hook.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (verify) {
      const q = req.url.indexOf('?');
      const path = q === -1 ? req.url : req.url.slice(0, q);
      if (!isPublic(path, publicPaths)) {
        try {
          req.identity = identityFromHeader(req.headers.authorization, verify);
        } catch (err) {
          done(err as Error);
          return;
        }
      }
    }
    done();
  });

  app.addHook('onResponse', (req, reply, done) => {
    httpDuration.labels(req.method, req.routeOptions?.url ?? 'unmatched', String(reply.statusCode)).observe(reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toProblem(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else if (!(err instanceof ProblemError)) req.log.info({ code: body.code, msg: (err as Error).message }, 'request rejected');
    return reply.status(status).type(PROBLEM_CONTENT_TYPE).send({ ...body, instance: req.url.split('?', 1)[0], requestId: req.id });
  });

  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).type(PROBLEM_CONTENT_TYPE).send({
      type: 'https://carve.dev/problems/route_not_found',
      title: 'Not Found',
      status: 404,
      code: 'route_not_found',
      detail: `No route for ${req.method} ${req.url.split('?', 1)[0]}.`,
      requestId: req.id,
    });
  });

  app.get('/healthz', async () => ({ status: 'ok', service: opts.service }));
  app.get('/readyz', async (_req, reply) => {
    if (state.draining) return reply.status(503).send({ status: 'draining', service: opts.service });
    try {
      await opts.readiness?.();
      return { status: 'ready', service: opts.service };
    } catch (err) {
      return reply.status(503).send({ status: 'unavailable', service: opts.service, reason: (err as Error).message });
    }
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  app.addHook('onClose', async () => {
    state.draining = true;
  });
};

export const platformPlugin = fp(platform, { name: 'carve-platform', fastify: '5.x' });

/** The identity set by the platform's JWT hook; throws 401 if the route was public. */
export function requireIdentity(req: FastifyRequest): Identity {
  if (!req.identity) throw new ProblemError(401, 'token_missing', 'Send a bearer token in the Authorization header.');
  return req.identity;
}
