/**
 * Header hygiene between the client and the upstreams, as the flat `[name, value, ...]` lists
 * undici sends and node:http writes (no header object is built per request).
 *
 * Towards the upstream: hop-by-hop headers (RFC 9110 §7.6.1, and the ones the client names in
 * Connection) are removed; every incoming `x-carve-*` header is removed, whatever the client
 * claims; the gateway's own identity headers are added from the verified token
 * (`x-carve-tenant`, `x-carve-user`, `x-carve-role`), with `x-request-id`; X-Forwarded-For /
 * -Proto / -Host are set (kept from the caller only when the gateway sits behind a trusted
 * proxy). Host is the upstream's (undici sets it from the pool's origin), and Expect is not
 * forwarded (Node has already answered a `100-continue`).
 *
 * Towards the client: hop-by-hop headers of the upstream's response (and those its Connection
 * names) are removed, and `x-request-id` is the gateway's.
 */
import type { Identity } from '@carve/shared-http';
import type { IncomingHttpHeaders } from 'node:http';
import { util } from 'undici';

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
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
const REQUEST_ID = 'x-request-id';

/** Request headers never forwarded as the client sent them. */
const NOT_FORWARDED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'host', 'expect', REQUEST_ID]);
const FORWARDED: ReadonlySet<string> = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

export interface ForwardContext {
  readonly identity?: Identity;
  readonly requestId: string;
  readonly clientIp: string | undefined;
  readonly protocol: string;
  /** The Host the client asked for. */
  readonly host: string | undefined;
  readonly trustProxy: boolean;
}

const isCarveHeader = (name: string) => name.charCodeAt(0) === 120 /* x */ && name.startsWith(CARVE_HEADER_PREFIX);

/** The header names a Connection header lists (lower case), or null when it lists none that matter. */
function connectionNamed(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return null;
  let named: Set<string> | null = null;
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'keep-alive' || name === 'close') continue;
    (named ??= new Set()).add(name);
  }
  return named;
}

/** The headers to send upstream, as a flat `[name, value, ...]` list. */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, ctx: ForwardContext): string[] {
  const out: string[] = [];
  const named = headers.connection === undefined ? null : connectionNamed(headers.connection);
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || NOT_FORWARDED.has(name) || isCarveHeader(name) || (named !== null && named.has(name))) continue;
    if (FORWARDED.has(name)) {
      if (!ctx.trustProxy) continue;
      const v = Array.isArray(value) ? value.join(', ') : value;
      if (name === 'x-forwarded-for') xff = v;
      else if (name === 'x-forwarded-proto') xfp = v;
      else if (name === 'x-forwarded-host') xfh = v;
      else out.push(name, v);
      continue;
    }
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  const ip = ctx.clientIp;
  if (ip) out.push('x-forwarded-for', xff ? `${xff}, ${ip}` : ip);
  else if (xff) out.push('x-forwarded-for', xff);
  out.push('x-forwarded-proto', xfp || ctx.protocol);
  if (xfh || ctx.host) out.push('x-forwarded-host', (xfh || ctx.host)!);
  out.push(REQUEST_ID, ctx.requestId);
  const id = ctx.identity;
  if (id) out.push('x-carve-tenant', id.workspaceId, 'x-carve-user', id.userId, 'x-carve-role', id.role);
  return out;
}

/**
 * The upstream response's headers for the client (undici's raw header list: names and values
 * as Buffers or strings), hop-by-hop ones removed, with the gateway's `x-request-id`. Names come
 * out in lower case, values byte for byte (latin1 both ways).
 */
export function clientResponseHeaders(raw: ReadonlyArray<Buffer | string>, requestId: string): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = util.headerNameToString(raw[i]);
    const v = raw[i + 1];
    const value = typeof v === 'string' ? v : v.toString('latin1');
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') named = connectionNamed(value);
      continue;
    }
    if (name === REQUEST_ID) continue;
    out.push(name, value);
  }
  if (named !== null) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i])) out.splice(i, 2);
  }
  out.push(REQUEST_ID, requestId);
  return out;
}

/** The value of a header in a raw list (the first one), or undefined. */
export function rawHeader(raw: ReadonlyArray<Buffer | string>, name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (util.headerNameToString(raw[i]) === name) {
      const v = raw[i + 1];
      return typeof v === 'string' ? v : v.toString('latin1');
    }
  }
  return undefined;
}
