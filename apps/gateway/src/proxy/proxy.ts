/**
 * The proxy: every request's path is made canonical first (400 `bad_path` for one that cannot
 * be; see @carve/shared-routing canonicalPath). Every request that is not the gateway's own
 * (GET/HEAD /healthz, /readyz; its /metrics is on the admin port) is then authenticated,
 * matched against the route table in force, decided (@carve/shared-routing `decide`) and
 * forwarded, with that canonical path, by the lean forwarder (forwarder.ts) over the keep-alive
 * pools of `Upstreams`. An upstream's own /metrics, /healthz or /readyz is never reached unless
 * a route names it: without one, 404.
 *
 * It takes requests straight from the proxy port's node:http server (gateway.ts hands it every
 * request first; what it declines, Fastify serves): no Fastify request, reply, hook chain or
 * child logger per proxied request. What Fastify did for them is done here, the same way:
 * the request id (the caller's x-request-id when well-formed, else a UUID; echoed), errors as
 * problem+json with `instance` and `requestId` (the platform's error handler's shape, 5xx
 * logged), the platform's `http_server_request_duration_seconds` (route `/*`), the gateway's
 * metrics and the access log when the response ends. While the server closes, it declines
 * everything, and Fastify answers 503 with Connection: close.
 *
 * - Bodies stream through. The limit of a request is the smallest of the gateway's
 *   (CARVE_BODY_LIMIT_BYTES) and its route's (`bodyLimitBytes`, by default the smaller of the
 *   limits of the route's two upstreams; without a route, the default upstream's), so an
 *   upstream never sees a body it would refuse. A declared Content-Length over it is refused
 *   with 413 before anything is sent upstream; a chunked body is counted as it streams and cut
 *   at the limit (413, the upstream's request aborted). Either way the 413 carries
 *   Connection: close and the rest of the body is not read.
 * - Service side: the upstream's circuit breaker is asked first. GET/HEAD/OPTIONS without a
 *   body on a route with `fallback` are retried once on the monolith after a connection error,
 *   a timeout or a 5xx, or sent there directly while the breaker is open: the client sees the
 *   monolith's answer. Every other request is sent exactly once, and a failure is a
 *   problem+json 502/503/504.
 * - Shadow: the monolith's answer is relayed to the client while up to the shadow cap of its
 *   body is kept; once the client has it, the copy goes to the service (see shadow.ts).
 * - Tracing (on with the OTEL_* variables, see @carve/shared-http tracing.ts): a server span
 *   per request, child of the client's `traceparent`, and a client span per upstream exchange
 *   whose context goes upstream as `traceparent` / `tracestate` (../telemetry/tracing.ts). Off,
 *   a client's `traceparent` is forwarded as it came.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Transform, type Readable } from 'node:stream';
import { canonicalTarget, DEFAULT_UPSTREAM_BODY_LIMIT, decide, matchRoute, type Route, type RouteTable, type StringBag } from '@carve/shared-routing';
import { type Identity, type Logger, PROBLEM_CONTENT_TYPE, ProblemError, problems, toProblem } from '@carve/shared-http';
import type { AccessLog } from '../telemetry/access-log';
import { type RequestTrace, traceExchange, traceRequest } from '../telemetry/tracing';
import type { Histogram } from 'prom-client';
import type { GatewayConfig } from '../config';
import type { Guard } from '../guard/guard';
import { guardOutcome, hasRetryAfter } from '../guard/outcome';
import { upstreamRequestHeaders } from '../edge/headers';
import { assertWorkspace, authenticator, pathWorkspace, type Authenticator } from '../edge/identity';
import { DEFAULT_ROUTE_LABEL, type GatewayMetrics } from '../telemetry/metrics';
import { histogramChild } from '../telemetry/prom-fast';
import type { RouteStats } from '../route-table/route-stats';
import type { RoutingState } from '../route-table/routing-state';
import { type Shadower, sideResult } from '../shadow/shadow';
import { TenantLimiter } from '../limits/tenant-limiter';
import type { Breakers } from './breakers';
import { BodyTooLargeError, classifyUpstreamError, neverSent, upstreamProblem } from './errors';
import { Exchange, type ExchangeOwner } from './forwarder';
import type { ResolvedUpstream, Upstreams } from './upstreams';

/**
 * The library functions every request calls, bound once: compiled to CommonJS, a named import
 * of a re-exported function is a property getter on each use.
 */
