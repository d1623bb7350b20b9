/**
 * OpenTelemetry tracing for every deployable, set up in one place: `startTracing(name)` at the
 * top of a process's main. Off unless the standard variables ask for it:
 *
 * - on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and
 *   neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`;
 * - spans go by OTLP/HTTP (JSON) to `<endpoint>/v1/traces`, in batches (`OTEL_BSP_*`);
 * - sampling from `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default parent-based, always
 *   on: a client's sampled `traceparent` is followed);
 * - `service.name` is `OTEL_SERVICE_NAME`, else the deployable's name; `OTEL_RESOURCE_ATTRIBUTES`
 *   adds attributes.
 *
 * Off, nothing is registered: the libraries' calls go to the API's no-op tracer, the platform
 * plugin adds no hook, and the gateway forwards a client's `traceparent` untouched.
 *
 * Propagation is W3C Trace Context (`traceparent`, `tracestate`) and Baggage. What each process
 * records: the gateway a server span per request and a client span per upstream exchange
 * (apps/gateway/src/proxy), every other HTTP deployable a server span per request (the platform
 * plugin), the outbox a span per written event, whose context is stored in the outbox row's
 * headers; the relay a producer span per event it ships, whose context goes in the message's
 * headers; a consumer a consumer span per event it applies, child of that (the messaging
 * library). Log lines written inside a span carry its `trace_id` and `span_id`.
 */
import { randomFillSync } from 'node:crypto';
import { type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace };
export type { Context, Span, Tracer };

/** The instrumentation scope of Carve's own spans. */
export const TRACER_NAME = 'carve';

export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /** Exports what is buffered (before a short-lived process exits). */
  flush(): Promise<void>;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, flush: async () => undefined, shutdown: async () => undefined };

let current: Tracing = OFF;

const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/**
 * Trace and span ids cut from a pool of random bytes hex-encoded at once (the SDK's default
 * encodes every id on its own: a measurable share of a traced proxy's CPU per request, sampled
 * or not). Never the all-zero (invalid) id.
 */
export class PooledIdGenerator implements IdGenerator {
  private hex = '';
  private at = 0;

  private take(chars: number): string {
    if (this.at + chars > this.hex.length) {
      this.hex = randomFillSync(Buffer.allocUnsafe(4096)).toString('hex');
      this.at = 0;
    }
    const id = this.hex.slice(this.at, this.at + chars);
    this.at += chars;
    return id;
  }

  generateTraceId(): string {
    const id = this.take(32);
    return id === INVALID_TRACE_ID ? this.generateTraceId() : id;
  }

  generateSpanId(): string {
    const id = this.take(16);
    return id === INVALID_SPAN_ID ? this.generateSpanId() : id;
  }
}

/** Whether the standard variables switch tracing on (see the module comment). */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts tracing for this process when the environment asks for it (once; later calls return
 * the first result). `serviceName` is the default `service.name`.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  if (current.enabled || !tracingConfigured(env)) return current;
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || `${env.OTEL_EXPORTER_OTLP_ENDPOINT!.trim().replace(/\/+$/, '')}/v1/traces`;
  const provider = new NodeTracerProvider({
    resource,
    idGenerator: new PooledIdGenerator(),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  provider.register();
  current = {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
  return current;
}

/** The tracing this process started (disabled when it did not). */
export function tracing(): Tracing {
  return current;
}

/** True once `startTracing` switched tracing on: the instrumentation's hooks check this. */
export function tracingEnabled(): boolean {
  return current.enabled;
}

/** Carve's tracer (the API's no-op one while tracing is off). */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/** `trace_id` and `span_id` of a span, for a log line; empty for none or an invalid one. */
export function traceLogFields(span: Span | undefined): { trace_id?: string; span_id?: string } {
  if (!span) return {};
  const sc = span.spanContext();
  return trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** The log fields of the span active here (pino's mixin). */
export function activeTraceLogFields(): { trace_id?: string; span_id?: string } {
  return current.enabled ? traceLogFields(trace.getSpan(context.active())) : {};
}

/** Records an error on a span and marks it failed. */
export function failSpan(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}
