/**
 * The lean forwarder: one request to one upstream over an undici Pool, through `dispatch` and
 * a handler object (no promise, no response stream, no header object per request), its answer
 * written straight into the client's raw response.
 *
 * - The request: method, path, the flat header list of headers.ts, and the body stream (or
 *   none), with the upstream's timeout for the headers and between body chunks.
 * - The answer: its status goes to the owner first, before anything reaches the client; the
 *   owner relays it, or drops it (the body is read and discarded; a fallback goes elsewhere).
 * - A body of known length up to SMALL_BODY bytes is collected and sent with the status line
 *   and headers in one write (and an error before its end can still become a clean problem);
 *   anything else (larger, no length, chunked) streams with backpressure: the upstream is paused
 *   while the client's socket is full, and aborted if the client goes away.
 * - Until the status line is written, the owner answers failures itself (problem+json). Once
 *   it is, a failure destroys the client's response (the client sees a cut answer, as from any
 *   proxy).
 * - For the shadow comparison, up to `keep` bytes of the relayed body are kept.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders } from '../edge/headers';

/** Upstream bodies of known length up to this size reach the client in one write. */
export const SMALL_BODY = 64 * 1024;

/** The answer's header naming the side that served it (config `servedByHeader`). */
export const SERVED_BY = 'x-carve-served-by';

export interface ExchangeOwner<C> {
  /**
   * The upstream answered `status` (1xx excepted); nothing reached the client yet. true: relay
   * the answer. false: drop it (its body is read and discarded); the owner answers the client
   * some other way.
   */
  status(ex: Exchange<C>, status: number): boolean;
  /**
   * The exchange failed. `relayed`: part of the answer had reached the client, whose response
   * has been destroyed, or the client had gone away (`ex.clientGone`); otherwise nothing reached
   * the client and the owner answers it.
   */
  failed(ex: Exchange<C>, err: Error, relayed: boolean): void;
  /** The answer reached the client whole (its response has ended). */
  finished(ex: Exchange<C>): void;
}

export interface ForwardRequest {
  readonly method: string;
  /** Path and query on the upstream (its base path included). */
  readonly path: string;
  /** Flat `[name, value, ...]` list (headers.ts). */
  readonly headers: string[];
  readonly body: Readable | null;
  /** Time allowed for the response headers, and between two body chunks. */
  readonly timeoutMs: number;
  /** When set, the answer carries `x-carve-served-by: <servedBy>` (the upstream's name). */
  readonly servedBy?: string;
}

const enum State {
  Waiting,
  Buffering,
  Streaming,
  Dropping,
  Done,
}

export class Exchange<C> implements Dispatcher.DispatchHandler {
  /** The upstream's status, once it answered. */
  statusCode = 0;
  /** The upstream's raw response headers, once it answered. */
  rawHeaders: Array<Buffer | string> | null = null;
  /** The client went away before the answer was relayed whole. */
  clientGone = false;
  /** Up to `keep` bytes of the body, for the comparison; null when there were more. */
  kept: Buffer[] | null = null;
  /** Called once when the upstream exchange is over (completed or failed): frees its slot. */
  onSettled: (() => void) | null = null;

