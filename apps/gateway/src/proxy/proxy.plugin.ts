/**
 * The proxy: every request that is not the gateway's own (/healthz, /readyz, /metrics) is
 * matched against the route table in force, decided (@carve/shared-routing `decide`) and
 * forwarded with @fastify/reply-from over the keep-alive pools of `Upstreams`.
 *
 * - Bodies stream through (a catch-all content-type parser hands the raw request stream to
 *   reply-from); a declared Content-Length over the limit is refused with 413 before anything is
 *   sent upstream, a chunked body is counted as it streams and cut at the limit (413).
 * - Service side: the upstream's circuit breaker is asked first. GET/HEAD/OPTIONS without a
 *   body on a route with `fallback` are retried once on the monolith after a connection error,
 *   a timeout or a 5xx, or sent there directly while the breaker is open: the client sees the
 *   monolith's answer. Every other request is sent exactly once (reply-from's own retries are
 *   switched off), and a failure is a problem+json 502/503/504.
 * - Shadow: the copy starts alongside the monolith's request (see shadow.ts).
 * - Metrics per route and target, and one access-log line naming both, when the response ends.
 */
import { Transform, type Readable } from 'node:stream';
import replyFrom from '@fastify/reply-from';
import { decide, matchRoute, type Route, type RouteTable, type StringBag } from '@carve/shared-routing';
import { problems } from '@carve/shared-http';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config';
import type { Guard } from '../guard/guard';
import { clientResponseHeaders, upstreamRequestHeaders, type ForwardContext } from '../plugins/headers';
import { assertWorkspace, identityPlugin, pathWorkspace } from '../plugins/identity';
import { DEFAULT_ROUTE_LABEL, type GatewayMetrics } from '../plugins/metrics';
import type { RouteStats } from '../route-table/route-stats';
import type { RoutingState } from '../route-table/routing-state';
import type { ShadowCall, Shadower } from '../shadow/shadow';
import type { Breakers } from './breakers';
import { BodyTooLargeError, classifyUpstreamError, upstreamProblem } from './errors';
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

const EMPTY: StringBag = Object.freeze({});
/** Upstream bodies up to this size (with a Content-Length) are sent to the client in one write. */
const SMALL_BODY = 64 * 1024;
const NO_RETRY = () => null;

type FromOptions = NonNullable<Parameters<FastifyReply['from']>[1]>;
type OnResponse = NonNullable<FromOptions['onResponse']>;
type OnError = NonNullable<FromOptions['onError']>;
type AnyReply = Parameters<OnError>[0];
/** What reply-from hands onResponse (its type omits the headers). */
interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly stream: Readable;
}
const asReply = (r: AnyReply) => r as unknown as FastifyReply;
const asResponse = (r: unknown) => r as UpstreamResponse;

