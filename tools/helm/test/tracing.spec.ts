/**
 * Every deployable chart's tracing values (config.tracing, networkPolicy.egress.collector):
 * off by default in every environment (no OTEL_* variable, no collector rule); on with an
 * endpoint, the standard OTEL_* variables in the ConfigMap and one egress rule to the collector's
 * pods on its OTLP/HTTP port; bad values refused by the schema.
 */
import { chartEnvironments, DEPLOYABLE_CHARTS, formatIssues, HelmToolError, type Manifest, renderChart, validateManifests } from '../src';
import { all, only, rendered } from './helpers';

const CHARTS = DEPLOYABLE_CHARTS.map((c) => c.chart);
const envOf = (manifests: Manifest[], chart: string): Record<string, string> => all(manifests, 'ConfigMap').find((c) => c.metadata.name === `${chart}-env`)!.data;
const collectorRules = (manifests: Manifest[]) => (only(manifests, 'NetworkPolicy').spec.egress as any[]).filter((r) => r.ports.some((p: { port: number }) => p.port === 4318));

function templateError(chart: string, set: Record<string, unknown>): string {
  try {
    renderChart(chart, 'staging', { set });
  } catch (err) {
    expect(err).toBeInstanceOf(HelmToolError);
    return `${(err as HelmToolError).message}\n${(err as HelmToolError).details ?? ''}`;
  }
  throw new Error(`rendering ${chart} with ${JSON.stringify(set)} succeeded`);
}

describe.each(CHARTS)('tracing in the %s chart', (chart) => {
  it.each(chartEnvironments(chart))('is off in %s: no OTEL_* variable, no egress to a collector', (env) => {
    const manifests = rendered(chart, env);
    expect(Object.keys(envOf(manifests, chart)).filter((k) => k.startsWith('OTEL_'))).toEqual([]);
    expect(collectorRules(manifests)).toEqual([]);
  });

  it('is on with a collector endpoint: the OTEL_* variables in the ConfigMap, egress to the collector pods on its OTLP/HTTP port only', () => {
    const manifests = rendered(chart, 'production', {
      set: {
        'config.tracing.endpoint': 'http://otel-collector.observability:4318',
        'config.tracing.resourceAttributes': { 'k8s.cluster.name': 'carve-production' },
        'networkPolicy.egress.collector.namespace': 'observability',
        'networkPolicy.egress.collector.podLabels': { 'app.kubernetes.io/name': 'otel-collector' },
      },
    });
    const issues = validateManifests(manifests);
    if (issues.length > 0) throw new Error(formatIssues(issues));
    expect(envOf(manifests, chart)).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=production,k8s.cluster.name=carve-production',
    });
    expect(collectorRules(manifests)).toEqual([
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'otel-collector' } } }],
        ports: [{ port: 4318, protocol: 'TCP' }],
      },
    ]);
  });
});

describe('tracing values the schema refuses', () => {
  it('an endpoint that is not an http(s) URL, or carries credentials', () => {
    expect(templateError('gateway', { 'config.tracing.endpoint': 'otel-collector:4318' })).toContain("at '/config/tracing/endpoint'");
    expect(templateError('relay', { 'config.tracing.endpoint': 'https://user:pw@collector.example.com' })).toContain("at '/config/tracing/endpoint'");
  });

  it('an unknown sampler and a ratio outside 0..1', () => {
    expect(templateError('insights-service', { 'config.tracing.sampler': 'sometimes' })).toContain("at '/config/tracing/sampler': value must be one of 'parentbased_traceidratio'");
    expect(templateError('legacy-monolith', { 'config.tracing.samplerArg': 2 })).toContain("at '/config/tracing/samplerArg': maximum: got 2, want 1");
  });

  it('the OTEL_* variables the chart sets, through extraEnv', () => {
    expect(templateError('roadmaps-service', { 'config.extraEnv': { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://elsewhere:4318' } })).toContain("invalid propertyName 'OTEL_EXPORTER_OTLP_ENDPOINT'");
  });
});
