/**
 * The proxy's spans (tracing on; @carve/shared-http tracing.ts): a server span per proxied
 * request, child of the client's `traceparent` when it sent one, and a client span per exchange
 * with an upstream (a fallback or a retry is a second one), whose context replaces the client's
 * `traceparent` / `tracestate` on the upstream request. A request the sampler left out records
 * nothing: it gets no client span, and its server span's (unsampled) context goes upstream, so
 * the upstreams follow the decision. Attribute names follow OpenTelemetry's HTTP semantic
 * conventions.
 *
 * On the path of every proxied request: the API is imported directly (not through the
 * re-exports of @carve/shared-http, a property getter per use) and the tracer taken once. A
 * request that brings no trace context (no `traceparent`, `tracestate` or `baggage`, the common
 * case) is a root: the gateway draws its trace id and asks the process's sampler itself
 * (@carve/shared-http `rootSampling`). One the sampler leaves out gets no SDK span, context or
 * propagator run: a span id, and the `traceparent` the W3C propagator would write for its
 * unsampled span. One it records gets the SDK's span, with that trace id. A request with trace
 * context goes through the propagators and the SDK as before.
 */
import type { IncomingMessage } from 'node:http';
import {
  type Context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SamplingDecision,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
  type TraceState,
} from '@opentelemetry/api';
import { rootSampling, type RootSampling, traceLogFields, tracer } from '@carve/shared-http';

// Taken at the first traced request: tracing is started by then (the proxy traces only once it is).
let cachedTracer: Tracer | undefined;
const proxyTracer = (): Tracer => (cachedTracer ??= tracer());
// The sampler and ids of the process's tracing (null: not started by startTracing; every
// request then goes through the SDK).
let cachedRoot: RootSampling | null | undefined;
const rootOf = (): RootSampling | null => (cachedRoot === undefined ? (cachedRoot = rootSampling() ?? null) : cachedRoot);

export interface RequestTrace {
  readonly span: Span;
  readonly ctx: Context;
  /** `trace_id` / `span_id` for the access log (computed when asked). */
  readonly logFields: { trace_id?: string; span_id?: string };
  /** Ends the server span with the answer's status and the route that matched (if any). */
  end(status: number, route: string | null): void;
}

/** The server span of a proxied request (a class: one shape, its methods shared, per request). */
class ServerTrace implements RequestTrace {
  private ended = false;
  private spanCtx: Context | undefined = undefined;

  constructor(
    readonly span: Span,
    private readonly parent: Context,
    private readonly method: string,
    /** The request brought no trace context: the parent is the root context. */
    readonly fresh: boolean,
  ) {}

  /** The parent's context with this span (made when a client span or the propagators need it). */
  get ctx(): Context {
    return (this.spanCtx ??= trace.setSpan(this.parent, this.span));
  }

  get logFields(): { trace_id?: string; span_id?: string } {
    return traceLogFields(this.span);
  }

  end(status: number, route: string | null): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (!span.isRecording()) return;
    span.setAttribute('http.response.status_code', status);
    if (route !== null) {
      span.setAttribute('carve.route', route);
      span.updateName(`${this.method} ${route}`);
    }
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/**
 * A root request the sampler left out: its trace and span ids (and the sampler's trace state)
 * are all there is; nothing is recorded. The span and context are made only if asked for.
 */
class UnsampledTrace implements RequestTrace {
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly traceState: TraceState | undefined,
  ) {}

  get span(): Span {
    return trace.wrapSpanContext({ traceId: this.traceId, spanId: this.spanId, traceFlags: TraceFlags.NONE, traceState: this.traceState });
  }

  get ctx(): Context {
    return trace.setSpan(ROOT_CONTEXT, this.span);
  }

  get logFields(): { trace_id?: string; span_id?: string } {
    return { trace_id: this.traceId, span_id: this.spanId };
  }

  end(): void {
    // Nothing recorded.
  }
}

