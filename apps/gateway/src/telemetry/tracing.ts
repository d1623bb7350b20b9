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
 * re-exports of @carve/shared-http, a property getter per use) and the tracer taken once.
 */
import type { IncomingMessage } from 'node:http';
import { type Context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { traceLogFields, tracer } from '@carve/shared-http';

// Taken at the first traced request: tracing is started by then (the proxy traces only once it is).
let cachedTracer: Tracer | undefined;
const proxyTracer = (): Tracer => (cachedTracer ??= tracer());

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
  readonly ctx: Context;
  private ended = false;

  constructor(
    readonly span: Span,
    parent: Context,
    private readonly method: string,
  ) {
    this.ctx = trace.setSpan(parent, span);
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

/** The server span of a proxied request. */
export function traceRequest(req: IncomingMessage, method: string, path: string): RequestTrace {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = proxyTracer().startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path } }, parent);
  return new ServerTrace(span, parent, method);
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

export function traceExchange(parent: RequestTrace, method: string, upstream: string, origin: string, side: string, headers: string[]): ExchangeTrace {
  // Left out by the sampler: the server span's context goes upstream, and nothing is recorded.
  const span = parent.span.isRecording()
    ? proxyTracer().startSpan(
        `${method} ${upstream}`,
        { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'server.address': origin, 'carve.upstream': upstream, 'carve.side': side } },
        parent.ctx,
      )
    : null;
  const carrier: Record<string, string> = {};
  propagation.inject(span === null ? parent.ctx : trace.setSpan(parent.ctx, span), carrier);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!TRACE_HEADERS.has(headers[i])) out.push(headers[i], headers[i + 1]);
  for (const name in carrier) out.push(name, carrier[name]);
  if (span === null) return { headers: out, end: NOT_RECORDED.end };
  return {
    headers: out,
    end(status) {
      if (status > 0) span.setAttribute('http.response.status_code', status);
      if (status === 0 || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(status === 0 ? { message: 'no answer from the upstream' } : {}) });
      span.end();
    },
  };
}
