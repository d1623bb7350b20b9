/**
 * Header hygiene between the client and the upstreams.
 *
 * Towards the upstream: hop-by-hop headers (RFC 9110 §7.6.1, plus the ones named in Connection,
 * which @fastify/reply-from drops before this runs) are removed; every incoming `x-carve-*`
 * header is removed, whatever the client claims; the gateway's own identity headers are added
 * from the verified token (`x-carve-tenant`, `x-carve-user`, `x-carve-role`), with
 * `x-request-id`; X-Forwarded-For / -Proto / -Host are set (kept from the caller only when the
 * gateway sits behind a trusted proxy).
 *
 * Towards the client: hop-by-hop headers of the upstream's response are removed.
 */
import type { Identity } from '@carve/shared-http';
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

export const CARVE_HEADER_PREFIX = 'x-carve-';
export const SHADOW_HEADER = 'x-carve-shadow';

export interface ForwardContext {
  readonly identity?: Identity;
  readonly requestId: string;
  readonly clientIp: string | undefined;
  readonly protocol: string;
  /** The Host the client asked for. */
  readonly host: string | undefined;
  readonly trustProxy: boolean;
}

/**
 * The headers to send upstream. `headers` is the caller's own copy (@fastify/reply-from makes
 * one per request): it is edited in place when it carries nothing to remove, which is the
 * common case, and filtered into a new object otherwise.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, ctx: ForwardContext): IncomingHttpHeaders {
  let out = headers;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || (name.charCodeAt(0) === 120 /* x */ && name.startsWith(CARVE_HEADER_PREFIX))) {
      out = {};
      for (const n of Object.keys(headers)) {
        if (HOP_BY_HOP.has(n) || (n.charCodeAt(0) === 120 && n.startsWith(CARVE_HEADER_PREFIX))) continue;
        out[n] = headers[n];
      }
      break;
    }
  }
  if (!ctx.trustProxy) {
    if (out['x-forwarded-for'] !== undefined) delete out['x-forwarded-for'];
    if (out['x-forwarded-proto'] !== undefined) delete out['x-forwarded-proto'];
    if (out['x-forwarded-host'] !== undefined) delete out['x-forwarded-host'];
    if (out.forwarded !== undefined) delete out.forwarded;
  }
  const prior = out['x-forwarded-for'];
  if (ctx.clientIp) out['x-forwarded-for'] = prior ? `${prior}, ${ctx.clientIp}` : ctx.clientIp;
  if (!out['x-forwarded-proto']) out['x-forwarded-proto'] = ctx.protocol;
  if (!out['x-forwarded-host'] && ctx.host) out['x-forwarded-host'] = ctx.host;
  out['x-request-id'] = ctx.requestId;
  const id = ctx.identity;
  if (id) {
    out['x-carve-tenant'] = id.workspaceId;
    out['x-carve-user'] = id.userId;
    out['x-carve-role'] = id.role;
  }
  return out;
}

/** The upstream response's headers without hop-by-hop ones (the same object when there are none). */
export function clientResponseHeaders<T extends Record<string, unknown>>(headers: T): T {
  let hop = false;
  for (const name of Object.keys(headers)) {
    if (HOP_BY_HOP.has(name)) {
      hop = true;
      break;
    }
  }
  if (!hop) return headers;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(headers)) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  return out as T;
}
