/**
 * The proxy's spans (tracing on; @carve/shared-http tracing.ts): a server span per proxied
 * request, child of the client's `traceparent` when it sent one, and a client span per exchange
 * with an upstream (a fallback or a retry is a second one), whose context replaces the client's
 * `traceparent` / `tracestate` on the upstream request. Attribute names follow OpenTelemetry's
 * HTTP semantic conventions.
 */
import type { IncomingMessage } from 'node:http';
import { type Context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, traceLogFields, tracer } from '@carve/shared-http';

export interface RequestTrace {
  readonly span: Span;
  readonly ctx: Context;
  /** `trace_id` / `span_id` for the access log. */
  readonly logFields: { trace_id?: string; span_id?: string };
  /** Ends the server span with the answer's status and the route that matched (if any). */
  end(status: number, route: string | null): void;
}

/** The server span of a proxied request. */
export function traceRequest(req: IncomingMessage, method: string, path: string): RequestTrace {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer().startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path } }, parent);
  let ended = false;
  return {
    span,
    ctx: trace.setSpan(parent, span),
    logFields: traceLogFields(span),
    end(status, route) {
      if (ended) return;
      ended = true;
      span.setAttribute('http.response.status_code', status);
      if (route !== null) {
        span.setAttribute('carve.route', route);
        span.updateName(`${method} ${route}`);
      }
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}

export interface ExchangeTrace {
  /** The upstream request's headers with this span's `traceparent` (and `tracestate`). */
  readonly headers: string[];
  /** Ends the client span: the upstream's status, 0 when it failed before answering. */
  end(status: number): void;
}

const TRACE_HEADERS: ReadonlySet<string> = new Set(['traceparent', 'tracestate']);

/** The client span of one exchange with `upstream` (`side`: monolith or service). */
export function traceExchange(parent: RequestTrace, method: string, upstream: string, origin: string, side: string, headers: string[]): ExchangeTrace {
  const span = tracer().startSpan(
    `${method} ${upstream}`,
    { kind: SpanKind.CLIENT, attributes: { 'http.request.method': method, 'server.address': origin, 'carve.upstream': upstream, 'carve.side': side } },
    parent.ctx,
  );
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent.ctx, span), carrier);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!TRACE_HEADERS.has(headers[i])) out.push(headers[i], headers[i + 1]);
  for (const name in carrier) out.push(name, carrier[name]);
  return {
    headers: out,
    end(status) {
      if (status > 0) span.setAttribute('http.response.status_code', status);
      if (status === 0 || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, ...(status === 0 ? { message: 'no answer from the upstream' } : {}) });
      span.end();
    },
  };
}
