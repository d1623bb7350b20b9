/**
 * The platform every HTTP deployable shares, as one Fastify plugin (wrapped with
 * fastify-plugin because it must decorate and set handlers on the root instance):
 * x-request-id, problem+json errors and 404s, /healthz, /readyz, /metrics, request metrics,
 * JWT identity, and the draining flag that graceful shutdown flips.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { type AuthOptions, createAnyTokenVerifier, type Identity, identityFromHeader } from './auth';
import { PROBLEM_CONTENT_TYPE, ProblemError, toProblem } from './problem';
import { type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, traceLogFields, tracer, tracingEnabled } from './tracing';

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
    /** The request's server span (tracing on; not for the probes). */
    otelSpan?: Span;
    /** The context its handler runs in: the server span's. */
    otelContext?: Context;
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
  /** Paths (exact, or prefixes ending in '*') that need no token. Health, metrics and the OpenAPI document (/openapi.json, /docs) are always public. */
  publicPaths?: string[];
  /** Collect Node process metrics too (default true). */
  defaultMetrics?: boolean;
  /**
   * Serve GET /metrics on this server (default true). The gateway says false: its metrics are
   * served on its admin port, never on the public one.
   */
  metricsRoute?: boolean;
}

/**
 * The label naming the deployable on every series of the platform registry. Not `service`: the
 * Prometheus Operator's ServiceMonitor adds its own `service` target label (the Kubernetes
 * Service), which would rename ours to `exported_service`. Dashboards and alerts group by it.
 */
export const SERVICE_LABEL = 'carve_service';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Paths of the probes and the scrape: never in the request log (they run every few seconds). */
const PROBE = /^\/(healthz|readyz|metrics)(\?|$)/;

/**
 * The request log every deployable shares: one line per request (`request`: method, url, status,
 * ms, with the request id of the request's logger) once it is answered, none for the probes
 * (/healthz, /readyz, /metrics), and with `accessLog` false only the failed ones. Fastify's own
 * two lines per request ("incoming request", "request completed") are not written.
 */
export class PlatformLogController extends LogController {
  constructor(private readonly accessLog = true) {
    super();
  }

  override incomingRequest(): void {
    // one line per request, written when it is answered
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const span = request.otelSpan;
    const line = { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, ...(span ? traceLogFields(span) : {}) };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (this.accessLog && !PROBE.test(request.url)) reply.log.info(line, 'request');
  }
}

/**
 * Server options every deployable uses: x-request-id becomes the request id when well-formed;
 * the request log of PlatformLogController (CARVE_ACCESS_LOG=false keeps only failed requests;
 * `carve dev` sets it for the processes behind its gateway, whose own line names the side).
 */
export function platformServerOptions(extra: FastifyServerOptions = {}): FastifyServerOptions {
  return {
    clientErrorHandler: problemClientErrorHandler,
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    logController: new PlatformLogController(process.env.CARVE_ACCESS_LOG !== 'false'),
    ...extra,
  };
}

/**
 * What Node's HTTP parser refuses before a request exists (headers or the whole request too slow,
 * headers too large, a malformed request line): problem+json like every other refusal, with a
 * stable code, then the connection is closed. Written to the socket because there is no reply yet.
 */
const CLIENT_ERRORS: Record<string, { status: number; code: string; detail: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'request_timeout', detail: 'The request headers or body did not arrive in time.' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'headers_too_large', detail: 'The request headers are larger than the server accepts.' },
};
const BAD_REQUEST = { status: 400, code: 'malformed_request', detail: 'The request is not valid HTTP/1.1.' };

export function problemClientErrorHandler(this: { log?: { debug: (o: object, m: string) => void } }, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const p = CLIENT_ERRORS[err.code ?? ''] ?? BAD_REQUEST;
  this?.log?.debug({ err }, `client error: ${p.code}`);
  if (socket.writable) {
    const problem = new ProblemError(p.status, p.code, p.detail).toBody();
    const body = JSON.stringify(problem);
    socket.write(`HTTP/1.1 ${p.status} ${problem.title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

function isPublic(path: string, publicPaths: string[]): boolean {
  for (const p of publicPaths) {
    if (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : path === p) return true;
  }
  return false;
}

/**
 * A server span per request (not the probes): its parent is the caller's `traceparent` (W3C
 * Trace Context), and the route's handler runs in its context, so what the handler does (a
 * database write, an outbox event, a log line) belongs to it. Added only with tracing on.
 */
function traceRequests(app: FastifyInstance): void {
  const t = tracer();
  app.decorateRequest('otelSpan', undefined);
  app.decorateRequest('otelContext', undefined);
  app.addHook('onRequest', (req, _reply, done) => {
    if (PROBE.test(req.url)) {
      done();
      return;
    }
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const route = req.routeOptions?.url;
    const q = req.url.indexOf('?');
    const span = t.startSpan(
      route ? `${req.method} ${route}` : req.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': q === -1 ? req.url : req.url.slice(0, q), ...(route ? { 'http.route': route } : {}) },
      },
      parent,
    );
    req.otelSpan = span;
    req.otelContext = trace.setSpan(parent, span);
    done();
  });
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req: FastifyRequest, reply: FastifyReply) {
      const ctx = req.otelContext;
      return ctx ? context.with(ctx, handler, this, req, reply) : handler.call(this, req, reply);
    } as typeof handler;
  });
  const end = (req: FastifyRequest, status: number | undefined) => {
    const span = req.otelSpan;
    // Kept on the request for the request log; ended once (an ended span records nothing more).
    if (!span || !span.isRecording()) return;
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(status === undefined ? { message: 'the client went away' } : {}) });
    span.end();
  };
  app.addHook('onResponse', (req, reply, done) => {
    end(req, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    end(req, undefined);
    done();
  });
}

const platform: FastifyPluginAsync<PlatformOptions> = async (app: FastifyInstance, opts) => {
  const registry = new Registry();
  registry.setDefaultLabels({ [SERVICE_LABEL]: opts.service });
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

  // First of the hooks: a request refused by the token check has its span too.
  if (tracingEnabled()) traceRequests(app);

  const publicPaths = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', ...(opts.publicPaths ?? [])];
  const verify = opts.auth && (opts.auth.secret || opts.auth.publicKey || opts.auth.jwksUrl) ? createAnyTokenVerifier(opts.auth) : undefined;

  // Callback-style hooks: they run on every request, and skip a promise per hook.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (verify) {
      const q = req.url.indexOf('?');
      const path = q === -1 ? req.url : req.url.slice(0, q);
      if (!isPublic(path, publicPaths)) {
        let identity: Identity | Promise<Identity>;
        try {
          identity = identityFromHeader(req.headers.authorization, verify);
        } catch (err) {
          done(err as Error);
          return;
        }
        if (identity instanceof Promise) {
          // A key of the issuer not fetched yet (JWKS).
          identity.then(
            (id) => {
              req.identity = id;
              done();
            },
            (err: Error) => done(err),
          );
          return;
        }
        req.identity = identity;
      }
    }
    done();
  });

  app.addHook('onResponse', (req, reply, done) => {
    httpDuration.labels(req.method, req.routeOptions?.url ?? 'unmatched', String(reply.statusCode)).observe(reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, headers } = toProblem(err);
    if (status >= 500 && !headers) req.log.error({ err }, 'request failed');
    else if (!(err instanceof ProblemError)) req.log.info({ code: body.code, msg: (err as Error).message }, 'request rejected');
    if (headers) reply.headers(headers);
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
  if (opts.metricsRoute !== false) {
    app.get('/metrics', async (_req, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    });
  }

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
