import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  AWS_ACCOUNTS,
  CHARTS_DIR,
  DEPLOY_ENVIRONMENTS,
  DEPLOY_ORDER,
  DEPLOYABLE_CHARTS,
  defaultKubeContext,
  imageTag,
  planChart,
  probeCluster,
  renderStep,
  shellQuote,
  WORKSPACE_ROOT,
} from '../src';

const TAG = 'abc123def456';
const helmUpgrade = (steps: { kind: string; commands: string[][] }[]): string[] => steps.find((s) => s.kind === 'helm')!.commands.find((c) => c[1] === 'upgrade')!;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-deploy-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('the environments and their clusters', () => {
  it('maps staging and review to the staging account\'s cluster, production to production\'s, and deploys nothing to ops', () => {
    expect(defaultKubeContext(DEPLOY_ENVIRONMENTS.staging)).toBe('arn:aws:eks:eu-west-1:111122223333:cluster/carve-staging');
    expect(defaultKubeContext(DEPLOY_ENVIRONMENTS.review)).toBe(defaultKubeContext(DEPLOY_ENVIRONMENTS.staging));
    expect(defaultKubeContext(DEPLOY_ENVIRONMENTS.production)).toBe('arn:aws:eks:eu-west-1:444455556666:cluster/carve-production');
    expect(Object.values(DEPLOY_ENVIRONMENTS).map((e) => e.account.name)).not.toContain('ops');
    expect(AWS_ACCOUNTS.ops.hosts).toMatch(/runners/);
  });

  it('uses the image registry of the account the environment runs in', () => {
    for (const c of DEPLOYABLE_CHARTS) {
      for (const env of Object.values(DEPLOY_ENVIRONMENTS)) {
        const values = parseYaml(fs.readFileSync(path.join(CHARTS_DIR, c.chart, `values-${env.values}.yaml`), 'utf8'));
        expect({ chart: c.chart, env: env.name, repo: values.image.repository }).toEqual({ chart: c.chart, env: env.name, repo: expect.stringMatching(new RegExp(`^${env.account.id}\\.dkr\\.ecr\\.`)) });
      }
    }
  });
});

describe('a chart\'s deploy steps', () => {
  it('staging: helm upgrade --install into namespace carve, values-staging.yaml, image tag = the commit, rollback on failure, wait, 10 minutes', () => {
    const { steps, skipped } = planChart('legacy-monolith', { env: 'staging', imageTag: TAG, processEnv: {} });
    expect(skipped).toEqual([]);
    expect(steps.map((s) => s.kind)).toEqual(['helm']);
    expect(steps[0].commands).toEqual([
      ['helm', 'dependency', 'build', 'charts/legacy-monolith', '--skip-refresh'],
      [
        'helm', 'upgrade', '--install', 'legacy-monolith', 'charts/legacy-monolith',
        '--namespace', 'carve',
        '--kube-context', 'arn:aws:eks:eu-west-1:111122223333:cluster/carve-staging',
        '-f', 'charts/legacy-monolith/values-staging.yaml',
        '--set', `image.tag=${TAG}`,
        '--rollback-on-failure', '--wait=watcher', '--timeout', '10m',
      ],
    ]);
    expect(steps[0].image).toBe(`111122223333.dkr.ecr.eu-west-1.amazonaws.com/carve/legacy-monolith:${TAG}`);
    expect(steps[0].why).toMatch(/legacy migrations in its init container/);
  });

  it('production: the production context and values; the context can be overridden', () => {
    const cmd = helmUpgrade(planChart('gateway', { env: 'production', imageTag: TAG, processEnv: {} }).steps);
    expect(cmd).toEqual(expect.arrayContaining(['arn:aws:eks:eu-west-1:444455556666:cluster/carve-production', 'charts/gateway/values-production.yaml']));
    const overridden = helmUpgrade(planChart('gateway', { env: 'production', imageTag: TAG, processEnv: { CARVE_KUBE_CONTEXT: 'prod-admin' } }).steps);
    expect(overridden[overridden.indexOf('--kube-context') + 1]).toBe('prod-admin');
  });

  it('review: namespace review-<merge request iid>, created on install, the gateway at mr-<iid>; without an iid it says what to set', () => {
    const steps = planChart('gateway', { env: 'review', imageTag: TAG, processEnv: { CI_MERGE_REQUEST_IID: '42' } }).steps;
    expect(steps.map((s) => s.kind)).toEqual(['helm']); // Postgres transport: no topics Job
    const cmd = helmUpgrade(steps);
    expect(shellQuote(cmd)).toContain('--namespace review-42 --create-namespace --kube-context arn:aws:eks:eu-west-1:111122223333:cluster/carve-staging -f charts/gateway/values-review.yaml');
    expect(cmd).toEqual(expect.arrayContaining(['--set', 'ingress.host=mr-42.review.staging.carve.example.com']));
    expect(() => planChart('gateway', { env: 'review', imageTag: TAG, processEnv: {} })).toThrow('the review environment needs a merge request id');
    expect(() => planChart('gateway', { env: 'qa', imageTag: TAG, processEnv: {} })).toThrow('unknown environment qa');
  });

  it('relay with Kafka: the gateway chart\'s topics Job runs first, as a plain Job named after the commit', () => {
    const { steps } = planChart('relay', { env: 'staging', imageTag: TAG, processEnv: {} });
    expect(steps.map((s) => s.kind)).toEqual(['kafka-topics', 'helm']);
    expect(steps[0].commands.map((c) => c.slice(5))).toEqual([
      ['apply', '-f', 'dist/deploy/staging/gateway-kafka-topics.yaml'],
      ['wait', '--for=condition=complete', `job/gateway-kafka-topics-${TAG}`, '--timeout=300s'],
    ]);
    const { manifests } = renderStep(steps[0], scratch);
    expect(manifests).toHaveLength(1);
    expect(manifests[0]).toMatchObject({ kind: 'Job', metadata: { name: `gateway-kafka-topics-${TAG}`, namespace: 'carve' }, spec: { ttlSecondsAfterFinished: 86400 } });
    expect(Object.keys(manifests[0].metadata.annotations).filter((a) => a.startsWith('helm.sh/'))).toEqual([]);
    expect(manifests[0].spec.template.spec.containers[0].image).toBe(`111122223333.dkr.ecr.eu-west-1.amazonaws.com/carve/carve-cli:${TAG}`);
    expect(manifests[0].spec.template.spec.containers[0].command).toEqual(['carve', 'kafka', 'ensure-topics']);
  });

  it('skips a chart whose app has not landed (its project.json does not list the app)', () => {
    for (const c of DEPLOYABLE_CHARTS) {
      const project = JSON.parse(fs.readFileSync(path.join(CHARTS_DIR, c.chart, 'project.json'), 'utf8'));
      const landed = project.implicitDependencies.includes(c.app);
      const plan = planChart(c.chart, { env: 'staging', imageTag: TAG, processEnv: {} });
      expect({ chart: c.chart, steps: plan.steps.length > 0 }).toEqual({ chart: c.chart, steps: landed });
      if (!landed) expect(plan.skipped[0].reason).toContain('has not landed');
    }
  });

  it('tags images with the commit (12 hex digits of HEAD) unless CARVE_IMAGE_TAG says otherwise', () => {
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' }).stdout.trim();
    expect(imageTag({})).toBe(head.slice(0, 12));
    expect(imageTag({ CARVE_IMAGE_TAG: 'v1.2.3' })).toBe('v1.2.3');
    expect(() => imageTag({ CARVE_IMAGE_TAG: 'no/slashes' })).toThrow('is not a valid image tag');
  });
});

