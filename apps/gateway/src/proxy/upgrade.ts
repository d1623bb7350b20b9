/**
 * WebSocket (`Upgrade: websocket`) pass-through, per route and opt-in (`websocket: true` in the
 * route table). An upgrade request is authenticated like any other (a bearer token under
 * /api/, the path's workspace the token's), counted by the tenant limits (the connection holds a
 * concurrency slot until it closes), matched as a GET, and decided by the route's mode: the
 * service or the monolith answers, a canary by tenant included (shadow mode: the monolith; a
 * connection is never copied). The gateway then relays the upstream's handshake answer and
 * joins the two sockets.
 *
 * Refusals are problem+json on the raw socket, then it is closed: 400 `upgrade_not_allowed`
 * (not a WebSocket upgrade, or the route does not take them), the 401/403/429 of the token,
 * the workspace and the limits, 502 when the upstream cannot be reached.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { parse as parseQuery } from 'node:querystring';
import { canonicalTarget, decide, matchRoute, type Route, type RouteTable, type StringBag } from '@carve/shared-routing';
import { type Identity, type Logger, PROBLEM_CONTENT_TYPE, ProblemError, problems, toProblem } from '@carve/shared-http';
import type { RoutingState } from '../route-table/routing-state';
import { upstreamRequestHeaders } from '../edge/headers';
import { assertWorkspace, type Authenticator, pathWorkspace } from '../edge/identity';
import { TenantLimiter } from '../limits/tenant-limiter';
import type { Upstreams } from './upstreams';

export interface UpgradeDeps {
  readonly routing: RoutingState;
  readonly upstreams: Upstreams;
  readonly authenticate: Authenticator;
  readonly limiter?: TenantLimiter;
  readonly trustProxy: boolean;
  readonly requestId: (req: http.IncomingMessage) => string;
  readonly log: Logger;
  /** Time allowed for the upstream's handshake answer (ms). */
  readonly handshakeTimeoutMs: number;
}

