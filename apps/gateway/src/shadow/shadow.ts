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
 *
 * Noise baseline: on a share `compare.noiseSample` of a route's shadowed GET and HEAD requests
 * the monolith is asked a second time; the field paths where its two answers differ are noise
 * on the route (noise.ts). A comparison whose differences are all at noise paths (a status
 * difference never is) counts as `noise`: the guard sees it as a match, and it is neither a
 * mismatch nor stored.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { type Comparison, compareResponses, differencePaths, type Route, withoutNoise } from '@carve/shared-routing';
import type { MismatchBodies } from '@carve/shared-control-plane';
import type { Logger } from '@carve/shared-http';
import type { Dispatcher } from 'undici';
import type { Guard } from '../guard/guard';
import { rawHeader, SHADOW_HEADER } from '../edge/headers';
import type { GatewayMetrics } from '../telemetry/metrics';
import type { RouteStats } from '../route-table/route-stats';
import type { ResolvedUpstream } from '../proxy/upstreams';
import type { MismatchRecorder } from './mismatch-recorder';
import type { NoiseBaseline } from './noise';

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

/** A copy of the request: collects its answer (up to the cap), then hands it to `done`. */
class ShadowCopy implements Dispatcher.DispatchHandler {
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private chunks: Buffer[] = [];
  private size = 0;
  private abort: ((err?: Error) => void) | null = null;
  private settled = false;

  constructor(
    private readonly settings: ShadowSettings,
    private readonly done: (result: Settled) => void,
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
    const cap = this.settings.maxBodyBytes;
    if (this.size > cap) {
      this.settle({ ok: false, kind: 'skipped', message: `body over ${cap} bytes` });
      this.abort?.(new Error('shadow: body over the cap'));
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
      message: timedOut ? `timed out after ${this.settings.timeoutMs} ms` : `${err.code ?? err.name}: ${err.message}`,
    });
  }

  private settle(service: Settled): void {
    if (this.settled) return;
    this.settled = true;
    this.chunks = [];
    this.done(service);
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
    private readonly noise: NoiseBaseline,
  ) {}

  get outstanding(): number {
    return this.inFlight;
  }

  /**
   * Sends the copy of a request whose monolith answer reached the client (`monolith`), or
   * drops it and counts a skip when `maxInFlight` copies are already out (false). `headers`
   * are the upstream headers the monolith got (identity included); the copy is marked with
   * x-carve-shadow: 1 and carries no body.
   *
   * On a share `compare.noiseSample` of the route's GET and HEAD requests, the same copy goes
   * to the monolith (`monolithUpstream`) too: the differences between its two answers are
   * learned as noise before the service's answer is compared.
   */
  copy(
    route: Route,
    upstream: ResolvedUpstream,
    method: string,
    url: string,
    headers: readonly string[],
    info: ShadowRequestInfo,
    monolith: SideResult,
    monolithUpstream?: ResolvedUpstream,
  ): boolean {
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
    const send = (to: ResolvedUpstream, done: (r: Settled) => void) =>
      to.shadow.dispatch(
        { path: to.basePath + url, method: method as Dispatcher.HttpMethod, headers: out, headersTimeout: t, bodyTimeout: t },
        new ShadowCopy(this.settings, done),
      );
    const probe = monolithUpstream !== undefined && (method === 'GET' || method === 'HEAD') && route.compare.noiseSample > 0 && Math.random() < route.compare.noiseSample;
    // Both answers in (or the service's alone when there is no probe): compare.
    let service: Settled | undefined;
    let again: Settled | null | undefined = probe ? undefined : null;
    const joined = () => {
      if (service !== undefined && again !== undefined) this.settled(route, info, monolith, service, again);
    };
    const sent = performance.now();
    send(upstream, (r) => {
      if (r.ok) {
        const l = this.stats.of(route.id).latency.shadow;
        l.count += 1;
        l.totalMs += performance.now() - sent;
      }
      service = r;
      joined();
    });
    if (probe) {
      send(monolithUpstream, (r) => {
        again = r;
        joined();
      });
    }
    return true;
  }

  /** @internal The copies are over: compare on a later turn of the event loop. */
  settled(route: Route, info: ShadowRequestInfo, monolith: SideResult, service: Settled, again: Settled | null = null): void {
    this.inFlight -= 1;
    setImmediate(() => {
      try {
        this.compare(route, info, monolith, service, again);
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

  /**
   * @internal Runs once both sides are in (synchronously, unless a body must be decoded).
   * `again`, the monolith's second answer of a noise probe, is learned from first.
   */
  compare(route: Route, info: ShadowRequestInfo, monolith: SideResult, service: Settled, again: Settled | null = null): void {
    if (again?.ok) {
      this.learnNoise(route, monolith, again.value)
        .then(() => this.compareService(route, info, monolith, service))
        .catch((err) => this.log.error({ err }, 'shadow: comparison failed'));
      return;
    }
    this.compareService(route, info, monolith, service);
  }

  /** Two answers of the monolith to one request: where they differ is noise on this route. */
  private async learnNoise(route: Route, first: SideResult, second: SideResult): Promise<void> {
    if (identical(first, second)) return;
    const [a, b] = await Promise.all([decode(first), decode(second)]);
    const r = compareResponses({ status: first.status, body: a }, { status: second.status, body: b }, route.compare);
    this.noise.learn(route.id, differencePaths(r.differences.filter((d) => d.kind !== 'status')));
  }

  private compareService(route: Route, info: ShadowRequestInfo, monolith: SideResult, service: Settled): void {
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
      .then(([mb, sb]) => this.conclude(route, info, monolith, s, compareResponses({ status: monolith.status, body: mb }, { status: s.status, body: sb }, route.compare), { monolith: mb, service: sb }))
      .catch((err) => this.log.error({ err }, 'shadow: comparison failed'));
  }

  private conclude(route: Route, info: ShadowRequestInfo, monolith: SideResult, service: SideResult, compared: Comparison, bodies?: MismatchBodies): void {
    const counters = this.stats.of(route.id);
    const result = withoutNoise(compared, this.noise.paths(route.id));
    if (result.equal && result.noisy > 0) {
      // Differences only where the monolith differs from itself: not a mismatch, not stored.
      counters.shadow.noise += 1;
      this.metrics.shadowResult(route.id, 'noise');
      if (service.status < 500) this.guard.observe(route, 'ok');
      return;
    }
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
      paths: differencePaths(result.differences),
      bodies: bodies && keepable(bodies) ? bodies : null,
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

/** Both bodies of a mismatch are stored with it (for the console) when together they are at most this many bytes of JSON. */
const KEEP_BODIES_BYTES = 64 * 1024;

function keepable(bodies: MismatchBodies): boolean {
  try {
    return Buffer.byteLength(JSON.stringify(bodies) ?? '') <= KEEP_BODIES_BYTES;
  } catch {
    return false;
  }
}

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
