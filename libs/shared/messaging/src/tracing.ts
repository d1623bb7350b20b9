/**
 * Trace context across the event backbone (W3C Trace Context in message headers), on the
 * OpenTelemetry API only: the process that set up tracing (@carve/shared-http `startTracing`)
 * gets real spans, any other gets the API's no-op ones, and nothing here runs when no event
 * carries a `traceparent` and no span is active.
 *
 * - `appendToOutbox` inside a traced request: one producer span per event (`create`), whose
 *   context is stored in the outbox row's `headers` (no column of its own: the outbox's DDL is
 *   frozen, and `headers` travels with the row to every transport);
 * - the relay: one producer span per event it ships (`send`), child of that, whose context
 *   replaces the row's in the message headers (Kafka record headers; on the Postgres transport,
 *   the row's `headers` when it is marked published);
 * - the consumer: one consumer span per event it applies (`process`), child of the relay's.
 */
import { type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

const tracer = () => trace.getTracer('carve');

/** The span active here, if any (none while tracing is off). */
export function activeSpan(): Span | undefined {
  return trace.getSpan(context.active());
}

/** The trace context of `ctx` as message headers (`traceparent`, `tracestate`). */
export function traceHeaders(ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The context a message's headers carry, or undefined when they carry none. */
export function contextOf(headers: Record<string, string> | null | undefined): Context | undefined {
  if (!headers || typeof headers[TRACEPARENT] !== 'string') return undefined;
  return propagation.extract(ROOT_CONTEXT, headers);
}

export interface MessageSpan {
  readonly span: Span;
  /** The context with the span active. */
  readonly ctx: Context;
  /** Its trace context as headers. */
  readonly headers: Record<string, string>;
}

/** A messaging span on `topic` (semantic conventions' messaging attributes), child of `parent`. */
export function messageSpan(
  operation: 'create' | 'send' | 'process',
  topic: string,
  parent: Context,
  attributes: Record<string, string | number>,
): MessageSpan {
  const kind = operation === 'process' ? SpanKind.CONSUMER : SpanKind.PRODUCER;
  const span = tracer().startSpan(
    `${operation} ${topic}`,
    { kind, attributes: { 'messaging.operation.type': operation, 'messaging.operation.name': operation, 'messaging.destination.name': topic, ...attributes } },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  return { span, ctx, headers: traceHeaders(ctx) };
}

/** Ends spans, marked failed when `err` is given. */
export function endSpans(spans: ReadonlyArray<MessageSpan | undefined>, err?: unknown, attributes?: (i: number) => Record<string, string> | undefined): void {
  for (const [i, s] of spans.entries()) {
    if (!s) continue;
    if (err !== undefined) {
      s.span.recordException(err instanceof Error ? err : String(err));
      s.span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    const extra = attributes?.(i);
    if (extra) s.span.setAttributes(extra);
    s.span.end();
  }
}
