import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEPLOYABLE_CHARTS, DeployableChart } from './catalogue';
import { CHARTS_DIR } from './paths';

/*
 * Generates each thin chart's values.schema.json (JSON Schema draft-07, no remote $ref so
 * `helm lint` works offline). One source for the shape every chart shares; `carve-helm schema
 * --write` writes the files and a test fails when a committed file differs from this.
 */

type Schema = Record<string, unknown>;

/** Where a release runs: staging and production, and `review` (one namespace per merge request, in the staging cluster). */
export const ENVIRONMENTS = ['staging', 'production', 'review'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const TRANSPORTS = ['kafka', 'postgres'] as const;

/** Env vars the chart sets itself: extraEnv may not set them. */
export const RESERVED_ENV = [
  'PORT',
  'PLATFORM',
  'LOG_LEVEL',
  'CARVE_TRANSPORT',
  'KAFKA_BROKERS',
  'KAFKA_SSL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_AWS_REGION',
  'CARVE_ADMIN_PORT',
  'CARVE_ADMIN_HOST',
  'CARVE_ROUTES_FILE',
  'CARVE_GATEWAY_WORKERS',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_RESOURCE_ATTRIBUTES',
];
/** config.tracing.sampler: the OpenTelemetry SDK's OTEL_TRACES_SAMPLER values. */
export const TRACES_SAMPLERS = ['parentbased_traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'traceidratio', 'always_on', 'always_off'] as const;
/** config.kafka.saslMechanism: none, SCRAM (credentials from the Secret), or MSK IAM (the pod's IAM role). */
export const KAFKA_SASL_MECHANISMS = ['none', 'scram-sha-512', 'scram-sha-256', 'aws-iam'] as const;
const SCRAM_SECRET_ENV = ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'];
/** Env var names that must come from the Secret, never from values. */
export const SECRET_ENV_NAME = '(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_KEY|DATABASE_URL|JWT)';
/** A URL with credentials in it (scheme://user:password@host). */
export const URL_WITH_CREDENTIALS = '://[^/\\s:@]+:[^@\\s]+@';

const ENV_NAME = '^[A-Z_][A-Z0-9_]*$';
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const CPU = '^([0-9]+m|[0-9]+(\\.[0-9]+)?)$';
const MEMORY = '^[0-9]+(Ki|Mi|Gi)$';

const d = (description: string, schema: Schema): Schema => ({ description, ...schema });
const str = (description: string, extra: Schema = {}): Schema => d(description, { type: 'string', ...extra });
const int = (description: string, minimum: number, maximum?: number): Schema =>
  d(description, { type: 'integer', minimum, ...(maximum === undefined ? {} : { maximum }) });
const bool = (description: string): Schema => d(description, { type: 'boolean' });
const stringMap = (description: string, extra: Schema = {}): Schema =>
  d(description, { type: 'object', additionalProperties: { type: 'string' }, ...extra });

/** An object with these properties, all required unless listed optional, and nothing else. */
function obj(description: string, properties: Record<string, Schema>, extra: Schema & { optional?: string[] } = {}): Schema {
  const { optional = [], ...rest } = extra;
  return {
    description,
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
    ...rest,
  };
}

const command = (description: string, minItems = 1): Schema =>
  d(description, { type: 'array', minItems, items: { type: 'string', minLength: 1 } });

const secretEnv = (description: string, required: string[] = []): Schema =>
  d(description, {
    type: 'object',
    propertyNames: { pattern: ENV_NAME },
    additionalProperties: { type: 'string', pattern: '^[-._a-zA-Z0-9]+$', description: 'key in existingSecret' },
    ...(required.length > 0 ? { required } : {}),
  });

const image = (what: string, tagDescription: string, tagMinLength = 1): Schema =>
  obj(`${what} image`, {
    repository: str('Image repository without tag', { pattern: '^[a-z0-9][a-z0-9._/:-]*[a-z0-9]$'}),
    tag: str(tagDescription, { pattern: tagMinLength === 0 ? '^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$' : '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
    pullPolicy: str('Image pull policy', { enum: ['IfNotPresent', 'Always', 'Never'] }),
  });

const resources = (what: string): Schema =>
  obj(`Resources of the ${what}`, {
    requests: obj('Requests', { cpu: str('CPU request', { pattern: CPU }), memory: str('Memory request', { pattern: MEMORY }) }),
    limits: obj('Limits (memory required; a CPU limit is optional)', { cpu: str('CPU limit', { pattern: CPU }), memory: str('Memory limit', { pattern: MEMORY }) }, { optional: ['cpu'] }),
  });

const probe = (what: string): Schema =>
  obj(what, {
    initialDelaySeconds: int('Seconds before the first check', 0, 300),
    periodSeconds: int('Seconds between checks', 1, 300),
    timeoutSeconds: int('Timeout of one check', 1, 60),
    failureThreshold: int('Failed checks in a row that count as a failure', 1, 300),
  }, { optional: ['initialDelaySeconds'] });

const labelSelectors = (description: string): Schema =>
  d(description, { type: 'array', items: { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } } });

const CIDR = '^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$';
const cidrs = (description: string, minItems = 0): Schema => d(description, { type: 'array', minItems, items: { type: 'string', pattern: CIDR } });
const ports = (description: string): Schema => d(description, { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1, maximum: 65535 } });

/** What a deployable's pods may reach; the NetworkPolicy denies every other egress. */
const egress = (): Schema =>
  obj('Egress the pods need; every other egress is denied', {
    dnsNamespace: str('Namespace of the cluster DNS (kube-dns / CoreDNS pods, port 53)', { pattern: DNS_LABEL }),
    postgres: obj('Postgres (RDS)', { cidrs: cidrs('CIDR blocks of Postgres', 1), port: int('Postgres port', 1, 65535) }),
    kafka: obj('Kafka brokers (MSK); only with transport kafka', { cidrs: cidrs('CIDR blocks of the brokers', 1), ports: ports('Broker ports') }),
    pods: d('Pods in the namespace this deployable calls (the gateway: its upstreams)', {
      type: 'array',
      items: obj('A pod label set and the port called on it', {
        labels: d('Pod labels', { type: 'object', minProperties: 1, additionalProperties: { type: 'string' } }),
        port: int('Container port', 1, 65535),
      }),
    }),
    collector: obj('The OpenTelemetry collector (config.tracing.endpoint); a rule only while tracing is on and a namespace is given', {
      namespace: str('Namespace of the collector\'s pods, or empty for no rule (a collector outside the cluster goes in extra)', { pattern: `(${DNS_LABEL})|^$` }),
      podLabels: stringMap('Labels of the collector\'s pods (empty: every pod of that namespace)'),
      port: int('Port of its OTLP/HTTP receiver', 1, 65535),
    }),
    extra: d('More destinations outside the cluster (e.g. a Redis, an AWS API endpoint)', {
      type: 'array',
      items: obj('CIDR block and ports', { cidr: str('CIDR block', { pattern: CIDR }), ports: ports('Ports') }),
    }),
  });

export function valuesSchema(c: DeployableChart): Schema {
  const properties: Record<string, Schema> = {
    global: d('Helm global values (unused by Carve)', { type: 'object' }),
    'carve-service': d('Reserved: Helm keeps the library dependency\'s values here; leave unset', { type: 'object' }),
    environment: str('Environment this release runs in', { enum: [...ENVIRONMENTS] }),
    nameOverride: str('Replaces the chart name in names and labels', { maxLength: 40, pattern: `(${DNS_LABEL})|^$` }),
    fullnameOverride: str('Replaces the whole object name', { maxLength: 52, pattern: `(${DNS_LABEL})|^$` }),
    image: image('Container', 'Image tag: the commit being deployed'),
    command: command('Command of the app container'),
    port: int('Port the app listens on (PORT)', 1024, 65535),
    portName: str('Name of the main port', { enum: ['http', 'metrics'] }),
    config: obj(
      'Non-secret configuration (ConfigMap)',
      {
        logLevel: str('LOG_LEVEL', { enum: [...LOG_LEVELS] }),
        transport: str('CARVE_TRANSPORT', { enum: [...TRANSPORTS] }),
        kafkaBrokers: str('KAFKA_BROKERS: comma-separated host:port', { pattern: '^([a-zA-Z0-9.-]+:[0-9]{1,5}(,[a-zA-Z0-9.-]+:[0-9]{1,5})*)?$' }),
        kafka: obj(
          'Kafka client security: TLS and SASL (docs/events.md, "Kafka security")',
          {
            ssl: bool('KAFKA_SSL: TLS to the brokers (MSK: 9094 TLS, 9096 SCRAM, 9098 IAM)'),
            saslMechanism: str('KAFKA_SASL_MECHANISM: none, scram-sha-512/scram-sha-256 (secretEnv KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD) or aws-iam (the pod\'s IAM role)', { enum: [...KAFKA_SASL_MECHANISMS] }),
            awsRegion: str('KAFKA_AWS_REGION: region of the MSK cluster (aws-iam)', { pattern: '^([a-z]{2}(-[a-z]+)+-[0-9])?$' }),
            caSecretKey: str('Key in existingSecret holding a PEM CA bundle (KAFKA_SSL_CA_FILE); empty: the image\'s public CAs, which MSK\'s certificates chain to', { pattern: '^([-._a-zA-Z0-9]+)?$' }),
            clientCertSecretKey: str('Key in existingSecret holding a PEM client certificate (mutual TLS), or empty', { pattern: '^([-._a-zA-Z0-9]+)?$' }),
            clientKeySecretKey: str('Key in existingSecret holding the client certificate\'s PEM key, or empty', { pattern: '^([-._a-zA-Z0-9]+)?$' }),
          },
          {
            allOf: [
              // MSK's IAM listener is TLS only, and the token is signed for a region.
              { if: { properties: { saslMechanism: { const: 'aws-iam' } } }, then: { properties: { ssl: { const: true }, awsRegion: { minLength: 1 } } } },
              // TLS files need TLS; a client certificate goes with its key.
              { if: { properties: { caSecretKey: { minLength: 1 } } }, then: { properties: { ssl: { const: true } } } },
              { if: { properties: { clientCertSecretKey: { minLength: 1 } } }, then: { properties: { ssl: { const: true }, clientKeySecretKey: { minLength: 1 } } } },
              { if: { properties: { clientKeySecretKey: { minLength: 1 } } }, then: { properties: { clientCertSecretKey: { minLength: 1 } } } },
            ],
          },
        ),
        ...(c.verifiesJwt
          ? {
              jwt: obj('Token verification against the identity provider\'s keys (docs/gateway.md, "Tokens")', {
                jwksUrl: str('CARVE_JWT_JWKS_URL: the issuer\'s JWKS (https, keys cached and rotated), or empty to verify with CARVE_JWT_PUBLIC_KEY from the Secret', { pattern: '^(https://[^\\s@]+)?$' }),
                issuer: str('CARVE_JWT_ISSUER: the `iss` every token must carry, or empty'),
                audience: str('CARVE_JWT_AUDIENCE: the `aud` every token must carry, or empty'),
              }),
            }
          : {}),
        tracing: obj('OpenTelemetry traces by OTLP/HTTP (docs/runbooks/observability.md, "Traces"); off while endpoint is empty', {
          endpoint: str('OTEL_EXPORTER_OTLP_ENDPOINT: the collector\'s OTLP/HTTP base URL (spans go to <endpoint>/v1/traces), or empty for tracing off', { pattern: '^(https?://[^\\s@/]+(/[^\\s@]*)?)?$' }),
          sampler: str('OTEL_TRACES_SAMPLER', { enum: [...TRACES_SAMPLERS] }),
          samplerArg: d('OTEL_TRACES_SAMPLER_ARG: the share of new traces the ratio samplers keep', { type: 'number', minimum: 0, maximum: 1 }),
          resourceAttributes: stringMap('More OTEL_RESOURCE_ATTRIBUTES (deployment.environment.name is the environment)', {
            propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
            additionalProperties: { type: 'string', pattern: '^[^,=\\s]*$' },
          }),
        }),
        extraEnv: stringMap('More non-secret env vars', {
          propertyNames: { pattern: ENV_NAME, not: { anyOf: [{ enum: RESERVED_ENV }, { pattern: SECRET_ENV_NAME }] } },
          additionalProperties: { type: 'string', not: { pattern: URL_WITH_CREDENTIALS } },
        }),
      },
      {
        // With Kafka as the transport, the brokers must be given.
        if: { properties: { transport: { const: 'kafka' } } },
        then: { properties: { kafkaBrokers: { minLength: 1 } } },
      },
    ),
    existingSecret: str('Existing Secret holding every secret env var', { minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN }),
    secretEnv: {
      ...secretEnv('App container env vars from existingSecret: ENV_VAR -> key', c.requiredSecretEnv),
    },
    migrations: obj(
      'Migrations init container',
      {
        enabled: bool('Run migrations before the app starts'),
        command: command('Migrations command', 0),
        secretEnv: secretEnv('Init container env vars from existingSecret'),
        resources: resources('init container'),
      },
      { if: { properties: { enabled: { const: true } } }, then: { properties: { command: { minItems: 1 }, secretEnv: { required: ['DATABASE_URL'] } } } },
    ),
    replicaCount: int('Replicas when autoscaling is off', 1, 50),
    strategy: obj('Deployment strategy', { type: str('Strategy type', { enum: ['RollingUpdate', 'Recreate'] }) }),
    autoscaling: obj('HorizontalPodAutoscaler (autoscaling/v2)', {
      enabled: bool('Create an HPA'),
      minReplicas: int('Lowest replica count', 1, 100),
      maxReplicas: int('Highest replica count', 1, 200),
      targetCPUUtilizationPercentage: int('Target average CPU, percent of requests', 10, 100),
      scaleDownStabilizationSeconds: int('Low-load window before scaling down', 0, 3600),
    }),
    podDisruptionBudget: obj('PodDisruptionBudget (only with more than one replica)', { maxUnavailable: int('Pods a voluntary disruption may take at once', 1, 100) }),
    topologySpread: obj('Spread across zones and nodes', { enabled: bool('Add topologySpreadConstraints when more than one replica runs'), maxSkew: int('Largest zone/node imbalance', 1, 10) }),
    resources: resources('app container'),
    probes: obj('Probe timings (startup and liveness on /healthz, readiness on /readyz)', {
      startup: probe('Startup probe'),
      readiness: probe('Readiness probe'),
      liveness: probe('Liveness probe'),
    }),
    shutdown: obj('Graceful shutdown', {
      preStopSleepSeconds: int('Pause before SIGTERM', 0, 120),
      drainSeconds: int('Longest drain after SIGTERM', 1, 600),
    }),
    securityContext: obj('Non-root identity of every container', { runAsUser: int('UID', 1), runAsGroup: int('GID', 1) }),
    tmpSizeLimit: str('Size limit of the /tmp emptyDir', { pattern: MEMORY }),
    serviceAccount: obj('ServiceAccount', {
      create: bool('Create a ServiceAccount'),
      name: str('ServiceAccount name', { pattern: `(${DNS_SUBDOMAIN})|^$` }),
      roleArn: str('IAM role for IRSA (eks.amazonaws.com/role-arn), or empty', { pattern: '^(arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+)?$' }),
    }),
    service: obj('Service', {
      enabled: bool('Create a Service'),
      type: str('Service type', { enum: ['ClusterIP', 'NodePort'] }),
      port: int('Service port', 1, 65535),
    }),
    networkPolicy: obj(
      'NetworkPolicy: default deny for ingress and egress, then what is listed',
      {
        enabled: bool('Create a NetworkPolicy'),
        allowFrom: labelSelectors('Pod label sets allowed to reach the main port'),
        allowCidrs: cidrs('CIDR blocks allowed to reach the main port'),
        monitoringNamespace: str('Namespace Prometheus scrapes from, or empty', { pattern: `(${DNS_LABEL})|^$` }),
        ...(c.gateway ? { adminFrom: labelSelectors('Pod label sets allowed to reach the admin port') } : {}),
        egress: egress(),
      },
    ),
    serviceMonitor: obj('Prometheus Operator ServiceMonitor', {
      enabled: bool('Create a ServiceMonitor'),
      interval: str('Scrape interval', { pattern: '^[0-9]+(s|m)$' }),
      scrapeTimeout: str('Scrape timeout', { pattern: '^[0-9]+(s|m)$' }),
      labels: stringMap('Extra labels'),
      ...(c.gateway ? { tokenKey: str("Key in existingSecret holding a viewer operator's token, sent to the admin port's /metrics", { pattern: '^[-._a-zA-Z0-9]+$' }) } : {}),
    }),
    dashboards: obj("Grafana dashboards (the chart's dashboards/*.json) in a ConfigMap the Grafana sidecar loads", {
      enabled: bool('Create the dashboards ConfigMap (when the chart has dashboards)'),
      sidecarLabel: str('Label the Grafana sidecar watches for', { pattern: '^([a-z0-9.-]+/)?[A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?$' }),
      sidecarLabelValue: str('Value of that label', { pattern: '^[A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?$' }),
      folder: str('Grafana folder (annotation grafana_folder); empty for the default'),
    }),
    prometheusRule: obj("Prometheus Operator PrometheusRule with the chart's alerts (alerts/*.yaml)", {
      enabled: bool('Create the PrometheusRule (when the chart has alerts)'),
      labels: stringMap('Extra labels so the Prometheus instance selects the PrometheusRule'),
      runbookBaseUrl: str("URL where the repository's docs/ folder is browsable; empty: runbook_url is the path docs/...", { pattern: '^(https?://[^\\s]+)?$' }),
    }),
    podAnnotations: stringMap('Extra pod annotations'),
    nodeSelector: stringMap('Node labels the pods require'),
    tolerations: d('Pod tolerations', { type: 'array', items: { type: 'object' } }),
    affinity: d('Pod affinity rules', { type: 'object' }),
  };

  if (c.gateway) {
    properties.admin = obj("Admin API and the gateway's metrics", {
      port: int('CARVE_ADMIN_PORT', 1024, 65535),
      host: str('CARVE_ADMIN_HOST: address the admin port binds to', { pattern: '^([0-9]{1,3}(\\.[0-9]{1,3}){3}|::|::1)$' }),
    });
    properties.workers = int('CARVE_GATEWAY_WORKERS: processes serving the proxy port in each pod, at most one per core of its CPU limit (docs/gateway.md, "Workers")', 1, 64);
    properties.routes = obj('Route table (ConfigMap from routes/<environment>.yaml)', {
      mountPath: str('Directory the route table is mounted in; CARVE_ROUTES_FILE is <mountPath>/routes.yaml', { pattern: '^/[A-Za-z0-9._/-]+$', not: { pattern: '^/tmp(/|$)' } }),
    });
    properties.ingress = obj(
      'ALB Ingress (AWS Load Balancer Controller)',
      {
        enabled: bool('Create the Ingress'),
        className: str('IngressClass', { minLength: 1 }),
        host: str('Public host name', { pattern: `(${DNS_SUBDOMAIN})|^$` }),
        scheme: str('ALB scheme', { enum: ['internet-facing', 'internal'] }),
        certificateArn: str('ACM certificate ARN', { pattern: '^(arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[-a-f0-9]+)?$' }),
        sslPolicy: str('ALB TLS policy', { pattern: '^ELBSecurityPolicy-[A-Za-z0-9-]+$' }),
        groupName: str('ALB group (shares one ALB between Ingresses), or empty', { pattern: `(${DNS_LABEL})|^$` }),
        annotations: stringMap('Extra Ingress annotations'),
        paths: d('Path prefixes the Ingress sends to the gateway (the API only)', {
          type: 'array',
          minItems: 1,
          items: { type: 'string', pattern: '^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$' },
        }),
      },
      { if: { properties: { enabled: { const: true } } }, then: { properties: { host: { minLength: 1 }, certificateArn: { minLength: 1 } } } },
    );
    properties.kafkaTopics = obj('Helm hook Job: carve kafka ensure-topics before install and upgrade', {
      enabled: bool('Run the Job (only with transport kafka)'),
      image: image('Carve CLI', 'Image tag; empty for image.tag', 0),
      command: command('Command of the Job'),
      secretEnv: secretEnv('Job env vars from existingSecret'),
      serviceAccountName: str('ServiceAccount of the Job (the release\'s own does not exist yet during pre-install), or empty for default', { pattern: `(${DNS_SUBDOMAIN})|^$` }),
      backoffLimit: int('Retries', 0, 10),
      activeDeadlineSeconds: int('Time limit of the Job', 30, 3600),
      resources: resources('Job container'),
    });
  }

  // SCRAM: the credentials come from the Secret, for the app and for the topics Job.
  const scram = { properties: { config: { properties: { kafka: { properties: { saslMechanism: { enum: ['scram-sha-512', 'scram-sha-256'] } } } } } } };
  const scramSecrets: Schema = {
    if: scram,
    then: {
      properties: {
        secretEnv: { required: SCRAM_SECRET_ENV },
        ...(c.gateway ? { kafkaTopics: { properties: { secretEnv: { required: SCRAM_SECRET_ENV } } } } : {}),
      },
    },
  };

  // A verifier needs keys: the issuer's JWKS, or a public key (or the dev secret) from the Secret.
  const jwtKeys: Schema = {
    anyOf: [
      { properties: { config: { properties: { jwt: { properties: { jwksUrl: { minLength: 1 } } } } } } },
      { properties: { secretEnv: { required: ['CARVE_JWT_PUBLIC_KEY'] } } },
      { properties: { secretEnv: { required: ['CARVE_JWT_SECRET'] } } },
    ],
  };

  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: `Values of the ${c.chart} chart`,
    description: 'Generated by tools/helm (carve-helm schema --write) from tools/helm/src/values-schema.ts: edit that, not this file.',
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties).filter((k) => k !== 'global' && k !== 'carve-service'),
    properties,
    allOf: [scramSecrets, ...(c.verifiesJwt ? [jwtKeys] : [])],
  };
}

export function schemaFile(chart: string): string {
  return path.join(CHARTS_DIR, chart, 'values.schema.json');
}

export function schemaText(c: DeployableChart): string {
  return `${JSON.stringify(valuesSchema(c), null, 2)}\n`;
}

/** Charts whose committed values.schema.json differs from the generated one. */
export function staleSchemas(): string[] {
  return DEPLOYABLE_CHARTS.filter((c) => {
    const file = schemaFile(c.chart);
    return !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== schemaText(c);
  }).map((c) => c.chart);
}

export function writeSchemas(): string[] {
  const written: string[] = [];
  for (const c of DEPLOYABLE_CHARTS) {
    if (!fs.existsSync(path.dirname(schemaFile(c.chart)))) continue;
    fs.writeFileSync(schemaFile(c.chart), schemaText(c));
    written.push(schemaFile(c.chart));
  }
  return written;
}