const toCanonical = canonicalTarget;
const matchRouteOf = matchRoute;
const decideRoute = decide;

export interface ProxyDeps {
  readonly config: GatewayConfig;
  readonly routing: RoutingState;
  readonly upstreams: Upstreams;
  readonly breakers: Breakers;
  readonly metrics: GatewayMetrics;
  readonly shadow: Shadower;
  readonly guard: Guard;
  readonly stats: RouteStats;
  readonly log: Logger;
  /** The request id of a request (the platform's rule). */
  readonly requestId: (req: IncomingMessage) => string;
  /** The platform's request histogram (method, route, status), when it has one. */
  readonly httpDuration?: Histogram<'method' | 'route' | 'status'>;
  /** Per-tenant concurrency and rate limits (none: unlimited). */
  readonly limiter?: TenantLimiter;
  /** How long a request body may pause between two chunks (ms; 0: no limit). */
  readonly bodyIdleTimeoutMs?: number;
  /** Record spans (the process started tracing). */
  readonly tracing?: boolean;
  /** One line per request (telemetry/access-log.ts); none: no access log. */
  readonly accessLog?: AccessLog;
}

/** 503 when no connection to the upstream frees up in time (or too many already wait). */
export class SaturatedError extends ProblemError {
  readonly retryAfterSec = 1;
  constructor(upstream: string) {
    super(503, 'upstream_saturated', `Every connection to ${upstream} is busy; try again in a moment.`, { upstream });
  }
}

/** The request has a body the gateway has not read whole (a 4xx before it closes the connection). */
function bodyPending(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** What the gateway decided for a request; read by the metrics and the access log. */
export interface ProxyInfo {
  route: string;
  target: string;
  side: 'monolith' | 'service';
  reason: string;
  fallback: string | null;
  shadow: boolean;
  bodyTooLarge: boolean;
}

/**
 * The gateway's own paths (GET and HEAD), served by Fastify. Its /metrics is not one of them:
 * it is served on the admin port only.
 */
const OWN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);
/**
 * The upstreams' operational paths: a request for one of them that no route names explicitly
 * is answered 404 here, never forwarded to the default upstream.
 */
const UPSTREAM_OPS_PATHS: ReadonlySet<string> = new Set(['/metrics', '/healthz', '/readyz']);
/** The platform histogram's route label of proxied requests (Fastify's catch-all route). */
const ROUTE_PATTERN = '/*';
const EMPTY: StringBag = Object.freeze({});

/** One proxied request: the decision (ProxyInfo) and what its exchanges need. */
class Flight implements ProxyInfo {
  route = DEFAULT_ROUTE_LABEL;
  target = '';
  side: 'monolith' | 'service' = 'monolith';
  reason = 'default';
  fallback: string | null = null;
  shadow = false;
  bodyTooLarge = false;
  /** The body limit of this request (bytes). */
  limit = 0;
  /** Routing decided (false: rejected before, as by the token or the workspace check). */
  decided = false;
  identity: Identity | undefined = undefined;
  table: RouteTable | null = null;
  matched: Route | null = null;
  /** The upstream of the exchange in progress. */
  up: ResolvedUpstream | null = null;
  /** Service side: may a failure be retried on the monolith? */
  mayFallback = false;
  /** The monolith's answer is to be compared with a copy sent to the service. */
  shadowWanted = false;
  body: Readable | null = null;
  /** Answer with Connection: close (a request body is left unread). */
  closeConnection = false;
  /** The server span (tracing on). */
  trace: RequestTrace | null = null;
  private headerList: string[] | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly id: string,
    readonly method: string,
    readonly url: string,
    readonly path: string,
    readonly start: number,
  ) {}

  /** The upstream request headers (built once: a fallback and a shadow copy reuse them). */
  headers(trustProxy: boolean): string[] {
    if (this.headerList === null) {
      const req = this.req;
      const socket = req.socket;
      this.headerList = upstreamRequestHeaders(req.headers, {
        identity: this.identity,
        requestId: this.id,
        clientIp: socket.remoteAddress,
        protocol: (socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
        host: req.headers.host,
        trustProxy,
      });
    }
    return this.headerList;
  }
}

