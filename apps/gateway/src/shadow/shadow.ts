/**
 * Shadow traffic: the monolith answers the client; a copy of the request goes to the service
 * and the two answers are compared.
 *
 * Off the hot path by construction:
 * - the copy travels on its own undici Agent (own sockets) with its own timeout, so a slow or
 *   dead service never holds a socket or a timer the client's request needs;
 * - at most `maxInFlight` copies are outstanding per replica; beyond that a copy is skipped
 *   (counted as `skipped`) rather than queued;
 * - the client's response is never held for the copy: the monolith's body streams to the client
 *   through a tap that keeps at most `maxBodyBytes` for the comparison; the comparison runs on
 *   a later turn of the event loop once both sides are complete;
 * - only GET and HEAD are shadowed (the routing lib's decision; writes never are), and a
 *   request that carries a body is not copied.
 *
 * A comparison (status and JSON body, with the route's ignore paths, array keys and timestamp
 * tolerance) that finds differences counts as a mismatch for the route's metrics and guard, and
 * is kept as a sample: in memory (latest 10) and in the control plane (rate-limited per route).
 */
import { Transform, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { compareResponses, type Route } from '@carve/shared-routing';
import type { Logger } from '@carve/shared-http';
import type { Agent } from 'undici';
import type { Guard } from '../guard/guard';
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
interface SideResult {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  /** null when the body passed the cap. */
  readonly body: Buffer | null;
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

/** A shadow copy in flight; the proxy hands it the monolith's side when it has it. */
export class ShadowCall {
  private service: Settled | undefined;
  private monolith: Settled | undefined;
  private finished = false;

  constructor(
    private readonly shadower: Shadower,
    readonly route: Route,
    readonly info: ShadowRequestInfo,
  ) {}

  /** @internal */
  settleService(s: Settled): void {
    this.service = s;
    this.maybeCompare();
  }

  /**
   * Wraps the monolith's response body: the client gets every byte as it comes; a copy of up
   * to maxBodyBytes is kept for the comparison.
   */
  tapMonolith(status: number, headers: Record<string, string | string[] | undefined>, body: Readable): Readable {
    const cap = this.shadower.settings.maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        if (!over) {
          size += chunk.length;
          if (size > cap) {
            over = true;
            chunks.length = 0;
          } else chunks.push(chunk);
        }
        cb(null, chunk);
      },
    });
    const header = (name: string) => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    tap.on('end', () => {
      this.monolith = over
        ? { ok: false, kind: 'skipped', message: `monolith body over ${cap} bytes` }
        : { ok: true, value: { status, contentType: header('content-type'), contentEncoding: header('content-encoding'), body: Buffer.concat(chunks) } };
      this.maybeCompare();
    });
    body.on('error', (err) => {
      tap.destroy(err);
      this.monolithFailed();
    });
    tap.on('error', () => this.monolithFailed());
    return body.pipe(tap);
  }

  /** The monolith failed or the client went away: nothing to compare. */
  monolithFailed(): void {
    if (this.monolith) return;
    this.monolith = { ok: false, kind: 'skipped', message: 'the monolith did not answer completely' };
    this.maybeCompare();
  }

  private maybeCompare(): void {
    if (this.finished || !this.service || !this.monolith) return;
    this.finished = true;
    const service = this.service;
    const monolith = this.monolith;
    setImmediate(() => {
      this.shadower.compare(this.route, this.info, monolith, service).catch((err) => this.shadower.log.error({ err }, 'shadow: comparison failed'));
    });
  }
}

export class Shadower {
  private inFlight = 0;

  constructor(
    readonly settings: ShadowSettings,
    private readonly agent: Agent,
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
   * Sends the copy (or counts a skip and returns null). `headers` are the upstream headers the
   * monolith gets (identity included); the copy is marked with x-carve-shadow: 1.
   */
  start(route: Route, upstream: ResolvedUpstream, method: string, url: string, headers: Record<string, unknown>, info: ShadowRequestInfo): ShadowCall | null {
    if (this.inFlight >= this.settings.maxInFlight) {
      this.skip(route, 'busy');
      return null;
    }
    const call = new ShadowCall(this, route, info);
    this.inFlight += 1;
    const signal = AbortSignal.timeout(this.settings.timeoutMs);
    const cap = this.settings.maxBodyBytes;
    const headersOut = { ...headers, host: new URL(upstream.origin).host, 'x-carve-shadow': '1' } as Record<string, string>;
    delete headersOut['content-length'];
    this.agent
      .request({
        origin: upstream.origin,
        path: upstream.basePath + url,
        method: method as 'GET' | 'HEAD',
        headers: headersOut,
        headersTimeout: this.settings.timeoutMs,
        bodyTimeout: this.settings.timeoutMs,
        signal,
      })
      .then(async (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > cap) {
            res.body.destroy();
            return call.settleService({ ok: false, kind: 'skipped', message: `service body over ${cap} bytes` });
          }
          chunks.push(chunk);
        }
        const h = res.headers;
        const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
        call.settleService({
          ok: true,
          value: { status: res.statusCode, contentType: one(h['content-type']), contentEncoding: one(h['content-encoding']), body: Buffer.concat(chunks) },
        });
      })
      .catch((err: Error & { code?: string }) => {
        call.settleService({ ok: false, kind: 'error', message: signal.aborted ? `timed out after ${this.settings.timeoutMs} ms` : `${err.code ?? err.name}: ${err.message}` });
      })
      .finally(() => {
        this.inFlight -= 1;
      });
    return call;
  }

  skip(route: Route, why: string): void {
    this.metrics.shadowResult(route.id, 'skipped');
    this.stats.of(route.id).shadow.skipped += 1;
    this.log.debug({ route: route.id, why }, 'shadow: skipped');
  }

  /** @internal Runs once both sides are in. */
  async compare(route: Route, info: ShadowRequestInfo, monolith: Settled, service: Settled): Promise<void> {
    const counters = this.stats.of(route.id);
    if (!monolith.ok) {
      this.skip(route, monolith.message);
      return;
    }
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
    if (service.value.status >= 500 && monolith.value.status < 500) {
      // The service broke where the monolith did not: an error for the guard, and a mismatch to look at.
      this.guard.observe(route, 'error');
    }
    const [m, s] = await Promise.all([decode(monolith.value), decode(service.value)]);
    const result = compareResponses({ status: monolith.value.status, body: m }, { status: service.value.status, body: s }, route.compare);
    if (result.equal) {
      counters.shadow.match += 1;
      this.metrics.shadowResult(route.id, 'match');
      if (service.value.status < 500) this.guard.observe(route, 'ok');
      return;
    }
    counters.shadow.mismatch += 1;
    this.metrics.shadowResult(route.id, 'mismatch');
    if (service.value.status < 500 || monolith.value.status >= 500) this.guard.observe(route, 'mismatch');
    const sample = {
      at: new Date().toISOString(),
      request: info,
      monolithStatus: monolith.value.status,
      serviceStatus: service.value.status,
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

/** The body as a value to compare: parsed JSON when it is JSON, else text. */
async function decode(side: SideResult): Promise<unknown> {
  let body = side.body ?? Buffer.alloc(0);
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
