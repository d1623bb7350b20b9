/**
 * The proxy: every request that is not the gateway's own (GET/HEAD /healthz, /readyz,
 * /metrics) is authenticated, matched against the route table in force, decided
 * (@carve/shared-routing `decide`) and forwarded by the lean forwarder (forwarder.ts) over the
 * keep-alive pools of `Upstreams`.
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
 * - Bodies stream through; a declared Content-Length over the limit is refused with 413 before
 *   anything is sent upstream, a chunked body is counted as it streams and cut at the limit
 *   (413).
 * - Service side: the upstream's circuit breaker is asked first. GET/HEAD/OPTIONS without a
 *   body on a route with `fallback` are retried once on the monolith after a connection error,
 *   a timeout or a 5xx, or sent there directly while the breaker is open: the client sees the
 *   monolith's answer. Every other request is sent exactly once, and a failure is a
 *   problem+json 502/503/504.
 * - Shadow: the monolith's answer is relayed to the client while up to the shadow cap of its
 *   body is kept; once the client has it, the copy goes to the service (see shadow.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { Transform, type Readable } from 'node:stream';
import { decide, matchRoute, type Route, type RouteTable, type StringBag } from '@carve/shared-routing';
import { type Identity, type Logger, PROBLEM_CONTENT_TYPE, ProblemError, problems, toProblem } from '@carve/shared-http';
import type { Histogram } from 'prom-client';
import type { GatewayConfig } from '../config';
import type { Guard } from '../guard/guard';
import { upstreamRequestHeaders } from '../plugins/headers';
import { assertWorkspace, authenticator, pathWorkspace, type Authenticator } from '../plugins/identity';
import { DEFAULT_ROUTE_LABEL, type GatewayMetrics } from '../plugins/metrics';
import { histogramChild } from '../plugins/prom-fast';
import type { RouteStats } from '../route-table/route-stats';
import type { RoutingState } from '../route-table/routing-state';
import { type Shadower, sideResult } from '../shadow/shadow';
import type { Breakers } from './breakers';
import { BodyTooLargeError, classifyUpstreamError, upstreamProblem } from './errors';
import { Exchange, type ExchangeOwner } from './forwarder';
import type { ResolvedUpstream, Upstreams } from './upstreams';

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

/** The gateway's own paths (GET and HEAD), served by Fastify. */
const OWN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);
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

export class Proxy {
  /** Set when the server begins to close: every request is declined (Fastify answers 503). */
  closing = false;
  private readonly authenticate: Authenticator;
  private readonly limit: number;
  private readonly shadowCap: number;
  private readonly trustProxy: boolean;
  /**
   * The access log: a child of the gateway's logger without its redaction (a line holds no
   * headers, bodies or secrets: only the fields below), which halves the cost of a line.
   */
  private readonly accessLog: Logger | undefined;
  private readonly durations = new Map<string, (seconds: number) => void>();
  private readonly monolithSide: ExchangeOwner<Flight>;
  private readonly serviceSide: ExchangeOwner<Flight>;