/** The client went away before its request body was all read (an aborted upload). */
function clientAborted(f: Flight): boolean {
  const req = f.req;
  return f.body !== null && !req.complete && (req.destroyed || req.readableAborted);
}

export class Proxy {
  /** Set when the server begins to close: every request is declined (Fastify answers 503). */
  closing = false;
  private readonly authenticate: Authenticator;
  private readonly limit: number;
  private readonly shadowCap: number;
  private readonly trustProxy: boolean;
  private readonly servedBy: boolean;
  private readonly durations = new Map<string, (seconds: number) => void>();
  private readonly monolithSide: ExchangeOwner<Flight>;
  private readonly serviceSide: ExchangeOwner<Flight>;
  /** Tracing on (decided at start, as the OTEL_* variables are read once). */
  private readonly tracing: boolean;

  constructor(private readonly deps: ProxyDeps) {
    const { config, metrics, shadow, breakers, guard, stats } = deps;
    this.authenticate = authenticator({ auth: config.jwt, publicPaths: config.publicPaths });
    this.limit = config.bodyLimitBytes;
    this.shadowCap = config.shadow.maxBodyBytes;
    this.trustProxy = config.trustProxy;
    this.servedBy = config.servedByHeader;
    this.tracing = deps.tracing ?? false;

    /** The monolith's side: relayed as it comes; kept for the comparison when shadowed. */
    this.monolithSide = {
      status: () => true,
      failed: (ex, err, relayed) => {
        const f = ex.ctx;
        if (f.shadowWanted) {
          f.shadow = false;
          shadow.skip(f.matched!, 'the monolith did not answer completely');
        }
        if (ex.clientGone) return;
        if (relayed) metrics.upstreamError(f.route, f.up!.name, classifyUpstreamError(err));
        else this.fail(f, f.up!, err);
      },
      finished: (ex) => {
        const f = ex.ctx;
        if (f.shadowWanted) this.copyToService(f, ex);
        this.done(f, ex.statusCode);
      },
    };

    /**
     * The service's side: its breaker and the guard hear every failure of the upstream (see
     * guard/outcome.ts: not a 4xx, not a 503 with Retry-After, not the client's abort or an
     * oversized body); reads may fall back.
     */
    this.serviceSide = {
      status: (ex, status) => {
        const f = ex.ctx;
        const up = f.up!;
        const route = f.matched!;
        const outcome = guardOutcome({ kind: 'answer', status, retryAfter: status === 503 && hasRetryAfter(ex.rawHeaders) });
        if (status >= 500) {
          if (outcome === 'error') {
            breakers.for(up.name).onFailure();
            guard.observe(route, 'error');
            stats.of(route.id).serviceErrors += 1;
            metrics.upstreamError(route.id, up.name, '5xx');
          }
          if (f.mayFallback) {
            this.fallBack(f, outcome === 'error' ? 'service-5xx' : 'service-shed');
            return false;
          }
          return true;
        }
        breakers.for(up.name).onSuccess();
        guard.observe(route, 'ok');
        return true;
      },
      failed: (ex, err, relayed) => {
        const f = ex.ctx;
        const up = f.up!;
        if (ex.clientGone) return;
        if (f.bodyTooLarge) {
          this.fail(f, up, err);
          return;
        }
        if (clientAborted(f)) {
          // The client dropped its request mid-body: the upstream is not to blame, and nobody is
          // left to answer.
          stats.of(f.matched!.id).clientAborts += 1;
          f.res.destroy();
          return;
        }
        const route = f.matched!;
        breakers.for(up.name).onFailure();
        guard.observe(route, 'error');
        stats.of(route.id).serviceErrors += 1;
        const kind = classifyUpstreamError(err);
        if (relayed) {
          metrics.upstreamError(route.id, up.name, kind);
          return;
        }
        if (f.mayFallback) {
          metrics.upstreamError(route.id, up.name, kind);
          this.fallBack(f, kind === 'timeout' ? 'service-timeout' : 'service-unreachable');
          return;
        }
        this.fail(f, up, err);
      },
      finished: (ex) => this.done(ex.ctx, ex.statusCode),
    };
  }

