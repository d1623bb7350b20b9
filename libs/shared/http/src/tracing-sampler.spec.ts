/**
 * The sampler tracing uses (samplerFromEnv), built from OTEL_TRACES_SAMPLER /
 * OTEL_TRACES_SAMPLER_ARG as the SDK builds it, and the trace id a proxy draws before it starts
 * a root span (PooledIdGenerator.withTraceId).
 */
import { ROOT_CONTEXT, SamplingDecision, SpanKind } from '@opentelemetry/api';
import { PooledIdGenerator, samplerFromEnv } from './tracing';

it('builds the sampler the standard variables name, parent-based always on by default and for an unknown name', () => {
  const named = (env: NodeJS.ProcessEnv) => samplerFromEnv(env).toString();
  expect([
    named({}),
    named({ OTEL_TRACES_SAMPLER: 'nonsense' }),
    named({ OTEL_TRACES_SAMPLER: 'always_on' }),
    named({ OTEL_TRACES_SAMPLER: 'always_off' }),
    named({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }),
    named({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }),
    named({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
    named({ OTEL_TRACES_SAMPLER: 'traceidratio' }),
    named({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'x' }),
    named({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }),
  ]).toEqual([
    expect.stringMatching(/^ParentBased\{root=AlwaysOnSampler,/),
    expect.stringMatching(/^ParentBased\{root=AlwaysOnSampler,/),
    'AlwaysOnSampler',
    'AlwaysOffSampler',
    expect.stringMatching(/^ParentBased\{root=AlwaysOffSampler,/),
    'TraceIdRatioBased{0.25}',
    expect.stringMatching(/^ParentBased\{root=TraceIdRatioBased\{0.1\},/),
    'TraceIdRatioBased{1}',
    'TraceIdRatioBased{1}',
    'TraceIdRatioBased{1}',
  ]);
});

it('samples a tenth of root trace ids at a ratio of 0.1, the same way each time for a trace id', () => {
  const sampler = samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' });
  const ids = new PooledIdGenerator();
  let sampled = 0;
  for (let i = 0; i < 10_000; i++) {
    const traceId = ids.generateTraceId();
    const first = sampler.shouldSample(ROOT_CONTEXT, traceId, 'GET', SpanKind.SERVER, {}, []).decision;
    expect(sampler.shouldSample(ROOT_CONTEXT, traceId, 'GET', SpanKind.SERVER, {}, []).decision).toBe(first);
    if (first === SamplingDecision.RECORD_AND_SAMPLED) sampled++;
  }
  expect(sampled).toBeGreaterThan(800);
  expect(sampled).toBeLessThan(1200);
});

it('hands out a drawn trace id to the next root span only, inside withTraceId', () => {
  const ids = new PooledIdGenerator();
  const drawn = ids.generateTraceId();
  const [inside, next] = ids.withTraceId(drawn, () => [ids.generateTraceId(), ids.generateTraceId()]);
  expect(inside).toBe(drawn);
  expect(next).not.toBe(drawn);
  // Not consumed inside: forgotten once fn returns.
  ids.withTraceId(drawn, () => undefined);
  expect(ids.generateTraceId()).not.toBe(drawn);
});
