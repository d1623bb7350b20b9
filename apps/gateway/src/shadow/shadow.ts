/**
 * Shadow traffic: the monolith answers the client; a copy of the request goes to the service
 * and the two answers are compared.
 *
 * Off the client's path by construction:
 * - the copy is sent once the monolith's answer has reached the client (the proxy kept up to
 *   `maxBodyBytes` of that body as it relayed it): nothing of the copy, its answer or the
 *   comparison happens before the client has its response;
 * - the copy travels on its own undici Pool (own sockets) with its own timeout, so a slow or
 *   dead service never holds a socket or a timer the client's requests need;
 * - at most `maxInFlight` copies are outstanding per replica; beyond that a copy is dropped and
 *   counted as `skipped` (busy) rather than queued;
 * - the comparison runs on a later turn of the event loop (setImmediate, after pending I/O);
 *   two byte-identical answers with the same status and encoding are a match without parsing;
 * - only GET and HEAD are shadowed (the routing lib's decision; writes never are), and a
 *   request that carries a body is not copied.
 *
 * A comparison (status and JSON body, with the route's ignore paths, array keys and timestamp
 * tolerance) that finds differences counts as a mismatch for the route's metrics and guard, and
 * is kept as a sample: in memory (latest 10) and in the control plane (rate-limited per route).
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { type Comparison, compareResponses, type Route } from '@carve/shared-routing';
import type { Logger } from '@carve/shared-http';
import type { Dispatcher } from 'undici';
import type { Guard } from '../guard/guard';
import { rawHeader, SHADOW_HEADER } from '../plugins/headers';
import type { GatewayMetrics } from '../plugins/metrics';
import type { RouteStats } from '../route-table/route-stats';
import type { ResolvedUpstream } from '../proxy/upstreams';
import type { MismatchRecorder } from './mismatch-recorder';

export interface ShadowSettings {
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly maxInFlight: number;
}

/** One side's answer, as far as the comparison needs it. */
export interface SideResult {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly body: Buffer;
}

type Settled = { ok: true; value: SideResult } | { ok: false; kind: 'error' | 'skipped'; message: string };

export interface ShadowRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly tenantId: string | null;
  readonly requestId: string;
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotli = promisify(zlib.brotliDecompress);

/** The answer of a side from undici's raw headers. */
export function sideResult(status: number, rawHeaders: ReadonlyArray<Buffer | string>, body: Buffer): SideResult {
  return { status, contentType: rawHeader(rawHeaders, 'content-type'), contentEncoding: rawHeader(rawHeaders, 'content-encoding'), body };
}

/** The copy to the service: collects its answer (up to the cap), then hands both sides over. */
class ShadowCopy implements Dispatcher.DispatchHandler {
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private chunks: Buffer[] = [];
  private size = 0;
  private abort: ((err?: Error) => void) | null = null;
  private settled = false;

  constructor(
    private readonly shadower: Shadower,
    private readonly route: Route,
    private readonly info: ShadowRequestInfo,
    private readonly monolith: SideResult,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true;
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return true;
    this.size += chunk.length;
    const cap = this.shadower.settings.maxBodyBytes;
    if (this.size > cap) {
      this.settle({ ok: false, kind: 'skipped', message: `service body over ${cap} bytes` });
      this.abort?.(new Error('shadow: service body over the cap'));
      return true;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    const c = this.chunks;
    this.settle({ ok: true, value: sideResult(this.status, this.rawHeaders, c.length === 1 ? c[0] : Buffer.concat(c, this.size)) });
  }

  onError(err: Error & { code?: string }): void {
    const timedOut = err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT';
    this.settle({
      ok: false,
      kind: 'error',
      message: timedOut ? `timed out after ${this.shadower.settings.timeoutMs} ms` : `${err.code ?? err.name}: ${err.message}`,
    });
  }

  private settle(service: Settled): void {
    if (this.settled) return;
    this.settled = true;
    this.chunks = [];
    this.shadower.settled(this.route, this.info, this.monolith, service);
  }
}

export class Shadower {
  private inFlight = 0;

  constructor(
    readonly settings: ShadowSettings,
    private readonly metrics: GatewayMetrics,
    private readonly stats: RouteStats,
    private readonly guard: Guard,
    private readonly recorder: MismatchRecorder,
    readonly log: Logger,
  ) {}

  get outstanding(): number {
    return this.inFlight;
  }

