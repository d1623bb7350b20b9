import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  chartEnvironments,
  CHARTS_DIR,
  DEPLOYABLE_CHARTS,
  formatIssues,
  Manifest,
  renderChartText,
  SECRET_ENV_NAME,
  URL_WITH_CREDENTIALS,
  validateManifests,
} from '../src';
import { all, appContainer, chartValues, checksumOf, deploymentOf, only, rendered } from './helpers';

const runs = DEPLOYABLE_CHARTS.flatMap((c) => chartEnvironments(c.chart).map((env) => [c.chart, env, c] as const));

const SECRET_NAME = new RegExp(SECRET_ENV_NAME, 'i');
const CREDENTIAL_URL = new RegExp(URL_WITH_CREDENTIALS);
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\./;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function podSpecs(manifests: Manifest[]): any[] {
  return manifests.flatMap((m) => (m.kind === 'Deployment' || m.kind === 'Job' ? [m.spec.template.spec] : []));
}

function containersOf(manifests: Manifest[]): any[] {
  return podSpecs(manifests).flatMap((s) => [...(s.initContainers ?? []), ...s.containers]);
}

describe.each(runs)('%s rendered for %s', (chart, env, meta) => {
  const values = chartValues(chart, env);
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = rendered(chart, env);
  });

  it('validates every object against the Kubernetes schemas (kubernetes-models)', () => {
    const issues = validateManifests(manifests);
    if (issues.length > 0) throw new Error(formatIssues(issues));
    expect(manifests.length).toBeGreaterThanOrEqual(5);
  });

  it('carries the standard labels on every object', () => {
    for (const m of manifests) {
      const labels = m.metadata.labels ?? {};
      expect(labels).toMatchObject({
        'app.kubernetes.io/name': chart,
        'app.kubernetes.io/instance': chart,
        'app.kubernetes.io/part-of': 'carve',
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/version': values.image.tag,
        'carve.dev/environment': env,
      });
    }
  });

  it('holds no plaintext secret: no Secret object, no secret-looking env value or ConfigMap entry', () => {
    expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
    for (const c of containersOf(manifests)) {
      for (const e of c.env ?? []) {
        if ('value' in e) {
          expect({ name: e.name, secretName: SECRET_NAME.test(e.name) }).toEqual({ name: e.name, secretName: false });
          for (const re of [CREDENTIAL_URL, JWT, PRIVATE_KEY]) expect(String(e.value)).not.toMatch(re);
        } else {
          // By reference only, and only to the existing Secret.
          expect(e.valueFrom.secretKeyRef).toMatchObject({ name: values.existingSecret });
        }
      }
      for (const from of c.envFrom ?? []) expect(from.secretRef?.name ?? values.existingSecret).toBe(values.existingSecret);
    }
    for (const cm of all(manifests, 'ConfigMap')) {
      for (const [key, value] of Object.entries<string>(cm.data ?? {})) {
        if (key !== 'routes.yaml') expect(SECRET_NAME.test(key)).toBe(false);
        for (const re of [CREDENTIAL_URL, JWT, PRIVATE_KEY]) expect(value).not.toMatch(re);
      }
    }
    // "password" only as the name of an env var read from the Secret by reference.
    const text = JSON.stringify(manifests).replace(/\{"name":"[A-Z0-9_]*PASSWORD","valueFrom":\{"secretKeyRef":\{[^}]*\}\}\}/g, '');
    expect(text).not.toMatch(CREDENTIAL_URL);
    expect(text).not.toMatch(/password/i);
  });

  it('reads its secrets from the existing Secret by reference', () => {
    const env = appContainer(manifests).env ?? [];
    const refs = Object.fromEntries(env.map((e: any) => [e.name, e.valueFrom?.secretKeyRef]));
    for (const name of meta.requiredSecretEnv) expect(refs[name]).toEqual({ name: values.existingSecret, key: values.secretEnv[name], optional: false });
    if (meta.verifiesJwt) expect(refs.CARVE_JWT_PUBLIC_KEY ?? refs.CARVE_JWT_SECRET ?? values.config.jwt?.jwksUrl).toBeTruthy();
  });

  it('puts the non-secret env the apps read in its ConfigMap, loaded by envFrom', () => {
    const cm = all(manifests, 'ConfigMap').find((c) => c.metadata.name === `${chart}-env`)!;
    expect(cm.data).toMatchObject({
      PORT: String(meta.port),
      PLATFORM: 'kubernetes',
      LOG_LEVEL: values.config.logLevel,
      CARVE_TRANSPORT: values.config.transport,
      ...(values.config.kafkaBrokers ? { KAFKA_BROKERS: values.config.kafkaBrokers } : {}),
    });
    // Without brokers (the review environment's Postgres transport) the variable is left out.
    if (!values.config.kafkaBrokers) expect(cm.data.KAFKA_BROKERS).toBeUndefined();
    expect(appContainer(manifests).envFrom).toEqual([{ configMapRef: { name: `${chart}-env` } }]);
  });

  it('runs hardened: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp, /tmp an emptyDir', () => {
    for (const spec of podSpecs(manifests)) {
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect(spec.automountServiceAccountToken).toBe(false);
      const tmp = spec.volumes.find((v: any) => v.name === 'tmp');
      expect(tmp.emptyDir).toBeDefined();
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.securityContext).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
        expect(c.resources.requests.cpu).toBeDefined();
        expect(c.resources.requests.memory).toBeDefined();
        expect(c.resources.limits.memory).toBeDefined();
      }
    }
  });

  it('probes /healthz (startup, liveness) and /readyz (readiness) on its own port', () => {
    const c = appContainer(manifests);
    const port = c.ports[0];
    expect(port).toEqual({ name: values.portName, containerPort: meta.port, protocol: 'TCP' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: port.name });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: port.name });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: port.name });
    // Startup gets longer than liveness would allow, so a slow boot is not a crash loop.
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold);
  });

  it('pauses before SIGTERM and gives a grace period longer than pause plus drain', () => {
    const d = deploymentOf(manifests);
    const pause = appContainer(manifests).lifecycle.preStop.sleep.seconds;
    expect(pause).toBe(values.shutdown.preStopSleepSeconds);
    expect(pause).toBeGreaterThan(0);
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(pause + values.shutdown.drainSeconds);
  });

  it(meta.schema ? `runs the ${meta.schema} migrations in an init container before the app` : 'has no migrations init container (it owns no schema)', () => {
    const spec = deploymentOf(manifests).spec.template.spec;
    if (!meta.schema) {
      expect(spec.initContainers).toBeUndefined();
      return;
    }
    expect(spec.initContainers).toHaveLength(1);
    const init = spec.initContainers[0];
    expect(init.name).toBe('migrations');
    expect(init.command).toEqual(['node', `apps/${meta.app}/dist/migrate.js`]);
    expect(init.image).toBe(appContainer(manifests).image);
    expect(init.env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: values.existingSecret, key: 'migrator-database-url', optional: false } } });
    expect(init.envFrom).toEqual(appContainer(manifests).envFrom);
  });

  it('runs the image in the environment\'s ECR registry, tagged with the commit', () => {
    const account = env === 'production' ? '444455556666' : '111122223333';
    for (const c of containersOf(manifests)) {
      expect(c.image).toMatch(new RegExp(`^${account}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/carve/[a-z-]+:${values.image.tag}$`));
    }
  });

  it('has a PDB exactly when more than one replica runs, and an HPA (autoscaling/v2) exactly when autoscaling is on', () => {
    const d = deploymentOf(manifests);
    const hpa = all(manifests, 'HorizontalPodAutoscaler');
    const min = values.autoscaling.enabled ? values.autoscaling.minReplicas : values.replicaCount;
    expect(hpa).toHaveLength(values.autoscaling.enabled ? 1 : 0);
    if (values.autoscaling.enabled) {
      expect(hpa[0].apiVersion).toBe('autoscaling/v2');
      expect(hpa[0].spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name });
      expect(d.spec.replicas).toBeUndefined();
    } else expect(d.spec.replicas).toBe(values.replicaCount);
    expect(all(manifests, 'PodDisruptionBudget')).toHaveLength(min > 1 ? 1 : 0);
  });

  it('has a ServiceAccount with the IRSA role annotation, used by the pods', () => {
    const sa = only(manifests, 'ServiceAccount');
    expect(sa.metadata.annotations['eks.amazonaws.com/role-arn']).toBe(values.serviceAccount.roleArn);
    expect(sa.metadata.annotations['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::[0-9]{12}:role\//);
    expect(deploymentOf(manifests).spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
  });

  it('has a Service selecting the Deployment\'s pods and nothing else', () => {
    const svc = only(manifests, 'Service');
    const selector = svc.spec.selector;
    const matches = (labels: Record<string, string> = {}): boolean => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(matches(deploymentOf(manifests).spec.template.metadata.labels)).toBe(true);
    for (const job of all(manifests, 'Job')) expect(matches(job.spec.template.metadata.labels)).toBe(false);
    expect(svc.spec.ports[0]).toMatchObject({ name: values.portName, port: values.service.port, targetPort: values.portName });
  });

  it('admits ingress only from the configured pods, CIDRs and the monitoring namespace', () => {
    const np = only(manifests, 'NetworkPolicy');
    // Both directions are policed: what no rule below admits is denied.
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.podSelector.matchLabels).toEqual(deploymentOf(manifests).spec.selector.matchLabels);
    const peers = np.spec.ingress.flatMap((r: any) => r.from);
    const podPeers = peers.filter((p: any) => p.podSelector).map((p: any) => p.podSelector.matchLabels['app.kubernetes.io/name']);
    const expected: Record<string, string[]> = {
      'legacy-monolith': ['gateway'],
      'insights-service': ['gateway', 'legacy-monolith'],
      'roadmaps-service': ['gateway', 'legacy-monolith'],
      gateway: [],
      relay: [],
    };
    expect(podPeers).toEqual(expected[chart]);
    for (const p of peers) {
      // No peer may be "everything": each is a pod label set, a CIDR, or the monitoring namespace.
      if (p.namespaceSelector) expect(p.namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'monitoring' });
      if (p.podSelector) expect(Object.keys(p.podSelector.matchLabels).length).toBeGreaterThan(0);
    }
  });

  it('denies egress but to the cluster DNS, Postgres, Kafka (with the Kafka transport) and the pods it calls', () => {
    const np = only(manifests, 'NetworkPolicy');
    const eg = values.networkPolicy.egress;
    const rules: any[] = np.spec.egress;
    // DNS: kube-dns in its namespace, port 53 over UDP and TCP.
    expect(rules[0]).toEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    });
    expect(rules[1]).toEqual({ to: eg.postgres.cidrs.map((cidr: string) => ({ ipBlock: { cidr } })), ports: [{ port: 5432, protocol: 'TCP' }] });
    const kafka = values.config.transport === 'kafka';
    if (kafka) expect(rules[2]).toEqual({ to: eg.kafka.cidrs.map((cidr: string) => ({ ipBlock: { cidr } })), ports: eg.kafka.ports.map((port: number) => ({ port, protocol: 'TCP' })) });
    const extra: Array<{ cidr: string; ports: number[] }> = eg.extra ?? [];
    const podRules = rules.slice(kafka ? 3 : 2, rules.length - extra.length);
    // networkPolicy.egress.extra last, one rule per destination: its CIDR and ports only.
    expect(rules.slice(rules.length - extra.length)).toEqual(extra.map((x) => ({ to: [{ ipBlock: { cidr: x.cidr } }], ports: x.ports.map((port) => ({ port, protocol: 'TCP' })) })));
    const calls: Record<string, Array<[string, number]>> = {
      gateway: [
        ['legacy-monolith', 3000],
        ['insights-service', 3101],
        ['roadmaps-service', 3102],
      ],
      'legacy-monolith': [],
      'insights-service': [],
      'roadmaps-service': [],
      relay: [],
    };
    expect(podRules.map((r) => [r.to[0].podSelector.matchLabels['app.kubernetes.io/name'], r.ports[0].port])).toEqual(calls[chart]);
    for (const r of rules) {
      // No rule may open everything: each names its peers and its ports.
      expect(r.to.length).toBeGreaterThan(0);
      expect(r.ports.length).toBeGreaterThan(0);
      for (const peer of r.to) if (peer.ipBlock) expect(peer.ipBlock.cidr).not.toBe('0.0.0.0/0');
    }
    // The upstreams' ports are the ones they listen on.
    for (const [name, port] of calls[chart]) expect(DEPLOYABLE_CHARTS.find((c) => c.chart === name)!.port).toBe(port);
  });

  it('has a ServiceMonitor exactly when enabled, on the port that serves /metrics', () => {
    const sm = all(manifests, 'ServiceMonitor');
    expect(sm).toHaveLength(values.serviceMonitor.enabled ? 1 : 0);
    if (!sm.length) return;
    if (meta.gateway) {
      // The gateway's /metrics is on its admin port only, behind a viewer operator's token.
      expect(sm[0].spec.endpoints).toEqual([
        expect.objectContaining({ port: 'admin', path: '/metrics', authorization: { type: 'Bearer', credentials: { name: values.existingSecret, key: values.serviceMonitor.tokenKey } } }),
      ]);
    } else expect(sm[0].spec.endpoints).toEqual([expect.objectContaining({ port: values.portName, path: '/metrics' })]);
    const np = only(manifests, 'NetworkPolicy');
    const fromMonitoring = np.spec.ingress.find((r: any) => r.from.some((p: any) => p.namespaceSelector));
    expect(fromMonitoring.ports).toEqual([{ port: sm[0].spec.endpoints[0].port, protocol: 'TCP' }]);
  });

  it('has an Ingress and a Kafka topics hook only for the gateway (the hook only with the Kafka transport)', () => {
    expect(all(manifests, 'Ingress')).toHaveLength(meta.gateway ? 1 : 0);
    expect(all(manifests, 'Job')).toHaveLength(meta.gateway && values.config.transport === 'kafka' ? 1 : 0);
  });
});

