/**
 * OpenTelemetry tracing for every deployable, set up in one place: `startTracing(name)` at the
 * top of a process's main. Off unless the standard variables ask for it:
 *
 * - on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and
 *   neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`;
 * - spans go by OTLP/HTTP (JSON) to `<endpoint>/v1/traces`, in batches (`OTEL_BSP_*`);
 * - sampling from `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default parent-based, always
 *   on: a client's sampled `traceparent` is followed), read from the same environment as the rest;
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
import { type Context, context, type ContextManager, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  type IdGenerator,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
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
  /** A trace id drawn beforehand, handed out by the next `generateTraceId` (see `withTraceId`). */
  private preset: string | undefined = undefined;

  /**
   * Runs `fn` with `traceId` as the id the next root span gets: a proxy that drew a trace id to
   * decide a request's sampling before starting its span starts the span with that id.
   */
  withTraceId<T>(traceId: string, fn: () => T): T {
    this.preset = traceId;
    try {
      return fn();
    } finally {
      this.preset = undefined;
    }
  }

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
    const preset = this.preset;
    if (preset !== undefined) {
      this.preset = undefined;
      return preset;
    }
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

/** The ratio of OTEL_TRACES_SAMPLER_ARG, read as the SDK reads it (1 when unset or invalid). */
function samplerRatio(env: NodeJS.ProcessEnv): number {
  const raw = env.OTEL_TRACES_SAMPLER_ARG;
  if (raw == null || raw.trim() === '') return 1;
  const ratio = Number(raw);
  return Number.isNaN(ratio) || ratio < 0 || ratio > 1 ? 1 : ratio;
}

/**
 * The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name, as the SDK builds it from
 * them (parent-based, always on, by default and for an unknown name). Built here rather than by
 * the SDK so that a proxy can ask it before it starts a span (see `rootSampling`).
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): Sampler {
  const raw = env.OTEL_TRACES_SAMPLER;
  const name = raw == null || raw.trim() === '' ? 'parentbased_always_on' : raw;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(samplerRatio(env));
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplerRatio(env)) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * The sampler and the id generator of the tracing this process started: a proxy decides the
 * sampling of a request that brings no trace context itself, with a trace id it draws, and
 * starts an SDK span (with that trace id, `withTraceId`) only for one the sampler records.
 */
export interface RootSampling {
  readonly sampler: Sampler;
  readonly ids: PooledIdGenerator;
}

let root: RootSampling | undefined;

/** The sampler and ids of the tracing `startTracing` started (undefined when it did not). */
export function rootSampling(): RootSampling | undefined {
  return root;
}

/**
 * A context manager whose `with` makes a context active for the synchronous run of its function
 * only (a stack): nothing follows an `await`, a timer or a callback. It registers no async hook.
 *
 * For a process that passes its contexts explicitly on its hot path (the gateway's proxy): on
 * Node 20 the default manager's AsyncLocalStorage turns on async hooks for the whole process the
 * first time anything runs inside a context (the span exporter's first batch does), and every
 * socket, timer and promise of every request then pays them, sampled or not. With this one, a
 * log line written after an `await` inside a span (on the gateway's admin API, say) carries no
 * trace id; the proxy's access log takes its trace id from the request's span directly.
 */
export class SynchronousContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const before = this.current;
    this.current = ctx;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = before;
    }
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the bound function runs `with` on this manager
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}

export interface TracingOptions {
  /**
   * How the active context follows the code: `async` (default) through awaits, timers and
   * callbacks (AsyncLocalStorage), `synchronous` only through synchronous calls
   * (`SynchronousContextManager`, for a process that passes contexts explicitly).
   */
  readonly contextPropagation?: 'async' | 'synchronous';
}

/**
 * Starts tracing for this process when the environment asks for it (once; later calls return
 * the first result). `serviceName` is the default `service.name`.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env, options: TracingOptions = {}): Tracing {
  if (current.enabled || !tracingConfigured(env)) return current;
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || `${env.OTEL_EXPORTER_OTLP_ENDPOINT!.trim().replace(/\/+$/, '')}/v1/traces`;
  const ids = new PooledIdGenerator();
  const sampler = samplerFromEnv(env);
  const provider = new NodeTracerProvider({
    resource,
    sampler,
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint }))],
  });
  provider.register(options.contextPropagation === 'synchronous' ? { contextManager: new SynchronousContextManager() } : {});
  root = { sampler, ids };
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