export const proxyPlugin: FastifyPluginAsync<ProxyDeps> = async (app: FastifyInstance, deps: ProxyDeps) => {
  const { config, routing, upstreams, breakers, metrics, shadow, guard, stats } = deps;
  const limit = config.bodyLimitBytes;

  await app.register(replyFrom, {
    undici: upstreams.live as unknown as { request: never },
    disableRequestLogging: true,
    // Paths carry tenant and resource ids: an LRU of 100 URLs would mostly miss and only cost.
    disableCache: true,
    retryMethods: [],
  });
  await app.register(identityPlugin, { auth: config.jwt, publicPaths: config.publicPaths });

  // Bodies are not parsed: whatever the content type, the raw stream goes to the upstream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.decorateRequest('carve', null);

  const forwardContext = (req: FastifyRequest): ForwardContext => ({
    identity: req.identity,
    requestId: req.id,
    clientIp: req.socket.remoteAddress,
    protocol: req.protocol,
    host: req.headers.host,
    trustProxy: config.trustProxy,
  });

  const rewriteRequestHeaders: FromOptions['rewriteRequestHeaders'] = (req, headers) =>
    upstreamRequestHeaders(headers, forwardContext(req as unknown as FastifyRequest));
  const rewriteHeaders: FromOptions['rewriteHeaders'] = (headers) => clientResponseHeaders(headers);

  function send(req: FastifyRequest, reply: FastifyReply, up: ResolvedUpstream, onResponse: OnResponse, onError: OnError): FastifyReply {
    return reply.from(up.origin + up.basePath + req.url, {
      timeout: up.timeoutMs,
      retryDelay: NO_RETRY,
      rewriteRequestHeaders,
      rewriteHeaders,
      onResponse,
      onError,
    });
  }

  /**
   * Sends the upstream's body to the client. A body of known length up to SMALL_BODY bytes is
   * collected and sent as one buffer: the status line, the headers and the body leave in one
   * write, and no stream pipeline is built for it. Anything else streams.
   */
  function relay(reply: FastifyReply, res: UpstreamResponse, info: ProxyInfo, up: ResolvedUpstream): void {
    const declared = res.headers['content-length'];
    const len = declared === undefined ? -1 : Number(declared);
    if (!(len > 0 && len <= SMALL_BODY) || reply.request.method === 'HEAD') {
      reply.send(res.stream);
      return;
    }
    const chunks: Buffer[] = [];
    const body = res.stream;
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.once('end', () => reply.send(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    body.once('error', (err) => {
      if (reply.sent) return;
      for (const name of Object.keys(reply.getHeaders())) if (name !== 'x-request-id') reply.removeHeader(name);
      fail(reply, info, up, err);
    });
  }

  /** Answers with the upstream failure as problem+json (or 413 when the body was cut). */
  function fail(reply: FastifyReply, info: ProxyInfo, up: ResolvedUpstream, error: unknown): void {
    if (info.bodyTooLarge) {
      metrics.upstreamError(info.route, up.name, 'body-too-large');
      reply.header('connection', 'close');
      reply.send(problems.payloadTooLarge(limit));
      return;
    }
    const kind = classifyUpstreamError(error);
    metrics.upstreamError(info.route, up.name, kind);
    reply.send(upstreamProblem(kind, up.name, up.timeoutMs));
  }

  function toMonolith(req: FastifyRequest, reply: FastifyReply, table: RouteTable, call: ShadowCall | null): FastifyReply {
    const up = upstreams.of(table, table.default);
    const info = req.carve!;
    info.target = up.name;
    info.side = 'monolith';
    const onResponse: OnResponse = call
      ? (_req, rep, raw) => {
          const res = asResponse(raw);
          rep.send(call.tapMonolith(res.statusCode, res.headers, res.stream));
        }
      : (_req, rep, raw) => relay(asReply(rep), asResponse(raw), info, up);
    return send(req, reply, up, onResponse, (rep, { error }) => {
      call?.monolithFailed();
      fail(asReply(rep), info, up, error);
    });
  }

  function toService(req: FastifyRequest, reply: FastifyReply, table: RouteTable, route: Route, mayFallback: boolean): FastifyReply {
    const up = upstreams.of(table, route.target);
    const breaker = breakers.for(up.name);
    const info = req.carve!;
    const counters = stats.of(route.id);
    const fallBack = (rep: FastifyReply, reason: string) => {
      info.fallback = reason;
      counters.fallbacks += 1;
      metrics.fallback(route.id, up.name, reason);
      return toMonolith(req, rep, table, null);
    };
    if (!breaker.allowRequest()) {
      // The service is failing on this route as far as the guard is concerned, too.
      guard.observe(route, 'error');
      if (mayFallback) return fallBack(reply, 'breaker-open');
      info.target = up.name;
      info.side = 'service';
      metrics.upstreamError(route.id, up.name, 'breaker-open');
      throw upstreamProblem('breaker-open', up.name);
    }
    info.target = up.name;
    info.side = 'service';
    return send(
      req,
      reply,
      up,
      (_req, rep, raw) => {
        const res = asResponse(raw);
        if (res.statusCode >= 500) {
          breaker.onFailure();
          guard.observe(route, 'error');
          counters.serviceErrors += 1;
          metrics.upstreamError(route.id, up.name, '5xx');
          if (mayFallback) {
            res.stream.resume();
            for (const name of Object.keys(rep.getHeaders())) if (name !== 'x-request-id') rep.removeHeader(name);
            fallBack(asReply(rep), 'service-5xx');
            return;
          }
        } else {
          breaker.onSuccess();
          guard.observe(route, 'ok');
        }
        relay(asReply(rep), res, info, up);
      },
      (r, { error }) => {
        const rep = asReply(r);
        if (info.bodyTooLarge) {
          fail(rep, info, up, error);
          return;
        }
        breaker.onFailure();
        guard.observe(route, 'error');
        counters.serviceErrors += 1;
        if (mayFallback && !rep.sent) {
          const kind = classifyUpstreamError(error);
          metrics.upstreamError(route.id, up.name, kind);
          fallBack(rep, kind === 'timeout' ? 'service-timeout' : 'service-unreachable');
          return;
        }
        fail(rep, info, up, error);
      },
    );
  }

  /** 413 for a declared length over the limit; a chunked body is counted as it streams. */
  function guardBody(req: FastifyRequest, reply: FastifyReply, info: ProxyInfo): boolean {
    const declared = req.headers['content-length'];
    if (declared !== undefined) {
      if (Number(declared) > limit) {
        reply.header('connection', 'close');
        throw problems.payloadTooLarge(limit);
      }
      return Number(declared) > 0;
    }
    const body = req.body as Readable | undefined;
    if (!body || typeof body.pipe !== 'function') return false;
    let seen = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        if (seen > limit) {
          info.bodyTooLarge = true;
          cb(new BodyTooLargeError(limit));
          return;
        }
        cb(null, chunk);
      },
    });
    body.on('error', (err) => counter.destroy(err));
    req.body = body.pipe(counter);
    return true;
  }

  // Not async: no promise per request. Fastify catches what a synchronous handler throws; it
  // must return undefined (a returned value would be sent as the payload).
  function handle(req: FastifyRequest, reply: FastifyReply): void {
    dispatch(req, reply);
  }

  function dispatch(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const table = routing.table;
    const url = req.url;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method;
    const identity = req.identity;
    const match = matchRoute(table, method, path, req.headers as StringBag, q < 0 ? EMPTY : (req.query as StringBag));
    if (identity) assertWorkspace(identity.workspaceId, pathWorkspace(match?.params, path));

    const info: ProxyInfo = {
      route: match ? match.route.id : DEFAULT_ROUTE_LABEL,
      target: table.default,
      side: 'monolith',
      reason: 'default',
      fallback: null,
      shadow: false,
      bodyTooLarge: false,
    };
    req.carve = info;
    const hasBody = guardBody(req, reply, info);
    if (!match) return toMonolith(req, reply, table, null);

    const route = match.route;
    const d = decide(route, {
      method,
      tenantId: identity?.workspaceId,
      userId: identity?.userId,
      role: identity?.role,
      headers: req.headers as StringBag,
    });
    info.reason = d.reason;
    if (d.primary === 'service') return toService(req, reply, table, route, d.fallback && !hasBody);

    let call: ShadowCall | null = null;
    if (d.shadow) {
      if (hasBody) shadow.skip(route, 'request has a body');
      else {
        const headers = upstreamRequestHeaders({ ...req.headers }, forwardContext(req)) as Record<string, unknown>;
        call = shadow.start(route, upstreams.of(table, route.target), method, url, headers, {
          method,
          path: url.length > 512 ? url.slice(0, 512) : url,
          tenantId: identity?.workspaceId ?? null,
          requestId: req.id,
        });
        info.shadow = call !== null;
      }
    }
    return toMonolith(req, reply, table, call);
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