describe('the gateway chart', () => {
  it.each(['staging', 'production', 'review'])('%s: serves its route table from routes/<env>.yaml at CARVE_ROUTES_FILE', (env) => {
    const manifests = rendered('gateway', env);
    const routes = all(manifests, 'ConfigMap').find((c) => c.metadata.name === 'gateway-routes')!;
    expect(routes.data['routes.yaml']).toBe(fs.readFileSync(path.join(CHARTS_DIR, 'gateway', 'routes', `${env}.yaml`), 'utf8'));
    const envCm = all(manifests, 'ConfigMap').find((c) => c.metadata.name === 'gateway-env')!;
    expect(envCm.data.CARVE_ROUTES_FILE).toBe('/etc/carve/routes/routes.yaml');
    expect(envCm.data.CARVE_ADMIN_PORT).toBe('9090');
    // Set explicitly (the gateway binds the admin port to 127.0.0.1 otherwise): the NetworkPolicy admits only adminFrom and Prometheus.
    expect(envCm.data.CARVE_ADMIN_HOST).toBe('0.0.0.0');
    expect(envCm.data.CARVE_GATEWAY_WORKERS).toBe(String(chartValues('gateway', env).workers));
    const c = appContainer(manifests);
    expect(c.volumeMounts).toContainEqual({ name: 'routes', mountPath: '/etc/carve/routes', readOnly: true });
    expect(deploymentOf(manifests).spec.template.spec.volumes).toContainEqual({ name: 'routes', configMap: { name: 'gateway-routes' } });
    expect(c.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'admin', containerPort: 9090, protocol: 'TCP' },
    ]);
    expect(c.env).toContainEqual({ name: 'CARVE_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'gateway', key: 'admin-token', optional: false } } });
  });

  it('sets CARVE_GATEWAY_WORKERS from `workers` (one process per pod unless raised)', () => {
    const envOf = (manifests: ReturnType<typeof rendered>) => all(manifests, 'ConfigMap').find((c) => c.metadata.name === 'gateway-env')!.data;
    expect(chartValues('gateway', 'staging').workers).toBe(1);
    expect(envOf(rendered('gateway', 'staging')).CARVE_GATEWAY_WORKERS).toBe('1');
    expect(envOf(rendered('gateway', 'staging', { set: { workers: 2 } })).CARVE_GATEWAY_WORKERS).toBe('2');
    // The other deployables have no workers.
    expect(all(rendered('insights-service', 'staging'), 'ConfigMap').some((c) => 'CARVE_GATEWAY_WORKERS' in (c.data ?? {}))).toBe(false);
  });

  it.each(['staging', 'production', 'review'])('%s: has an ALB Ingress with the ACM certificate', (env) => {
    const values = chartValues('gateway', env);
    const ing = only(rendered('gateway', env), 'Ingress');
    expect(ing.spec.ingressClassName).toBe('alb');
    expect(ing.metadata.annotations).toMatchObject({
      'alb.ingress.kubernetes.io/scheme': 'internet-facing',
      'alb.ingress.kubernetes.io/target-type': 'ip',
      'alb.ingress.kubernetes.io/certificate-arn': values.ingress.certificateArn,
      'alb.ingress.kubernetes.io/healthcheck-path': '/readyz',
    });
    expect(values.ingress.certificateArn).toMatch(/^arn:aws:acm:/);
    expect(ing.spec.rules[0].host).toBe(values.ingress.host);
    // Only the API: not `/`, so neither the gateway's own paths nor an upstream's are reachable from outside.
    expect(ing.spec.rules[0].http.paths).toEqual([{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'gateway', port: { name: 'http' } } } }]);
  });

  it('creates the Kafka topics in a pre-install,pre-upgrade hook Job running carve kafka ensure-topics', () => {
    const job = only(rendered('gateway', 'production'), 'Job');
    expect(job.metadata.annotations).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    const c = job.spec.template.spec.containers[0];
    expect(c.command).toEqual(['carve', 'kafka', 'ensure-topics']);
    expect(c.image).toBe('444455556666.dkr.ecr.eu-west-1.amazonaws.com/carve/carve-cli:dev');
    // Hooks run before the release's ConfigMap exists: the brokers come inline.
    expect(c.env).toContainEqual({ name: 'KAFKA_BROKERS', value: chartValues('gateway', 'production').config.kafkaBrokers });
    expect(c.envFrom).toBeUndefined();
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
  });

  it('drops the topics Job when the transport is Postgres', () => {
    const manifests = rendered('gateway', 'staging', { set: { 'config.transport': 'postgres' } });
    expect(all(manifests, 'Job')).toEqual([]);
  });
});