  constructor(private readonly deps: ProxyDeps) {
    const { config, metrics, shadow, breakers, guard, stats } = deps;
    this.authenticate = authenticator({ auth: config.jwt, publicPaths: config.publicPaths });
    this.limit = config.bodyLimitBytes;
    this.shadowCap = config.shadow.maxBodyBytes;
    this.trustProxy = config.trustProxy;
    this.accessLog = config.accessLog ? deps.log.child({}, { redact: [] }) : undefined;

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

    /** The service's side: its breaker and the guard hear every outcome; reads may fall back. */
    this.serviceSide = {
      status: (ex, status) => {
        const f = ex.ctx;
        const up = f.up!;
        const route = f.matched!;
        if (status >= 500) {
          breakers.for(up.name).onFailure();
          guard.observe(route, 'error');
          stats.of(route.id).serviceErrors += 1;
          metrics.upstreamError(route.id, up.name, '5xx');
          if (f.mayFallback) {
            this.fallBack(f, 'service-5xx');
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
    const url = req.url ?? '';
    if (url.charCodeAt(0) !== 47 /* / */) return false;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && OWN_PATHS.has(path)) return false;
    const f = new Flight(req, res, this.deps.requestId(req), method, url, path, performance.now());
    try {
      this.route(f, q);
    } catch (err) {
      this.problem(f, err);
    }
    return true;
  }

  private route(f: Flight, q: number): void {
    const { routing, shadow } = this.deps;
    const req = f.req;
    const identity = (f.identity = this.authenticate(f.path, req.headers.authorization));
    const table = (f.table = routing.table);
    const match = matchRoute(table, f.method, f.path, req.headers as StringBag, q < 0 ? EMPTY : (parseQuery(f.url.slice(q + 1)) as StringBag));
    if (identity) assertWorkspace(identity.workspaceId, pathWorkspace(match?.params, f.path));

    const route = match ? match.route : null;
    f.decided = true;
    f.matched = route;
    f.target = table.default;
    if (route) f.route = route.id;
    const hasBody = this.guardBody(f);
    if (!route) {
      this.toMonolith(f);
      return;
    }

    const d = decide(route, {
      method: f.method,
      tenantId: identity?.workspaceId,
      userId: identity?.userId,
      role: identity?.role,
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

  /** 413 for a declared length over the limit; a chunked body is counted as it streams. */
  private guardBody(f: Flight): boolean {
    const req = f.req;
    const declared = req.headers['content-length'];
    const limit = this.limit;
    if (declared !== undefined) {
      const n = Number(declared);
      if (n > limit) {
        f.closeConnection = true;
        throw problems.payloadTooLarge(limit);
      }
      if (n > 0) {
        f.body = req;
        return true;
      }
      return false;
    }
    if (req.headers['transfer-encoding'] === undefined) return false;
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

  private exchange(owner: ExchangeOwner<Flight>, f: Flight, up: ResolvedUpstream, keep: number): void {
    f.up = up;
    f.target = up.name;
    new Exchange(owner, f.req, f.res, f.id, f, keep).send(up.live, {
      method: f.method,
      path: up.basePath + f.url,
      headers: f.headers(this.trustProxy),
      body: f.body,
      timeoutMs: up.timeoutMs,
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
    );
  }

  /** Answers with the upstream failure as problem+json (or 413 when the body was cut). */
  private fail(f: Flight, up: ResolvedUpstream, error: unknown): void {
    const metrics = this.deps.metrics;
    if (f.bodyTooLarge) {
      metrics.upstreamError(f.route, up.name, 'body-too-large');
      f.closeConnection = true;
      this.problem(f, problems.payloadTooLarge(this.limit));
      return;
    }
    const kind = classifyUpstreamError(error);
    metrics.upstreamError(f.route, up.name, kind);
    this.problem(f, upstreamProblem(kind, up.name, up.timeoutMs));
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
    if (f.closeConnection) headers.push('connection', 'close');
    res.writeHead(status, headers);
    res.end(payload);
    this.done(f, status);
  }

  /** The response ended: metrics, route counters and the access log. */
  private done(f: Flight, status: number): void {
    const { metrics, stats } = this.deps;
    const ms = performance.now() - f.start;
    const seconds = ms / 1000;
    this.durationOf(f.method, status)?.(seconds);
    if (f.decided) {
      metrics.forRouteTarget(f.route, f.target).done(status, seconds);
      if (f.route !== DEFAULT_ROUTE_LABEL) {
        const c = stats.of(f.route);
        if (f.side === 'service') c.service += 1;
        else c.monolith += 1;
      }
    }
    if (this.accessLog) {
      const info = f.decided ? f : null;
      this.accessLog.info(
        {
          reqId: f.id,
          method: f.method,
          url: f.url,
          status,
          ms: Math.round(ms * 100) / 100,
          route: info?.route ?? null,
          target: info?.target ?? null,
          side: info?.side ?? null,
          reason: info?.reason ?? 'rejected',
          ...(info?.fallback ? { fallback: info.fallback } : {}),
          ...(info?.shadow ? { shadow: true } : {}),
          tenant: f.identity?.workspaceId,
        },
        'request',
      );
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