/** Writes a problem as a raw HTTP/1.1 answer and closes the socket. */
function refuse(socket: Duplex, err: unknown, path: string, requestId: string): void {
  if (socket.destroyed) return;
  const { status, body } = toProblem(err);
  const payload = JSON.stringify({ ...body, instance: path, requestId });
  const retryAfter = (err as { retryAfterSec?: unknown }).retryAfterSec;
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n` +
      `x-request-id: ${requestId}\r\n${typeof retryAfter === 'number' ? `retry-after: ${retryAfter}\r\n` : ''}connection: close\r\n\r\n${payload}`,
  );
}

function rawHeaderLines(raw: string[]): string {
  let out = '';
  for (let i = 0; i < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return out;
}

export class UpgradeProxy {
  /** Client sockets of upgrade requests (the HTTP server no longer tracks them). */
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly deps: UpgradeDeps) {}

  /** The proxy port server's 'upgrade' listener. */
  handle(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const id = this.deps.requestId(req);
    const raw = req.url ?? '/';
    // The one canonical path, as for every other request (see proxy.ts): identity, matching,
    // the workspace check and the upstream all see it.
    const canonical = raw.charCodeAt(0) === 47 ? canonicalTarget(raw) : null;
    const url = canonical?.ok ? canonical.url : raw;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    socket.on('error', () => socket.destroy());
    try {
      if (canonical && !canonical.ok) throw problems.badRequest('bad_path', `${canonical.detail} (${canonical.refusal})`);
      if (url !== raw) req.url = url;
      if (url.charCodeAt(0) !== 47 || String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || req.method !== 'GET') {
        throw new ProblemError(400, 'upgrade_not_allowed', 'Only WebSocket upgrades of GET requests are passed through.');
      }
      const identity = this.deps.authenticate(path, req.headers.authorization);
      if (identity instanceof Promise) {
        identity.then((i) => this.route(req, socket, head, id, url, path, q, i)).catch((err: unknown) => refuse(socket, err, path, id));
        return;
      }
      this.route(req, socket, head, id, url, path, q, identity);
    } catch (err) {
      refuse(socket, err, path, id);
    }
  }

  private route(req: http.IncomingMessage, socket: Duplex, head: Buffer, id: string, url: string, path: string, q: number, identity: Identity | undefined): void {
    try {
      const { routing, limiter } = this.deps;
      const table = routing.table;
      const match = matchRoute(table, 'GET', path, req.headers as StringBag, q < 0 ? {} : (parseQuery(url.slice(q + 1)) as StringBag));
      if (identity) assertWorkspace(identity.workspaceId, pathWorkspace(match?.params, path));
      const route = match?.route;
      if (!route || !route.websocket) throw new ProblemError(400, 'upgrade_not_allowed', `No route takes WebSocket upgrades on ${path}.`);
      if (limiter) {
        const tenant = TenantLimiter.tenantKey(identity?.workspaceId, req.socket.remoteAddress);
        const release = limiter.enter(tenant, route);
        if (release) socket.once('close', release);
        const wait = limiter.rate(tenant, route);
        if (typeof wait !== 'number') {
          wait
            .then((w) => {
              if (w > 0) throw TenantLimiter.rateLimited(w);
              this.connect(req, socket, head, id, url, path, identity, table, route);
            })
            .catch((err: unknown) => refuse(socket, err, path, id));
          return;
        }
        if (wait > 0) throw TenantLimiter.rateLimited(wait);
      }
      this.connect(req, socket, head, id, url, path, identity, table, route);
    } catch (err) {
      refuse(socket, err, path, id);
    }
  }

  /** The route's mode decides the side (a canary by tenant included). */
  private connect(req: http.IncomingMessage, socket: Duplex, head: Buffer, id: string, url: string, path: string, identity: Identity | undefined, table: RouteTable, route: Route): void {
    const d = decide(route, { method: 'GET', tenantId: identity?.workspaceId, userId: identity?.userId, role: identity?.role, operator: identity?.operator === true, headers: req.headers as StringBag });
    const up = this.deps.upstreams.of(table, d.primary === 'service' ? route.target : table.default);
    this.join(req, socket, head, id, up.origin, up.basePath + url, identity, path);
  }

  /** Closes every WebSocket connection (the gateway is shutting down). */
  close(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Sends the handshake upstream, relays its answer, and joins the sockets on 101. */
  private join(req: http.IncomingMessage, socket: Duplex, head: Buffer, id: string, origin: string, upstreamPath: string, identity: Identity | undefined, path: string): void {
    const flat = upstreamRequestHeaders(req.headers, {
      identity,
      requestId: id,
      clientIp: req.socket.remoteAddress,
      protocol: (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      host: req.headers.host,
      trustProxy: this.deps.trustProxy,
    });
    const headers: Array<[string, string]> = [];
    for (let i = 0; i < flat.length; i += 2) headers.push([flat[i], flat[i + 1]]);
    headers.push(['connection', 'Upgrade'], ['upgrade', 'websocket']);
    const o = new URL(origin);
    const client = o.protocol === 'https:' ? https : http;
    const upReq = client.request({
      host: o.hostname,
      port: o.port || (o.protocol === 'https:' ? 443 : 80),
      method: 'GET',
      path: upstreamPath,
      headers: headers.flat(),
      agent: false,
      timeout: this.deps.handshakeTimeoutMs,
    });
    upReq.on('timeout', () => upReq.destroy(new ProblemError(504, 'upstream_timeout', 'The upstream did not answer the WebSocket handshake in time.')));
    upReq.on('error', (err) => refuse(socket, err instanceof ProblemError ? err : new ProblemError(502, 'upstream_unavailable', 'The upstream could not be reached.'), path, id));
    socket.once('close', () => upReq.destroy());
    upReq.on('response', (res) => {
      // No upgrade: relay the upstream's answer (its body whole), then close.
      const pairs: string[] = [];
      const raw = res.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) if (!/^(connection|transfer-encoding|keep-alive|content-length)$/i.test(raw[i])) pairs.push(raw[i], raw[i + 1]);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n${rawHeaderLines(pairs)}content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
        socket.end(Buffer.concat([Buffer.from(head), body]));
      });
    });
    upReq.on('upgrade', (res, upSocket, upHead) => {
      if (socket.destroyed) {
        upSocket.destroy();
        return;
      }
      socket.write(`HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}\r\n${rawHeaderLines(res.rawHeaders)}\r\n`);
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on('error', () => socket.destroy());
      socket.on('error', () => upSocket.destroy());
      upSocket.on('close', () => socket.destroy());
      socket.on('close', () => upSocket.destroy());
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });
    upReq.end();
  }
}