describe('Kafka security', () => {
  it('staging and production talk TLS to MSK (port 9094) with the public CAs: KAFKA_SSL, no CA file, no SASL', () => {
    for (const env of ['staging', 'production']) {
      const cm = all(rendered('relay', env), 'ConfigMap').find((c) => c.metadata.name === 'relay-env')!;
      expect(cm.data.KAFKA_BROKERS).toMatch(/:9094(,|$)/);
      expect(cm.data).toMatchObject({ KAFKA_SSL: 'true' });
      expect(cm.data.KAFKA_SSL_CA_FILE).toBeUndefined();
      expect(cm.data.KAFKA_SASL_MECHANISM).toBeUndefined();
    }
  });

  it('SCRAM with a CA and a client certificate from the Secret: env in the ConfigMap and the topics Job, the files mounted read-only in both', () => {
    const set = {
      'config.kafka': { ssl: true, saslMechanism: 'scram-sha-512', awsRegion: '', caSecretKey: 'kafka-ca', clientCertSecretKey: 'kafka-client-cert', clientKeySecretKey: 'kafka-client-key' },
      'secretEnv.KAFKA_SASL_USERNAME': 'kafka-username',
      'secretEnv.KAFKA_SASL_PASSWORD': 'kafka-password',
      'kafkaTopics.secretEnv': { KAFKA_SASL_USERNAME: 'kafka-username', KAFKA_SASL_PASSWORD: 'kafka-password' },
    };
    const manifests = rendered('gateway', 'production', { set });
    const issues = validateManifests(manifests);
    if (issues.length > 0) throw new Error(formatIssues(issues));
    const expected = {
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SSL_CA_FILE: '/etc/carve/kafka-tls/ca.pem',
      KAFKA_SSL_CERT_FILE: '/etc/carve/kafka-tls/client.pem',
      KAFKA_SSL_KEY_FILE: '/etc/carve/kafka-tls/client.key',
    };
    const cm = all(manifests, 'ConfigMap').find((c) => c.metadata.name === 'gateway-env')!;
    expect(cm.data).toMatchObject(expected);
    const volume = {
      name: 'kafka-tls',
      secret: {
        secretName: 'gateway',
        defaultMode: 0o440,
        items: [
          { key: 'kafka-ca', path: 'ca.pem' },
          { key: 'kafka-client-cert', path: 'client.pem' },
          { key: 'kafka-client-key', path: 'client.key' },
        ],
      },
    };
    const mount = { name: 'kafka-tls', mountPath: '/etc/carve/kafka-tls', readOnly: true };
    const app = appContainer(manifests);
    expect(app.volumeMounts).toContainEqual(mount);
    expect(app.env).toContainEqual({ name: 'KAFKA_SASL_PASSWORD', valueFrom: { secretKeyRef: { name: 'gateway', key: 'kafka-password', optional: false } } });
    expect(deploymentOf(manifests).spec.template.spec.volumes).toContainEqual(volume);
    const job = only(manifests, 'Job');
    const jc = job.spec.template.spec.containers[0];
    for (const [name, value] of Object.entries(expected)) expect(jc.env).toContainEqual({ name, value });
    expect(jc.env).toContainEqual({ name: 'KAFKA_SASL_USERNAME', valueFrom: { secretKeyRef: { name: 'gateway', key: 'kafka-username', optional: false } } });
    expect(jc.volumeMounts).toContainEqual(mount);
    expect(job.spec.template.spec.volumes).toContainEqual(volume);
  });

  it('MSK IAM: the mechanism and the region, no credentials in the Secret (the pod role signs)', () => {
    const manifests = rendered('roadmaps-service', 'production', { set: { 'config.kafka.saslMechanism': 'aws-iam', 'config.kafka.awsRegion': 'eu-west-1' } });
    const cm = all(manifests, 'ConfigMap').find((c) => c.metadata.name === 'roadmaps-service-env')!;
    expect(cm.data).toMatchObject({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'aws-iam', KAFKA_AWS_REGION: 'eu-west-1' });
    expect(deploymentOf(manifests).spec.template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('kafka-tls');
  });
});

describe('token verification', () => {
  it.each(['gateway', 'insights-service', 'legacy-monolith', 'roadmaps-service'])('%s deploys with the identity provider\'s JWKS only: no key in the Secret, the URL, issuer and audience in the ConfigMap', (chart) => {
    const jwt = { jwksUrl: 'https://idp.example.com/.well-known/jwks.json', issuer: 'https://idp.example.com/', audience: 'carve-api' };
    const manifests = rendered(chart, 'production', { set: { 'config.jwt': jwt, 'secretEnv.CARVE_JWT_PUBLIC_KEY': null } });
    const issues = validateManifests(manifests);
    if (issues.length > 0) throw new Error(formatIssues(issues));
    const cm = all(manifests, 'ConfigMap').find((c) => c.metadata.name === `${chart}-env`)!;
    expect(cm.data).toMatchObject({ CARVE_JWT_JWKS_URL: jwt.jwksUrl, CARVE_JWT_ISSUER: jwt.issuer, CARVE_JWT_AUDIENCE: jwt.audience });
    expect((appContainer(manifests).env ?? []).map((e: { name: string }) => e.name)).not.toContain('CARVE_JWT_PUBLIC_KEY');
  });

  it('leaves the JWKS settings out of the ConfigMap when they are empty', () => {
    const cm = all(rendered('gateway', 'production'), 'ConfigMap').find((c) => c.metadata.name === 'gateway-env')!;
    expect(Object.keys(cm.data).filter((k) => k.startsWith('CARVE_JWT_'))).toEqual([]);
  });
});

describe('the tenant limits store', () => {
  it('staging and production share the gateway replicas\' limits through ElastiCache: rediss:// with an RBAC user, its password from the Secret, egress to its subnet on 6379 only', () => {
    for (const env of ['staging', 'production']) {
      const manifests = rendered('gateway', env);
      const cm = all(manifests, 'ConfigMap').find((c) => c.metadata.name === 'gateway-env')!;
      expect(cm.data.CARVE_REDIS_URL).toMatch(/^rediss:\/\/[a-z0-9.-]+\.cache\.amazonaws\.com:6379$/);
      expect(cm.data.CARVE_REDIS_USERNAME).toBe('carve-gateway');
      expect(cm.data.CARVE_REDIS_PASSWORD).toBeUndefined();
      expect(appContainer(manifests).env).toContainEqual({ name: 'CARVE_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'gateway', key: 'redis-password', optional: false } } });
      const np = only(manifests, 'NetworkPolicy');
      const redisRules = np.spec.egress.filter((r: any) => r.ports.some((p: any) => p.port === 6379));
      expect(redisRules).toHaveLength(1);
      expect(redisRules[0].to).toEqual([{ ipBlock: { cidr: expect.stringMatching(/^10\.\d+\.\d+\.0\/24$/) } }]);
    }
  });

  it('a review environment keeps the in-process limiter (no Redis configured)', () => {
    const cm = all(rendered('gateway', 'review'), 'ConfigMap').find((c) => c.metadata.name === 'gateway-env')!;
    expect(cm.data.CARVE_REDIS_URL).toBeUndefined();
  });
});

describe('the relay chart', () => {
  it('exposes only its metrics port and runs `carve relay`: in production one active relay and a standby, no HPA', () => {
    const manifests = rendered('relay', 'production');
    const c = appContainer(manifests);
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    expect(c.command.slice(0, 2)).toEqual(['carve', 'relay']);
    expect(only(manifests, 'Service').spec.ports).toEqual([{ name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(deploymentOf(manifests).spec.replicas).toBe(2);
    expect(all(manifests, 'HorizontalPodAutoscaler')).toEqual([]);
    expect(all(manifests, 'Ingress')).toEqual([]);
  });
});

describe('PDB and HPA rules', () => {
  const count = (manifests: Manifest[], kind: string): number => all(manifests, kind).length;
  it.each([
    [{ 'autoscaling.enabled': false, replicaCount: 1 }, 0, 0],
    [{ 'autoscaling.enabled': false, replicaCount: 3 }, 1, 0],
    [{ 'autoscaling.enabled': true, 'autoscaling.minReplicas': 1 }, 0, 1],
    [{ 'autoscaling.enabled': true, 'autoscaling.minReplicas': 2 }, 1, 1],
  ])('%j gives %d PDB and %d HPA', (set, pdbs, hpas) => {
    const manifests = rendered('insights-service', 'staging', { set });
    expect(count(manifests, 'PodDisruptionBudget')).toBe(pdbs);
    expect(count(manifests, 'HorizontalPodAutoscaler')).toBe(hpas);
    expect(validateManifests(manifests)).toEqual([]);
  });
});

describe('checksum/config', () => {
  const base = (): string => checksumOf(rendered('legacy-monolith', 'staging'));

  it('changes when the configuration changes, so the pods roll', () => {
    expect(checksumOf(rendered('legacy-monolith', 'staging', { set: { 'config.logLevel': 'warn' } }))).not.toBe(base());
    expect(checksumOf(rendered('legacy-monolith', 'staging', { set: { 'config.extraEnv': { FEATURE_X: 'on' } } }))).not.toBe(base());
  });

  it('stays the same when only the image tag changes', () => {
    expect(checksumOf(rendered('legacy-monolith', 'staging', { set: { 'image.tag': '0123abcd' } }))).toBe(base());
  });

  it('covers the gateway route table', () => {
    // Staging and production differ in their route tables; with the same env config the checksums still differ.
    const staging = rendered('gateway', 'staging');
    const sameConfig = rendered('gateway', 'production', {
      set: { 'config.logLevel': 'debug', 'config.kafkaBrokers': chartValues('gateway', 'staging').config.kafkaBrokers, 'config.extraEnv': chartValues('gateway', 'staging').config.extraEnv },
    });
    const cm = (m: Manifest[]): unknown => all(m, 'ConfigMap').find((c) => c.metadata.name === 'gateway-env')!.data;
    expect(cm(sameConfig)).toEqual(cm(staging));
    expect(checksumOf(sameConfig)).not.toBe(checksumOf(staging));
  });
});

describe('validateManifests', () => {
  it('reports a wrong type, an unknown kind and a missing name', () => {
    const issues = validateManifests([
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two', selector: {}, template: { spec: { containers: [] } } } },
      { apiVersion: 'apps/v1', kind: 'Deployement', metadata: { name: 'y' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} as any },
      { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'z' }, spec: { selector: {} } },
    ] as any);
    expect(issues.map((i) => i.object)).toEqual([
      'Deployment/x (apps/v1)',
      'Deployement/y (apps/v1)',
      'ConfigMap/? (v1)',
      'ServiceMonitor/z (monitoring.coreos.com/v1)',
    ]);
    expect(issues[0].errors.join()).toMatch(/\/spec\/replicas must be integer/);
    expect(issues[1].errors.join()).toMatch(/no schema for apps\/v1 Deployement/);
    expect(issues[3].errors.join()).toMatch(/spec\.endpoints/);
  });

  it('renders the chart text once per environment into YAML it can parse', () => {
    const text = renderChartText('relay', 'staging');
    expect(text).toContain('kind: Deployment');
  });
});