/** The server span of a proxied request. */
export function traceRequest(req: IncomingMessage, method: string, path: string): RequestTrace {
  const h = req.headers;
  const fresh = h.traceparent === undefined && h.tracestate === undefined && h.baggage === undefined;
  const attributes = { 'http.request.method': method, 'url.path': path };
  if (fresh) {
    const root = rootOf();
    if (root !== null) {
      // What the SDK does for a root span: a new trace id, the sampler asked with the root
      // context; a left-out one is a non-recording span with a new span id and flags 00.
      const traceId = root.ids.generateTraceId();
      const decision = root.sampler.shouldSample(ROOT_CONTEXT, traceId, method, SpanKind.SERVER, attributes, []);
      if (decision.decision === SamplingDecision.NOT_RECORD) return new UnsampledTrace(traceId, root.ids.generateSpanId(), decision.traceState);
      const span = root.ids.withTraceId(traceId, () => proxyTracer().startSpan(method, { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT));
      return new ServerTrace(span, ROOT_CONTEXT, method, true);
    }
  }
  const parent = fresh ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, h);
  const span = proxyTracer().startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
  return new ServerTrace(span, parent, method, fresh);
}

export interface ExchangeTrace {
  /** The upstream request's headers with this span's `traceparent` (and `tracestate`). */
  readonly headers: string[];
  /** Ends the client span: the upstream's status, 0 when it failed before answering. */
  end(status: number): void;
}

const TRACE_HEADERS: ReadonlySet<string> = new Set(['traceparent', 'tracestate']);

/** The client span of one exchange with `upstream` (`side`: monolith or service). */
const NOT_RECORDED: Pick<ExchangeTrace, 'end'> = { end: () => undefined };

/** `traceparent` of a span context, as the W3C propagator writes it. */
function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-0${Number(sc.traceFlags || TraceFlags.NONE).toString(16)}`;
}

export function traceExchange(parent: RequestTrace, method: string, upstream: string, origin: string, side: string, headers: string[]): ExchangeTrace {
  if (parent instanceof UnsampledTrace) {
    // A root left out by the sampler: no context came with the request (none is among
    // `headers`), and its span's context goes upstream.
    const out = headers.slice();
    out.push('traceparent', `00-${parent.traceId}-${parent.spanId}-00`);
    if (parent.traceState !== undefined) out.push('tracestate', parent.traceState.serialize());
    return { headers: out, end: NOT_RECORDED.end };
  }
  const recording = parent.span.isRecording();
  if (!recording && parent instanceof ServerTrace && parent.fresh) {
    // Left out by the sampler, and no context came with the request (so none is among
    // `headers`, and there is no baggage): the server span's context goes upstream.
    const sc = parent.span.spanContext();
    const out = headers.slice();
    if (isSpanContextValid(sc)) {
      out.push('traceparent', traceparentOf(sc));
      if (sc.traceState) out.push('tracestate', sc.traceState.serialize());
    }
    return { headers: out, end: NOT_RECORDED.end };
  }
  // Left out by the sampler: the server span's context goes upstream, and nothing is recorded.
  const span = recording
    ? proxyTracer().startSpan(
        `${method} ${upstream}`,
        { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'server.address': origin, 'carve.upstream': upstream, 'carve.side': side } },
        parent.ctx,
      )
    : null;
  if (span !== null && parent instanceof ServerTrace && parent.fresh) {
    // Recorded, and no context came with the request (none among `headers`, no baggage): what
    // the W3C propagator would write is the client span's own context.
    const sc = span.spanContext();
    const out = headers.slice();
    out.push('traceparent', traceparentOf(sc));
    if (sc.traceState) out.push('tracestate', sc.traceState.serialize());
    return { headers: out, end: (status) => endExchange(span, status) };
  }
  const carrier: Record<string, string> = {};
  propagation.inject(span === null ? parent.ctx : trace.setSpan(parent.ctx, span), carrier);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!TRACE_HEADERS.has(headers[i])) out.push(headers[i], headers[i + 1]);
  for (const name in carrier) out.push(name, carrier[name]);
  if (span === null) return { headers: out, end: NOT_RECORDED.end };
  return { headers: out, end: (status) => endExchange(span, status) };
}

/** Ends a client span with the upstream's status (0: it failed before answering). */
function endExchange(span: Span, status: number): void {
  if (status > 0) span.setAttribute('http.response.status_code', status);
  if (status === 0 || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(status === 0 ? { message: 'no answer from the upstream' } : {}) });
  span.end();
}
