import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument, isMap, isScalar, isSeq, YAMLMap } from 'yaml';
import { CHARTS_DIR, DEPLOYABLE_CHARTS, HelmToolError, lintChart, renderChart, staleSchemas, valuesSchema } from '../src';

function templateError(chart: string, set: Record<string, unknown>): string {
  try {
    renderChart(chart, 'staging', { set });
  } catch (err) {
    expect(err).toBeInstanceOf(HelmToolError);
    return `${(err as HelmToolError).message}\n${(err as HelmToolError).details ?? ''}`;
  }
  throw new Error(`rendering ${chart} with ${JSON.stringify(set)} succeeded`);
}

describe('values.schema.json rejects bad values with a clear message', () => {
  it('a wrong enum fails helm lint and helm template, naming the field and the allowed values', () => {
    const lint = lintChart('insights-service', 'staging', { set: { 'config.transport': 'rabbitmq' } });
    expect(lint.ok).toBe(false);
    expect(lint.output).toContain("at '/config/transport': value must be one of 'kafka', 'postgres'");
    expect(templateError('insights-service', { 'config.transport': 'rabbitmq' })).toContain("at '/config/transport': value must be one of 'kafka', 'postgres'");
    // The schema is what refuses it: without the schema the same values render.
    expect(() => renderChart('insights-service', 'staging', { set: { 'config.transport': 'rabbitmq' }, skipSchemaValidation: true })).not.toThrow();
  });

  it('an unknown key fails, at the top level and nested', () => {
    const lint = lintChart('legacy-monolith', 'production', { set: { replicas: 3 } });
    expect(lint.ok).toBe(false);
    expect(lint.output).toContain("additional properties 'replicas' not allowed");
    expect(templateError('legacy-monolith', { 'autoscaling.minReplica': 2 })).toContain("at '/autoscaling': additional properties 'minReplica' not allowed");
  });

  it('a wrong environment, a wrong type and a missing broker list fail', () => {
    expect(templateError('relay', { environment: 'prod' })).toContain("at '/environment': value must be one of 'staging', 'production', 'review'");
    expect(templateError('gateway', { port: '8080' })).toContain("at '/port': got string, want integer");
    expect(templateError('gateway', { 'config.kafkaBrokers': '' })).toContain("at '/config/kafkaBrokers': minLength: got 0, want 1");
  });

  it('a secret can not be slipped into the ConfigMap through extraEnv', () => {
    expect(templateError('roadmaps-service', { 'config.extraEnv': { DB_PASSWORD: 'hunter2' } })).toContain("invalid propertyName 'DB_PASSWORD'");
    expect(templateError('roadmaps-service', { 'config.extraEnv': { DATABASE_URL: 'x' } })).toContain("invalid propertyName 'DATABASE_URL'");
    expect(templateError('roadmaps-service', { 'config.extraEnv': { UPSTREAM: 'postgres://app:hunter2@db:5432/carve' } })).toContain("at '/config/extraEnv/UPSTREAM'");
  });

  it('a JWT verifier needs keys: the issuer\'s JWKS, or a public key or the dev secret from the Secret', () => {
    for (const chart of ['gateway', 'insights-service', 'legacy-monolith', 'roadmaps-service']) {
      expect(templateError(chart, { 'secretEnv.CARVE_JWT_PUBLIC_KEY': null })).toMatch(/anyOf|missing property 'CARVE_JWT_PUBLIC_KEY'/);
    }
    expect(templateError('gateway', { 'config.jwt.jwksUrl': 'http://idp.example.com/.well-known/jwks.json' })).toContain("at '/config/jwt/jwksUrl'");
  });

  it('the gateway needs its admin token from the Secret, and a host and certificate when the Ingress is on', () => {
    // null removes a key from the merged values.
    expect(templateError('gateway', { 'secretEnv.CARVE_ADMIN_TOKEN': null })).toContain("at '/secretEnv': missing property 'CARVE_ADMIN_TOKEN'");
    expect(templateError('gateway', { workers: 0 })).toContain("at '/workers': minimum: got 0, want 1");
    expect(templateError('gateway', { 'config.extraEnv': { CARVE_GATEWAY_WORKERS: '4' } })).toContain("invalid propertyName 'CARVE_GATEWAY_WORKERS'");
    expect(templateError('gateway', { 'ingress.certificateArn': '' })).toContain("at '/ingress/certificateArn': minLength: got 0, want 1");
  });

  it('Kafka security: aws-iam needs TLS and a region, SCRAM needs its credentials from the Secret, a client certificate needs its key', () => {
    expect(templateError('relay', { 'config.kafka.saslMechanism': 'aws-iam', 'config.kafka.awsRegion': '' })).toContain("at '/config/kafka/awsRegion': minLength: got 0, want 1");
    expect(templateError('relay', { 'config.kafka.saslMechanism': 'aws-iam', 'config.kafka.awsRegion': 'eu-west-1', 'config.kafka.ssl': false })).toContain("at '/config/kafka/ssl': value must be true");
    expect(templateError('relay', { 'config.kafka.saslMechanism': 'plain' })).toContain("at '/config/kafka/saslMechanism': value must be one of 'none', 'scram-sha-512', 'scram-sha-256', 'aws-iam'");
    expect(templateError('insights-service', { 'config.kafka.saslMechanism': 'scram-sha-512' })).toContain("at '/secretEnv': missing properties 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'");
    expect(templateError('gateway', { 'config.kafka.saslMechanism': 'scram-sha-512', 'secretEnv.KAFKA_SASL_USERNAME': 'kafka-username', 'secretEnv.KAFKA_SASL_PASSWORD': 'kafka-password' })).toContain(
      "at '/kafkaTopics/secretEnv': missing properties 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'",
    );
    expect(templateError('relay', { 'config.kafka.clientCertSecretKey': 'kafka-client-cert' })).toContain("at '/config/kafka/clientKeySecretKey': minLength: got 0, want 1");
    expect(templateError('relay', { 'config.extraEnv': { KAFKA_SSL: 'true' } })).toContain("invalid propertyName 'KAFKA_SSL'");
  });

  it('the Ingress never routes `/`, and egress rules never open everything', () => {
    expect(templateError('gateway', { 'ingress.paths': ['/'] })).toContain("at '/ingress/paths/0'");
    expect(templateError('gateway', { 'ingress.paths': [] })).toContain("at '/ingress/paths': minItems: got 0, want 1");
    expect(templateError('legacy-monolith', { 'networkPolicy.egress.postgres.cidrs': [] })).toContain("at '/networkPolicy/egress/postgres/cidrs': minItems: got 0, want 1");
    expect(templateError('relay', { 'networkPolicy.egress.kafka.ports': [] })).toContain("at '/networkPolicy/egress/kafka/ports': minItems: got 0, want 1");
    expect(templateError('gateway', { 'admin.host': 'everywhere' })).toContain("at '/admin/host'");
  });

  it('migrations on need a command and the migrator DATABASE_URL', () => {
    expect(templateError('insights-service', { 'migrations.command': [] })).toContain("at '/migrations/command': minItems: got 0, want 1");
  });
});