  /**
   * Sends the copy of a request whose monolith answer reached the client (`monolith`), or
   * drops it and counts a skip when `maxInFlight` copies are already out (false). `headers`
   * are the upstream headers the monolith got (identity included); the copy is marked with
   * x-carve-shadow: 1 and carries no body.
   */
  copy(route: Route, upstream: ResolvedUpstream, method: string, url: string, headers: readonly string[], info: ShadowRequestInfo, monolith: SideResult): boolean {
    if (this.inFlight >= this.settings.maxInFlight) {
      this.skip(route, 'busy');
      return false;
    }
    this.inFlight += 1;
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i];
      if (name === 'content-length' || name === SHADOW_HEADER) continue;
      out.push(name, headers[i + 1]);
    }
    out.push(SHADOW_HEADER, '1');
    const t = this.settings.timeoutMs;
    upstream.shadow.dispatch(
      { path: upstream.basePath + url, method: method as Dispatcher.HttpMethod, headers: out, headersTimeout: t, bodyTimeout: t },
      new ShadowCopy(this, route, info, monolith),
    );
    return true;
  }

  /** @internal The copy is over: compare on a later turn of the event loop. */
  settled(route: Route, info: ShadowRequestInfo, monolith: SideResult, service: Settled): void {
    this.inFlight -= 1;
    setImmediate(() => {
      try {
        this.compare(route, info, monolith, service);
      } catch (err) {
        this.log.error({ err }, 'shadow: comparison failed');
      }
    });
  }

  skip(route: Route, why: string): void {
    this.metrics.shadowResult(route.id, 'skipped');
    this.stats.of(route.id).shadow.skipped += 1;
    this.log.debug({ route: route.id, why }, 'shadow: skipped');
  }

  /** @internal Runs once both sides are in (synchronously, unless a body must be decoded). */
  compare(route: Route, info: ShadowRequestInfo, monolith: SideResult, service: Settled): void {
    const counters = this.stats.of(route.id);
    if (!service.ok) {
      if (service.kind === 'skipped') {
        this.skip(route, service.message);
        return;
      }
      counters.shadow.error += 1;
      this.metrics.shadowResult(route.id, 'error');
      this.guard.observe(route, 'error');
      this.log.info({ route: route.id, requestId: info.requestId, error: service.message }, 'shadow: the service failed');
      return;
    }
    const s = service.value;
    if (s.status >= 500 && monolith.status < 500) {
      // The service broke where the monolith did not: an error for the guard, and a mismatch to look at.
      this.guard.observe(route, 'error');
    }
    if (identical(monolith, s)) {
      this.conclude(route, info, monolith, s, SAME);
      return;
    }
    Promise.all([decode(monolith), decode(s)])
      .then(([mb, sb]) => this.conclude(route, info, monolith, s, compareResponses({ status: monolith.status, body: mb }, { status: s.status, body: sb }, route.compare)))
      .catch((err) => this.log.error({ err }, 'shadow: comparison failed'));
  }

  private conclude(route: Route, info: ShadowRequestInfo, monolith: SideResult, service: SideResult, result: Comparison): void {
    const counters = this.stats.of(route.id);
    if (result.equal) {
      counters.shadow.match += 1;
      this.metrics.shadowResult(route.id, 'match');
      if (service.status < 500) this.guard.observe(route, 'ok');
      return;
    }
    counters.shadow.mismatch += 1;
    this.metrics.shadowResult(route.id, 'mismatch');
    if (service.status < 500 || monolith.status >= 500) this.guard.observe(route, 'mismatch');
    const sample = {
      at: new Date().toISOString(),
      request: info,
      monolithStatus: monolith.status,
      serviceStatus: service.status,
      differences: result.differences,
      truncated: result.truncated,
    };
    this.stats.addSample(route.id, sample);
    this.recorder.offer(route.id, sample);
    this.log.info(
      { route: route.id, requestId: info.requestId, differences: result.differences.length, first: result.differences[0]?.path },
      'shadow: mismatch',
    );
  }
}

const SAME: Comparison = { equal: true, differences: [], truncated: false };

/**
 * Same status, same encoding, same bytes: equal under any comparison rule (they all compare a
 * value with itself as equal), so the bodies need no decoding or parsing.
 */
function identical(m: SideResult, s: SideResult): boolean {
  return m.status === s.status && m.contentEncoding === s.contentEncoding && m.contentType === s.contentType && m.body.equals(s.body);
}

/** The body as a value to compare: parsed JSON when it is JSON, else text. */
async function decode(side: SideResult): Promise<unknown> {
  let body = side.body;
  const enc = side.contentEncoding?.toLowerCase();
  try {
    if (enc === 'gzip' || enc === 'x-gzip') body = await gunzip(body);
    else if (enc === 'deflate') body = await inflate(body);
    else if (enc === 'br') body = await brotli(body);
  } catch {
    return `<undecodable ${enc} body of ${body.length} bytes>`;
  }
  if (body.length === 0) return undefined;
  const text = body.toString('utf8');
  if (side.contentType === undefined || /[/+]json\b/i.test(side.contentType)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