  /**
   * Takes a request off the server: true when it is the proxy's (answered now or later), false
   * for Fastify to serve (the gateway's own paths, a request-target that is not a path, or any
   * request once the server is closing).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.closing) return false;
    const raw = req.url ?? '';
    if (raw.charCodeAt(0) !== 47 /* / */) return false;
    const method = req.method ?? 'GET';
    // The one canonical path (see @carve/shared-routing canonicalPath): what the gateway's own
    // paths, identity, route matching and the workspace check see, and what goes upstream.
    const canonical = toCanonical(raw);
    if (!canonical.ok) {
      const q = raw.indexOf('?');
      const f = new Flight(req, res, this.deps.requestId(req), method, raw, q < 0 ? raw : raw.slice(0, q), performance.now());
      f.closeConnection = true;
      this.problem(f, problems.badRequest('bad_path', `${canonical.detail} (${canonical.refusal})`));
      return true;
    }
    const url = canonical.url;
    if (url !== raw) req.url = url;
    const q = url.indexOf('?');
    const path = canonical.path;
    if ((method === 'GET' || method === 'HEAD') && OWN_PATHS.has(path)) return false;
    const f = new Flight(req, res, this.deps.requestId(req), method, url, path, performance.now());
    if (this.tracing) f.trace = traceRequest(req, method, path);
    try {
      this.route(f, q);
    } catch (err) {
      this.problem(f, err);
    }
    return true;
  }

  private route(f: Flight, q: number): void {
    const identity = this.authenticate(f.path, f.req.headers.authorization);
    if (identity instanceof Promise) {
      // A key of the issuer not fetched yet (JWKS).
      identity
        .then((id) => {
          f.identity = id;
          this.routeAs(f, q);
        })
        .catch((err: unknown) => this.problem(f, err));
      return;
    }
    f.identity = identity;
    this.routeAs(f, q);
  }

  private routeAs(f: Flight, q: number): void {
    const { routing } = this.deps;
    const req = f.req;
    const identity = f.identity;
    const table = (f.table = routing.table);
    const match = matchRouteOf(table, f.method, f.path, req.headers as StringBag, q < 0 ? EMPTY : (parseQuery(f.url.slice(q + 1)) as StringBag));
    if (identity) assertWorkspace(identity.workspaceId, pathWorkspace(match?.params, f.path));

    const route = match ? match.route : null;
    if (!route && UPSTREAM_OPS_PATHS.has(f.path)) throw new ProblemError(404, 'route_not_found', `No route for ${f.method} ${f.path}.`);
    f.decided = true;
    f.matched = route;
    f.target = table.default;
    if (route) f.route = route.id;

    const limiter = this.deps.limiter;
    if (limiter !== undefined) {
      const tenant = TenantLimiter.tenantKey(identity?.workspaceId, req.socket.remoteAddress);
      const release = limiter.enter(tenant, route);
      if (release !== null) f.res.once('close', release);
      const wait = limiter.rate(tenant, route);
      if (wait !== 0) {
        if (typeof wait === 'number') throw TenantLimiter.rateLimited(wait);
        wait.then(
          (w) => {
            if (w > 0) throw TenantLimiter.rateLimited(w);
            this.forward(f, route);
          },
        ).catch((err: unknown) => this.problem(f, err));
        return;
      }
    }
    this.forward(f, route);
  }

  /** The request passed its limits: body guard, decision, and on to an upstream. */
  private forward(f: Flight, route: Route | null): void {
    const { shadow } = this.deps;
    const req = f.req;
    const identity = f.identity;
    const table = f.table!;
    const hasBody = this.guardBody(f, route ? Math.min(this.limit, route.bodyLimitBytes) : this.defaultLimit(table));
    if (!route) {
      this.toMonolith(f);
      return;
    }

    const d = decideRoute(route, {
      method: f.method,
      tenantId: identity?.workspaceId,
      userId: identity?.userId,
      role: identity?.role,
      operator: identity?.operator === true,
      headers: req.headers as StringBag,
    });
    f.reason = d.reason;
    if (d.primary === 'service') {
      this.toService(f, route, d.fallback && !hasBody);
      return;
    }
    if (d.shadow) {
      if (hasBody) shadow.skip(route, 'request has a body');
      else f.shadowWanted = f.shadow = true;
    }
    this.toMonolith(f);
  }

  /** The body limit of a request no route matched: the gateway's, or the default upstream's if smaller. */
  private defaultLimit(table: RouteTable): number {
    return Math.min(this.limit, table.upstreams[table.default]?.bodyLimitBytes ?? DEFAULT_UPSTREAM_BODY_LIMIT);
  }

  /** 413 for a declared length over the limit; a chunked body is counted as it streams. */
  private guardBody(f: Flight, limit: number): boolean {
    const req = f.req;
    const declared = req.headers['content-length'];
    f.limit = limit;
    if (declared !== undefined) {
      const n = Number(declared);
      if (n > limit) {
        f.closeConnection = true;
        throw problems.payloadTooLarge(limit);
      }
      if (n > 0) {
        f.body = req;
        this.watchBody(f);
        return true;
      }
      return false;
    }
    if (req.headers['transfer-encoding'] === undefined) return false;
    this.watchBody(f);
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > limit) {
          f.bodyTooLarge = true;
          cb(new BodyTooLargeError(limit));
          return;
        }
        cb(null, chunk);
      },
    });
    req.on('error', (err) => counter.destroy(err));
    f.body = req.pipe(counter);
    return true;
  }

  /**
   * A request body that pauses longer than the body idle timeout between two chunks: 408
   * `body_timeout` (or a cut answer once one has begun), the request dropped (the upstream's
   * too) and the connection closed.
   */
  private watchBody(f: Flight): void {
    const ms = this.deps.bodyIdleTimeoutMs ?? 0;
    const req = f.req;
    if (ms <= 0 || req.complete) return;
    req.setTimeout(ms, () => {
      if (req.complete) return;
      const res = f.res;
      f.closeConnection = true;
      if (!res.headersSent && !res.destroyed) {
        res.once('finish', () => req.destroy());
        this.problem(f, new ProblemError(408, 'body_timeout', `The request body paused for more than ${ms} ms.`));
      } else req.destroy();
    });
    req.once('end', () => req.setTimeout(0));
  }

  private exchange(owner: ExchangeOwner<Flight>, f: Flight, up: ResolvedUpstream, keep: number): void {
    f.up = up;
    f.target = up.name;
    const gate = up.gate;
    gate.acquire((ok) => {
      if (!ok) {
        f.closeConnection = bodyPending(f.req);
        this.problem(f, new SaturatedError(up.name));
        return;
      }
      if (f.res.destroyed) {
        gate.release();
        return;
      }
      const ex = new Exchange(owner, f.req, f.res, f.id, f, keep);
      const headers = f.headers(this.trustProxy);
      const traced = f.trace === null ? null : traceExchange(f.trace, f.method, up.name, up.origin, f.side, headers);
      ex.onSettled =
        traced === null
          ? () => gate.release()
          : () => {
              gate.release();
              traced.end(ex.statusCode);
            };
      ex.send(up.live, {
        method: f.method,
        path: up.basePath + f.url,
        headers: traced === null ? headers : traced.headers,
        body: f.body,
        timeoutMs: up.timeoutMs,
        ...(this.servedBy ? { servedBy: up.name } : {}),
      });
    });
  }

  private toMonolith(f: Flight): void {
    f.side = 'monolith';
    this.exchange(this.monolithSide, f, this.deps.upstreams.of(f.table!, f.table!.default), f.shadowWanted ? this.shadowCap : 0);
  }

  private fallBack(f: Flight, reason: string): void {
    const route = f.matched!;
    f.fallback = reason;
    this.deps.stats.of(route.id).fallbacks += 1;
    this.deps.metrics.fallback(route.id, f.up!.name, reason);
    this.toMonolith(f);
  }

  private toService(f: Flight, route: Route, mayFallback: boolean): void {
    const { upstreams, breakers, guard, metrics } = this.deps;
    const up = upstreams.of(f.table!, route.target);
    f.mayFallback = mayFallback;
    if (!breakers.for(up.name).allowRequest()) {
      // The service is failing on this route as far as the guard is concerned, too.
      guard.observe(route, 'error');
      f.up = up;
      if (mayFallback) {
        this.fallBack(f, 'breaker-open');
        return;
      }
      f.target = up.name;
      f.side = 'service';
      metrics.upstreamError(route.id, up.name, 'breaker-open');
      throw upstreamProblem('breaker-open', up.name);
    }
    f.side = 'service';
    this.exchange(this.serviceSide, f, up, 0);
  }

  /** The monolith's answer reached the client: the shadow copy goes to the service now. */
  private copyToService(f: Flight, ex: Exchange<Flight>): void {
    const { shadow, upstreams } = this.deps;
    const route = f.matched!;
    if (ex.kept === null) {
      f.shadow = false;
      shadow.skip(route, `monolith body over ${this.shadowCap} bytes`);
      return;
    }
    const url = f.url;
    f.shadow = shadow.copy(
      route,
      upstreams.of(f.table!, route.target),
      f.method,
      url,
      f.headers(this.trustProxy),
      { method: f.method, path: url.length > 512 ? url.slice(0, 512) : url, tenantId: f.identity?.workspaceId ?? null, requestId: f.id },
      sideResult(ex.statusCode, ex.rawHeaders!, ex.keptBody()),
      upstreams.of(f.table!, f.table!.default),
    );
  }

  /** Answers with the upstream failure as problem+json (or 413 when the body was cut). */
  private fail(f: Flight, up: ResolvedUpstream, error: unknown): void {
    const metrics = this.deps.metrics;
    if (f.bodyTooLarge) {
      metrics.upstreamError(f.route, up.name, 'body-too-large');
      f.closeConnection = true;
      this.problem(f, problems.payloadTooLarge(f.limit));
      return;
    }
    const kind = classifyUpstreamError(error);
    metrics.upstreamError(f.route, up.name, kind);
    this.problem(f, upstreamProblem(kind, up.name, up.timeoutMs, neverSent(error)));
  }

  /** An error as the platform's error handler answers it: problem+json, logged when a 5xx. */
  private problem(f: Flight, err: unknown): void {
    const res = f.res;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const { status, body } = toProblem(err);
    const log = this.deps.log;
    if (status >= 500) log.error({ reqId: f.id, err }, 'request failed');
    else if (!(err instanceof ProblemError)) log.info({ reqId: f.id, code: body.code, msg: (err as Error).message }, 'request rejected');
    const payload = JSON.stringify({ ...body, instance: f.path, requestId: f.id });
    const headers = ['x-request-id', f.id, 'content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, 'content-length', String(Buffer.byteLength(payload))];
    const retryAfter = (err as { retryAfterSec?: unknown }).retryAfterSec;
    if (typeof retryAfter === 'number') headers.push('retry-after', String(retryAfter));
    // A refusal before the body was read: the connection closes rather than read the rest.
    if (f.closeConnection || (status === 429 && bodyPending(f.req))) headers.push('connection', 'close');
    res.writeHead(status, headers);
    res.end(payload);
    this.done(f, status);
  }

  /** The response ended: metrics, route counters and the access log. */
  private done(f: Flight, status: number): void {
    const { metrics, stats } = this.deps;
    const ms = performance.now() - f.start;
    const trace = f.trace;
    if (trace !== null) trace.end(status, f.decided ? f.route : null);
    const seconds = ms / 1000;
    this.durationOf(f.method, status)?.(seconds);
    if (f.decided) {
      metrics.forRouteTarget(f.route, f.target).done(status, seconds);
      if (f.route !== DEFAULT_ROUTE_LABEL) {
        const c = stats.of(f.route);
        const l = f.side === 'service' ? c.latency.service : c.latency.monolith;
        if (f.side === 'service') c.service += 1;
        else c.monolith += 1;
        l.count += 1;
        l.totalMs += ms;
      }
    }
    const accessLog = this.deps.accessLog;
    if (accessLog) {
      const decided = f.decided;
      const ids = trace !== null ? trace.logFields : null;
      accessLog.write({
        reqId: f.id,
        method: f.method,
        url: f.url,
        status,
        ms: Math.round(ms * 100) / 100,
        route: decided ? f.route : null,
        target: decided ? f.target : null,
        side: decided ? f.side : null,
        reason: decided ? f.reason : 'rejected',
        fallback: decided ? f.fallback : null,
        shadow: decided && f.shadow,
        tenant: f.identity?.workspaceId,
        traceId: ids?.trace_id,
        spanId: ids?.span_id,
      });
    }
  }

  /** The platform histogram's child for (method, `/*`, status), made once. */
  private durationOf(method: string, status: number): ((seconds: number) => void) | undefined {
    const h = this.deps.httpDuration;
    if (!h) return undefined;
    const key = method + status;
    let child = this.durations.get(key);
    if (!child) {
      child = histogramChild(h, { method, route: ROUTE_PATTERN, status: String(status) });
      this.durations.set(key, child);
    }
    return child;
  }
}