describe('values.schema.json files', () => {
  it('match the generator (tools/helm/src/values-schema.ts)', () => {
    expect(staleSchemas()).toEqual([]);
  });

  it('use no remote $ref (offline lint) and are draft-07', () => {
    for (const c of DEPLOYABLE_CHARTS) {
      const text = fs.readFileSync(path.join(CHARTS_DIR, c.chart, 'values.schema.json'), 'utf8');
      expect(text).not.toContain('"$ref"');
      expect(JSON.parse(text).$schema).toBe('http://json-schema.org/draft-07/schema#');
    }
  });
});

/** Every key path in values.yaml: leaves, plus maps and lists documented as a whole ([object], [array]). */
function documented(chart: string): { params: Map<string, string>; paths: string[]; wholes: Set<string> } {
  const text = fs.readFileSync(path.join(CHARTS_DIR, chart, 'values.yaml'), 'utf8');
  const params = new Map<string, string>();
  const wholes = new Set<string>();
  for (const m of text.matchAll(/^\s*## @param (\S+)(?: \[(object|array)\])? (.+)$/gm)) {
    params.set(m[1], m[3]);
    if (m[2]) wholes.add(m[1]);
  }
  const paths: string[] = [];
  const walk = (node: unknown, prefix: string): void => {
    if (isMap(node) && !wholes.has(prefix)) {
      for (const item of (node as YAMLMap).items) walk(item.value, prefix ? `${prefix}.${(item.key as any).value}` : String((item.key as any).value));
    } else if (isScalar(node) || isSeq(node) || isMap(node)) paths.push(prefix);
  };
  walk(parseDocument(text).contents, '');
  return { params, paths, wholes };
}

describe.each(DEPLOYABLE_CHARTS.map((c) => [c.chart, c] as const))('%s values.yaml', (chart, meta) => {
  it('documents every parameter with a `## @param` line, and documents nothing that is not there', () => {
    const { params, paths } = documented(chart);
    expect(paths.filter((p) => !params.has(p))).toEqual([]);
    expect([...params.keys()].filter((p) => !paths.includes(p))).toEqual([]);
    for (const [p, description] of params) expect({ p, length: description.length > 10 }).toEqual({ p, length: true });
  });

  it('sets every top-level key the schema has (and the schema requires them)', () => {
    const schema = valuesSchema(meta) as { required: string[]; properties: Record<string, unknown> };
    const top = new Set(documented(chart).paths.map((p) => p.split('.')[0]));
    expect([...top].sort()).toEqual([...schema.required].sort());
  });
});
