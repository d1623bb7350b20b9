/**
 * The proxy: every request that is not the gateway's own (/healthz, /readyz, /metrics) is
 * matched against the route table in force, decided (@carve/shared-routing `decide`) and
 * forwarded by the lean forwarder (forwarder.ts) over the keep-alive pools of `Upstreams`.
 *
 * - Bodies stream through (a catch-all content-type parser hands the raw request stream to the
 *   forwarder); a declared Content-Length over the limit is refused with 413 before anything is
 *   sent upstream, a chunked body is counted as it streams and cut at the limit (413).
 * - Service side: the upstream's circuit breaker is asked first. GET/HEAD/OPTIONS without a
 *   body on a route with `fallback` are retried once on the monolith after a connection error,
 *   a timeout or a 5xx, or sent there directly while the breaker is open: the client sees the
 *   monolith's answer. Every other request is sent exactly once, and a failure is a
 *   problem+json 502/503/504.
 * - Shadow: the monolith's answer is relayed to the client while up to the shadow cap of its
 *   body is kept; once the client has it, the copy goes to the service (see shadow.ts).
 * - Metrics per route and target, and one access-log line naming both, when the response ends.
 */
import { Transform, type Readable } from 'node:stream';
import { decide, matchRoute, type Route, type RouteTable, type StringBag } from '@carve/shared-routing';
import { problems } from '@carve/shared-http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config';
import type { Guard } from '../guard/guard';
import { upstreamRequestHeaders } from '../plugins/headers';
import { assertWorkspace, identityPlugin, pathWorkspace } from '../plugins/identity';
import { DEFAULT_ROUTE_LABEL, type GatewayMetrics } from '../plugins/metrics';
import type { RouteCounters, RouteStats } from '../route-table/route-stats';
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

declare module 'fastify' {
  interface FastifyRequest {
    carve: ProxyInfo | null;
  }
}

/** One proxied request: the decision (ProxyInfo) and what its exchanges need. */
class Flight implements ProxyInfo {
  target: string;
  side: 'monolith' | 'service' = 'monolith';
  reason = 'default';
  fallback: string | null = null;
  shadow = false;
  bodyTooLarge = false;
  /** The upstream of the exchange in progress. */
  up: ResolvedUpstream | null = null;
  /** Service side: may a failure be retried on the monolith? */
  mayFallback = false;
  /** The monolith's answer is to be compared with a copy sent to the service. */
  shadowWanted = false;
  body: Readable | null = null;
  private headerList: string[] | null = null;

  constructor(
    readonly req: FastifyRequest,
    readonly reply: FastifyReply,
    readonly table: RouteTable,
    readonly matched: Route | null,
    readonly route: string,
    private readonly trustProxy: boolean,
  ) {
    this.target = table.default;
  }

  /** The upstream request headers (built once: a fallback and a shadow copy reuse them). */
  headers(): string[] {
    if (this.headerList === null) {
      const req = this.req;
      this.headerList = upstreamRequestHeaders(req.headers, {
        identity: req.identity,
        requestId: req.id,
        clientIp: req.socket.remoteAddress,
        protocol: req.protocol,
        host: req.headers.host,
        trustProxy: this.trustProxy,
      });
    }
    return this.headerList;
  }
}

