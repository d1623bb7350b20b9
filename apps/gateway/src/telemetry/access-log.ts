/**
 * The access log: one JSON line per proxied request, in the gateway logger's own format (its
 * level, time, bindings and message key, so a line reads like any other of the gateway's), with
 * fixed fields and no request headers or bodies.
 *
 * A proxied request is the gateway's hot path, and a line through pino (an object built, walked
 * and serialised, then one write system call) cost a sixth of the gateway's CPU per request. So
 * a line is put together here from its known fields (strings a client controls go through
 * JSON.stringify) and lines are written in batches through the logger's own destination: when
 * the next line would take a batch past 4 KiB, after at most `flushMs` (100 ms), when the
 * gateway closes, and when the process exits. 4 KiB is what a pipe writes at once (PIPE_BUF on
 * Linux): the gateway's workers share one stdout, and a larger write could interleave with
 * another worker's and split its lines. Other log lines are written at once, so an access line
 * can come up to `flushMs` after a line logged later; each carries its own time. A process
 * killed outright (SIGKILL, out of memory) loses the lines of its last `flushMs`.
 */
import pino, { type Logger } from 'pino';

/** The fields of one line (the proxy's decision about one request). */
export interface AccessLine {
  reqId: string;
  method: string;
  url: string;
  status: number;
  ms: number;
  /** Null when the request was rejected before routing (no route, target or side). */
  route: string | null;
  target: string | null;
  side: string | null;
  reason: string;
  fallback: string | null;
  shadow: boolean;
  tenant: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
}

interface Destination {
  write(chunk: string): unknown;
}

/** What the access log takes from a pino logger (its internals, as pino exports them in `pino.symbols`). */
interface PinoInternals {
  [key: symbol]: unknown;
}

/** PIPE_BUF on Linux: a write of at most this many bytes to a pipe is never interleaved with another. */
const BATCH_BYTES = 4096;

export class AccessLog {
  private buffer = '';
  private bufferBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onExit = () => this.flush();

  private constructor(
    private readonly destination: Destination,
    /** `{"level":30` */
    private readonly head: string,
    /** `,"time":"…"`, as the logger writes it. */
    private readonly time: () => string,
    /** The logger's bindings (pid, hostname, service, …), serialised: `,"pid":1,…`. */
    private readonly bindings: string,
    /** `,"msg":"request"}` and the line's end. */
    private readonly tail: string,
    private readonly flushMs: number,
  ) {
    process.on('exit', this.onExit);
  }

  /**
   * The access log of `logger`'s destination and bindings; undefined when the logger does not
   * write info lines. `logger` is a pino logger without custom formatters (as createLogger makes).
   */
  static of(logger: Logger, opts: { flushMs?: number } = {}): AccessLog | undefined {
    if (!logger.isLevelEnabled('info')) return undefined;
    const internals = logger as unknown as PinoInternals;
    const destination = internals[pino.symbols.streamSym] as Destination | undefined;
    const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
    const bindings = internals[pino.symbols.chindingsSym] as string | undefined;
    const messageKey = (internals[pino.symbols.messageKeySym] as string | undefined) ?? 'msg';
    if (!destination || typeof destination.write !== 'function' || typeof time !== 'function' || typeof bindings !== 'string') {
      throw new Error('the access log needs a pino logger (its destination, time function and bindings)');
    }
    const level = logger.levels.values['info'];
    return new AccessLog(destination, `{"level":${level}`, time, bindings, `,${JSON.stringify(messageKey)}:"request"}\n`, opts.flushMs ?? 100);
  }

  write(l: AccessLine): void {
    if (this.closed) return;
    let line = `${this.head}${this.time()}${this.bindings},"reqId":${JSON.stringify(l.reqId)},"method":${JSON.stringify(l.method)},"url":${JSON.stringify(l.url)},"status":${l.status},"ms":${l.ms}`;
    line += `,"route":${str(l.route)},"target":${str(l.target)},"side":${str(l.side)},"reason":${JSON.stringify(l.reason)}`;
    if (l.fallback) line += `,"fallback":${JSON.stringify(l.fallback)}`;
    if (l.shadow) line += ',"shadow":true';
    if (l.tenant !== undefined) line += `,"tenant":${JSON.stringify(l.tenant)}`;
    if (l.traceId !== undefined) line += `,"trace_id":${JSON.stringify(l.traceId)}`;
    if (l.spanId !== undefined) line += `,"span_id":${JSON.stringify(l.spanId)}`;
    line += this.tail;
    const bytes = Buffer.byteLength(line);
    if (this.bufferBytes + bytes > BATCH_BYTES) this.flush();
    this.buffer += line;
    this.bufferBytes += bytes;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes the lines gathered so far. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buffer === '') return;
    const batch = this.buffer;
    this.buffer = '';
    this.bufferBytes = 0;
    this.destination.write(batch);
  }

  /** Writes what is left and takes no more lines (the gateway closes). */
  close(): void {
    this.flush();
    this.closed = true;
    process.off('exit', this.onExit);
  }
}

function str(v: string | null): string {
  return v === null ? 'null' : JSON.stringify(v);
}