  private state = State.Waiting;
  private abortUpstream: ((err: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private chunks: Buffer[] | null = null;
  private size = 0;
  private keptSize = 0;
  private hasBody = false;
  private clientHeaders: string[] | null = null;
  private servedBy: string | undefined;

  constructor(
    private readonly owner: ExchangeOwner<C>,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly requestId: string,
    /** The owner's own state for this exchange. */
    readonly ctx: C,
    private readonly keep = 0,
  ) {
    if (keep > 0) this.kept = [];
  }

  /** Sends the request on `pool`. */
  send(pool: Dispatcher, req: ForwardRequest): void {
    this.hasBody = req.body !== null;
    this.servedBy = req.servedBy;
    try {
      this.dispatch(pool, req);
    } catch (err) {
      this.onError(err as Error);
    }
  }

  private dispatch(pool: Dispatcher, req: ForwardRequest): void {
    pool.dispatch(
      {
        path: req.path,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: req.body,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      },
      this,
    );
  }

  /** The kept body as one buffer (empty when nothing was kept). */
  keptBody(): Buffer {
    const k = this.kept;
    return k === null || k.length === 0 ? Buffer.alloc(0) : k.length === 1 ? k[0] : Buffer.concat(k, this.keptSize);
  }

  // --- undici's dispatch handler --------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.statusCode = statusCode;
    this.rawHeaders = rawHeaders;
    this.resumeUpstream = resume;
    if (this.res.destroyed) {
      this.goneAway();
      return true;
    }
    if (!this.owner.status(this, statusCode)) {
      this.state = State.Dropping;
      return true;
    }
    const method = this.req.method;
    const out = (this.clientHeaders = clientResponseHeaders(rawHeaders, this.requestId));
    if (this.servedBy !== undefined) {
      for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === SERVED_BY) out.splice(i, 2);
      out.push(SERVED_BY, this.servedBy);
    }
    let len = -1;
    for (let i = 0; i < out.length; i += 2) {
      if (out[i] === 'content-length') {
        len = Number(out[i + 1]);
        break;
      }
    }
    if (method === 'HEAD' || statusCode === 204 || statusCode === 304 || (len >= 0 && len <= SMALL_BODY)) {
      this.state = State.Buffering;
      return true;
    }
    this.state = State.Streaming;
    this.open();
    this.res.flushHeaders();
    return true;
  }

  onData(chunk: Buffer): boolean {
    const state = this.state;
    if (state === State.Dropping || state === State.Done) return true;
    if (this.kept !== null) {
      this.keptSize += chunk.length;
      if (this.keptSize > this.keep) this.kept = null;
      else this.kept.push(chunk);
    }
    if (state === State.Buffering) {
      this.size += chunk.length;
      (this.chunks ??= []).push(chunk);
      if (this.size <= SMALL_BODY) return true;
      // More than the length said: stream from here on.
      this.state = State.Streaming;
      this.open();
      const buffered = this.chunks;
      this.chunks = null;
      for (let i = 0; i < buffered.length - 1; i++) this.res.write(buffered[i]);
      chunk = buffered[buffered.length - 1];
    }
    if (this.res.destroyed) {
      this.goneAway();
      return true;
    }
    if (this.res.write(chunk)) return true;
    this.waitForDrain();
    return false;
  }

  onComplete(): void {
    this.settle();
    const state = this.state;
    this.state = State.Done;
    if (state === State.Dropping || state === State.Done) return;
    if (state === State.Buffering) {
      this.open();
      const c = this.chunks;
      this.chunks = null;
      if (c === null) this.res.end();
      else this.res.end(c.length === 1 ? c[0] : Buffer.concat(c, this.size));
    } else this.res.end();
    this.owner.finished(this);
  }

  onError(err: Error): void {
    this.settle();
    const state = this.state;
    this.state = State.Done;
    this.chunks = null;
    if (state === State.Dropping) return;
    if (this.clientGone) {
      if (state !== State.Done) this.owner.failed(this, err, true);
      return;
    }
    if (state === State.Done) return;
    if (state === State.Streaming) {
      this.res.destroy();
      this.owner.failed(this, err, true);
      return;
    }
    this.owner.failed(this, err, false);
  }

  // --------------------------------------------------------------------------------------

  private settle(): void {
    const s = this.onSettled;
    if (s !== null) {
      this.onSettled = null;
      s();
    }
  }

  private open(): void {
    const headers = this.clientHeaders!;
    // The client's request body is not all read (the upstream answered early): this
    // connection cannot carry another request.
    if (this.hasBody && !this.req.complete) headers.push('connection', 'close');
    this.res.writeHead(this.statusCode, headers);
  }

  /** The client's socket is full: resume the upstream when it drains; abort it if the client goes. */
  private waitForDrain(): void {
    const res = this.res;
    if (res.destroyed) {
      this.goneAway();
      return;
    }
    const onDrain = () => {
      res.off('close', onClose);
      this.resumeUpstream?.();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      if (this.state !== State.Done) this.goneAway();
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  }

  private goneAway(): void {
    this.clientGone = true;
    const abort = this.abortUpstream;
    if (abort) abort(new Error('the client went away'));
  }
}