export const proxyPlugin: FastifyPluginAsync<ProxyDeps> = async (app: FastifyInstance, deps: ProxyDeps) => {
  const { config, routing, upstreams, breakers, metrics, shadow, guard, stats } = deps;
  const limit = config.bodyLimitBytes;
  const shadowCap = config.shadow.maxBodyBytes;

  await app.register(identityPlugin, { auth: config.jwt, publicPaths: config.publicPaths });

  // Bodies are not parsed: whatever the content type, the raw stream goes to the upstream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.decorateRequest('carve', null);

  function exchange(owner: ExchangeOwner<Flight>, f: Flight, up: ResolvedUpstream, keep: number): void {
    f.up = up;
    f.target = up.name;
    const req = f.req;
    new Exchange(owner, f.reply, req.id, f, keep).send(up.live, {
      method: req.method,
      path: up.basePath + req.url,
      headers: f.headers(),
      body: f.body,
      timeoutMs: up.timeoutMs,
    });
  }

  /** Answers with the upstream failure as problem+json (or 413 when the body was cut). */
  function fail(f: Flight, up: ResolvedUpstream, error: unknown): void {
    const reply = f.reply;
    if (f.bodyTooLarge) {
      metrics.upstreamError(f.route, up.name, 'body-too-large');
      reply.header('connection', 'close');
      reply.send(problems.payloadTooLarge(limit));
      return;
    }
    const kind = classifyUpstreamError(error);
    metrics.upstreamError(f.route, up.name, kind);
    reply.send(upstreamProblem(kind, up.name, up.timeoutMs));
  }

  /** The monolith's side: relayed as it comes; kept for the comparison when shadowed. */
  const monolithSide: ExchangeOwner<Flight> = {
    status: () => true,
    failed(ex, err, relayed) {
      const f = ex.ctx;
      if (f.shadowWanted) {
        f.shadow = false;
        shadow.skip(f.matched!, 'the monolith did not answer completely');
      }
      if (ex.clientGone) return;
      if (relayed) metrics.upstreamError(f.route, f.up!.name, classifyUpstreamError(err));
      else fail(f, f.up!, err);
    },
    finished(ex) {
      const f = ex.ctx;
      if (!f.shadowWanted) return;
      const route = f.matched!;
      if (ex.kept === null) {
        f.shadow = false;
        shadow.skip(route, `monolith body over ${shadowCap} bytes`);
        return;
      }
      const req = f.req;
      const url = req.url;
      f.shadow = shadow.copy(route, upstreams.of(f.table, route.target), req.method, url, f.headers(), {
        method: req.method,
        path: url.length > 512 ? url.slice(0, 512) : url,
        tenantId: req.identity?.workspaceId ?? null,
        requestId: req.id,
      }, sideResult(ex.statusCode, ex.rawHeaders!, ex.keptBody()));
    },
  };

  function toMonolith(f: Flight): void {
    f.side = 'monolith';
    exchange(monolithSide, f, upstreams.of(f.table, f.table.default), f.shadowWanted ? shadowCap : 0);
  }

  function fallBack(f: Flight, reason: string): void {
    const route = f.matched!;
    f.fallback = reason;
    stats.of(route.id).fallbacks += 1;
    metrics.fallback(route.id, f.up!.name, reason);
    toMonolith(f);
  }

  const countersOf = (f: Flight): RouteCounters => stats.of(f.matched!.id);

  /** The service's side: its breaker and the guard hear every outcome; reads may fall back. */
  const serviceSide: ExchangeOwner<Flight> = {
    status(ex, status) {
      const f = ex.ctx;
      const up = f.up!;
      const route = f.matched!;
      if (status >= 500) {
        breakers.for(up.name).onFailure();
        guard.observe(route, 'error');
        countersOf(f).serviceErrors += 1;
        metrics.upstreamError(route.id, up.name, '5xx');
        if (f.mayFallback) {
          fallBack(f, 'service-5xx');
          return false;
        }
        return true;
      }
      breakers.for(up.name).onSuccess();
      guard.observe(route, 'ok');
      return true;
    },
    failed(ex, err, relayed) {
      const f = ex.ctx;
      const up = f.up!;
      if (ex.clientGone) return;
      if (f.bodyTooLarge) {
        fail(f, up, err);
        return;
      }
      const route = f.matched!;
      breakers.for(up.name).onFailure();
      guard.observe(route, 'error');
      countersOf(f).serviceErrors += 1;
      const kind = classifyUpstreamError(err);
      if (relayed) {
        metrics.upstreamError(route.id, up.name, kind);
        return;
      }
      if (f.mayFallback) {
        metrics.upstreamError(route.id, up.name, kind);
        fallBack(f, kind === 'timeout' ? 'service-timeout' : 'service-unreachable');
        return;
      }
      fail(f, up, err);
    },
    finished: () => undefined,
  };

  function toService(f: Flight, route: Route, mayFallback: boolean): void {
    const up = upstreams.of(f.table, route.target);
    const breaker = breakers.for(up.name);
    f.mayFallback = mayFallback;
    if (!breaker.allowRequest()) {
      // The service is failing on this route as far as the guard is concerned, too.
      guard.observe(route, 'error');
      f.up = up;
      if (mayFallback) {
        fallBack(f, 'breaker-open');
        return;
      }
      f.target = up.name;
      f.side = 'service';
      metrics.upstreamError(route.id, up.name, 'breaker-open');
      throw upstreamProblem('breaker-open', up.name);
    }
    f.side = 'service';
    exchange(serviceSide, f, up, 0);
  }

  /** 413 for a declared length over the limit; a chunked body is counted as it streams. */
  function guardBody(req: FastifyRequest, f: Flight): boolean {
    const declared = req.headers['content-length'];
    const body = req.body as Readable | undefined;
    const stream = body && typeof body.pipe === 'function' ? body : null;
    if (declared !== undefined) {
      if (Number(declared) > limit) {
        f.reply.header('connection', 'close');
        throw problems.payloadTooLarge(limit);
      }
      if (Number(declared) > 0) {
        f.body = stream;
        return true;
      }
      return false;
    }
    if (!stream) return false;
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
    stream.on('error', (err) => counter.destroy(err));
    f.body = stream.pipe(counter);
    return true;
  }

  // Not async: no promise per request. Fastify catches what a synchronous handler throws; it
  // must return undefined (a returned value would be sent as the payload).
  function handle(req: FastifyRequest, reply: FastifyReply): void {
    const table = routing.table;
    const url = req.url;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method;
    const identity = req.identity;
    const match = matchRoute(table, method, path, req.headers as StringBag, q < 0 ? EMPTY : (req.query as StringBag));
    if (identity) assertWorkspace(identity.workspaceId, pathWorkspace(match?.params, path));

    const route = match ? match.route : null;
    const f = new Flight(req, reply, table, route, route ? route.id : DEFAULT_ROUTE_LABEL, config.trustProxy);
    req.carve = f;
    const hasBody = guardBody(req, f);
    if (!route) {
      toMonolith(f);
      return;
    }

    const d = decide(route, {
      method,
      tenantId: identity?.workspaceId,
      userId: identity?.userId,
      role: identity?.role,
      headers: req.headers as StringBag,
    });
    f.reason = d.reason;
    if (d.primary === 'service') {
      toService(f, route, d.fallback && !hasBody);
      return;
    }
    if (d.shadow) {
      if (hasBody) shadow.skip(route, 'request has a body');
      else f.shadowWanted = f.shadow = true;
    }
    toMonolith(f);
  }

  app.all('/*', handle);

  app.addHook('onResponse', (req, reply, done) => {
    const info = req.carve;
    const status = reply.statusCode;
    if (info) {
      metrics.forRouteTarget(info.route, info.target).done(status, reply.elapsedTime / 1000);
      if (info.route !== DEFAULT_ROUTE_LABEL) {
        const c = stats.of(info.route);
        if (info.side === 'service') c.service += 1;
        else c.monolith += 1;
      }
    }
    if (config.accessLog) {
      req.log.info(
        {
          method: req.method,
          url: req.url,
          status,
          ms: Math.round(reply.elapsedTime * 100) / 100,
          route: info?.route ?? null,
          target: info?.target ?? null,
          side: info?.side ?? null,
          reason: info?.reason ?? 'rejected',
          ...(info?.fallback ? { fallback: info.fallback } : {}),
          ...(info?.shadow ? { shadow: true } : {}),
          tenant: req.identity?.workspaceId,
        },
        'request',
      );
    }
    done();
  });
};

const EMPTY: StringBag = Object.freeze({});