describe('reaching a cluster', () => {
  it('without any kubeconfig: not reachable, without starting a process', () => {
    expect(probeCluster('ctx', { HOME: scratch })).toEqual({ reachable: false, reason: 'no kubeconfig: KUBECONFIG is unset and ~/.kube/config does not exist' });
    expect(probeCluster('ctx', { KUBECONFIG: path.join(scratch, 'nope') }).reason).toContain('names no existing file');
  });

  it('with a kubeconfig whose API server does not answer as Kubernetes: kubectl says so, quickly', async () => {
    // A loopback server that answers every request with 500: the API is "there" but not usable.
    const server = http.createServer((_req, res) => res.writeHead(500).end('no'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const kubeconfig = path.join(scratch, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: test, context: {cluster: c, user: u}}]\ncurrent-context: test\n`,
    );
    try {
      const started = Date.now();
      const probe = await new Promise<ReturnType<typeof probeCluster>>((resolve) => setImmediate(() => resolve(probeCluster('test', { KUBECONFIG: kubeconfig, HOME: scratch, PATH: process.env.PATH }))));
      expect(probe.reachable).toBe(false);
      expect(probe.reason).toContain('kubectl cannot reach context test');
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      server.close();
    }
  });
});

describe('the deploy target of each chart project', () => {
  it('runs carve-helm deploy per configuration (staging by default), after the charts before it in DEPLOY_ORDER', () => {
    for (const c of DEPLOYABLE_CHARTS) {
      const project = JSON.parse(fs.readFileSync(path.join(CHARTS_DIR, c.chart, 'project.json'), 'utf8'));
      const deploy = project.targets.deploy;
      expect(deploy.defaultConfiguration).toBe('staging');
      for (const env of Object.keys(DEPLOY_ENVIRONMENTS)) expect(deploy.configurations[env].command).toBe(`node tools/helm/bin/carve-helm.js deploy ${c.chart} --env ${env}`);
      const before = DEPLOY_ORDER.slice(0, DEPLOY_ORDER.indexOf(c.chart as (typeof DEPLOY_ORDER)[number]))
        .filter((b) => !(c.chart.endsWith('-service') && b.endsWith('-service')))
        .map((b) => `chart-${b}`);
      expect({ chart: c.chart, after: (deploy.dependsOn ?? []).flatMap((d: { projects: string[] }) => d.projects) }).toEqual({ chart: c.chart, after: before });
    }
    expect([...DEPLOY_ORDER].sort()).toEqual(DEPLOYABLE_CHARTS.map((c) => c.chart).sort());
  });

  it('with no cluster: renders into dist/deploy/, prints the exact commands, says it is a dry run, exits 0', () => {
    const run = spawnSync(process.execPath, [path.join(WORKSPACE_ROOT, 'tools/helm/bin/carve-helm.js'), 'deploy', 'legacy-monolith', '--env', 'production'], {
      cwd: WORKSPACE_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: scratch, CARVE_IMAGE_TAG: TAG },
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('dry run: no cluster reachable (no kubeconfig');
    expect(run.stdout).toContain(
      `helm upgrade --install legacy-monolith charts/legacy-monolith --namespace carve --kube-context arn:aws:eks:eu-west-1:444455556666:cluster/carve-production -f charts/legacy-monolith/values-production.yaml --set image.tag=${TAG} --rollback-on-failure --wait=watcher --timeout 10m`,
    );
    const rendered = fs.readFileSync(path.join(WORKSPACE_ROOT, 'dist/deploy/production/legacy-monolith.yaml'), 'utf8');
    expect(rendered).toContain(`image: "444455556666.dkr.ecr.eu-west-1.amazonaws.com/carve/legacy-monolith:${TAG}"`);
  });
});
