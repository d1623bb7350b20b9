import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { CliError } from '../cli-error';

/*
 * `carve deploy plan --base <ref> [--head <ref>] --env staging|production|review [--json]`:
 * which deployables a change deploys, in what order, with which image tags and the exact
 * commands. It asks Nx what the change affects (`nx show projects --affected`), keeps the chart
 * projects (each has a `deploy` target and depends on its app), and asks the charts' own deploy
 * tool for the commands (`carve-helm deploy --plan-json`), so the plan shows exactly what the
 * deploy targets run. It never touches a cluster.
 */

export const PLAN_ENVIRONMENTS = ['staging', 'production', 'review'] as const;
export type PlanEnvironment = (typeof PLAN_ENVIRONMENTS)[number];

/** Implicit dependencies every chart has that are not its app. */
const CHART_INFRA = new Set(['chart-carve-service', 'helm-tools']);
const TOPICS_FILE = 'libs/shared/messaging/topics.yaml';

export type Wave = 'migrations' | 'topics' | 'relay' | 'services' | 'gateway';
const WAVES: Wave[] = ['migrations', 'topics', 'relay', 'services', 'gateway'];

export const ORDER_EXPLAINED = [
  '1. migrations: the monolith, and every service whose migrations changed, deploy first; their init container migrates (under an advisory lock) before the new version serves, and migrations are expand/contract, so the old pods keep working meanwhile',
  '2. topics: the gateway chart\'s Kafka topics Job (carve kafka ensure-topics, idempotent) runs on its own before the relay, so no event goes to a topic that does not exist yet',
  '3. relay: it ships the outbox to the topics',
  '4. services: the rest of the services, once what they consume and read is in place',
  '5. gateway last: its route table may send traffic to anything deployed above (its own pre-upgrade hook re-runs the topics Job)',
];

interface HelmStep {
  kind: 'kafka-topics' | 'helm';
  chart: string;
  release: string;
  environment: string;
  namespace: string;
  kubeContext: string;
  imageTag: string;
  image: string;
  commands: string[][];
  why: string;
}

export interface PlanStep {
  order: number;
  wave: Wave;
  chart: string;
  /** Nx project of the chart, and of the app it deploys. */
  project: string;
  app: string;
  kind: HelmStep['kind'];
  namespace: string;
  kubeContext: string;
  image: string;
  imageTag: string;
  why: string;
  commands: string[];
}

export interface DeployPlan {
  environment: PlanEnvironment;
  base: string;
  head: string;
  imageTag: string;
  changedFiles: number;
  /** Affected projects that are deployed (apps) and their charts. */
  affected: { apps: string[]; charts: string[] };
  steps: PlanStep[];
  /** Affected charts that do not deploy (their app has not landed). */
  skipped: Array<{ chart: string; reason: string }>;
  /** Deployable charts the change does not touch. */
  unchanged: string[];
  /** Images CI must build for this plan (every step's image, by Nx project). */
  images: string[];
  order: string[];
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  return { status: r.error ? null : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? r.error.message : '') };
}

/** The repository (git top level) the command runs in; it must be an Nx workspace. */
export function workspaceRoot(cwd: string = process.cwd()): string {
  const top = run('git', ['rev-parse', '--show-toplevel'], cwd);
  if (top.status !== 0) throw new CliError(`${cwd} is not inside a git checkout`, 'run carve deploy plan from the Carve repository');
  const root = top.stdout.trim();
  if (!fs.existsSync(path.join(root, 'nx.json'))) throw new CliError(`${root} has no nx.json`, 'run carve deploy plan from the Carve repository');
  return root;
}

function commitOf(root: string, ref: string, flag: string): string {
  const r = run('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], root);
  if (r.status !== 0) throw new CliError(`${flag} ${ref} is not a commit in ${root}`, 'give a branch, tag or SHA that exists here (git fetch first in CI)');
  return r.stdout.trim();
}

function nx(root: string, args: string[]): string {
  const bin = path.join(root, 'node_modules', '.bin', 'nx');
  if (!fs.existsSync(bin)) throw new CliError(`nx is not installed in ${root}`, 'run npm ci at the repository root');
  const r = run(bin, args, root, { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' });
  if (r.status !== 0) throw new CliError(`nx ${args.slice(0, 3).join(' ')} failed: ${(r.stderr || r.stdout).trim().split('\n').find(Boolean) ?? `exit ${r.status}`}`, 'run the same nx command to see the whole error');
  return r.stdout;
}

interface ChartProject {
  chart: string;
  project: string;
  /** The app project the chart lists (undefined until the app has landed). */
  app?: string;
  migrations: boolean;
}

/** Every chart folder with a `deploy` target, read from its project.json. */
export function chartProjects(root: string): ChartProject[] {
  const dir = path.join(root, 'charts');
  const out: ChartProject[] = [];
  for (const chart of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, chart, 'project.json');
    if (!fs.existsSync(file)) continue;
    const project = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; implicitDependencies?: string[]; targets?: Record<string, unknown> };
    if (!project.targets?.deploy) continue;
    const values = parseYaml(fs.readFileSync(path.join(dir, chart, 'values.yaml'), 'utf8')) ?? {};
    out.push({
      chart,
      project: project.name,
      app: (project.implicitDependencies ?? []).find((d) => !CHART_INFRA.has(d) && !d.startsWith('chart-')),
      migrations: Boolean(values.migrations?.enabled),
    });
  }
  return out;
}

interface Graph {
  roots: Map<string, string>;
  deps: Map<string, string[]>;
}

/** The Nx project graph (roots and dependencies between workspace projects), from `nx graph --file`. */
function projectGraph(root: string): Graph {
  const file = path.join(os.tmpdir(), `carve-plan-graph-${process.pid}-${Date.now()}.json`);
  try {
    nx(root, ['graph', `--file=${file}`]);
    const { graph } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      graph: { nodes: Record<string, { data: { root: string } }>; dependencies: Record<string, Array<{ target: string }>> };
    };
    const roots = new Map(Object.entries(graph.nodes).map(([name, n]) => [name, n.data.root]));
    const deps = new Map(Object.entries(graph.dependencies).map(([name, d]) => [name, d.map((x) => x.target).filter((t) => roots.has(t))]));
    return { roots, deps };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** A project and everything it depends on in the graph. */
function closure(graph: Graph, name: string): Set<string> {
  const seen = new Set<string>();
  const queue = [name];
  while (queue.length > 0) {
    const next = queue.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    queue.push(...(graph.deps.get(next) ?? []));
  }
  return seen;
}

/** The project a file belongs to: the one with the longest root that contains it. */
function ownerOf(graph: Graph, file: string): string | undefined {
  let best: string | undefined;
  let bestLength = -1;
  for (const [name, root] of graph.roots) {
    if ((file.startsWith(`${root}/`) || root === '.') && root.length > bestLength) {
      best = name;
      bestLength = root.length;
    }
  }
  return best;
}

function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface PlanOptions {
  base: string;
  head?: string;
  env: string;
  reviewId?: string;
  cwd?: string;
}

export function buildPlan(options: PlanOptions): DeployPlan {
  if (!(PLAN_ENVIRONMENTS as readonly string[]).includes(options.env)) {
    throw new CliError(`unknown environment "${options.env}"`, `use one of ${PLAN_ENVIRONMENTS.join(', ')}`);
  }
  const env = options.env as PlanEnvironment;
  const root = workspaceRoot(options.cwd);
  const base = commitOf(root, options.base, '--base');
  const head = commitOf(root, options.head ?? 'HEAD', '--head');
  const reviewId = options.reviewId ?? process.env.CARVE_REVIEW_ID ?? process.env.CI_MERGE_REQUEST_IID;
  if (env === 'review' && !reviewId) throw new CliError('the review environment needs a merge request id', 'pass --review-id <iid> (GitLab sets CI_MERGE_REQUEST_IID in merge request pipelines)');
  const imageTag = process.env.CARVE_IMAGE_TAG?.trim() || head.slice(0, 12);

  const affected = new Set(JSON.parse(nx(root, ['show', 'projects', '--affected', `--base=${base}`, `--head=${head}`, '--json'])) as string[]);
  const changed = run('git', ['diff', '--name-only', `${base}...${head}`], root).stdout.split('\n').filter(Boolean);
  const charts = chartProjects(root);
  const affectedCharts = charts.filter((c) => affected.has(c.project));

  // The exact commands, from the same code the deploy targets run.
  const helmArgs = ['tools/helm/bin/carve-helm.js', 'deploy', ...affectedCharts.map((c) => c.chart), '--env', env, '--image-tag', imageTag, '--plan-json'];
  if (reviewId) helmArgs.push('--review-id', reviewId);
  let helmPlan: { steps: HelmStep[]; skipped: Array<{ chart: string; reason: string }> } = { steps: [], skipped: [] };
  if (affectedCharts.length > 0) {
    const r = run(process.execPath, helmArgs, root, { ...process.env, CARVE_IMAGE_TAG: imageTag });
    if (r.status !== 0) throw new CliError(`carve-helm deploy --plan-json failed: ${(r.stderr || r.stdout).trim().split('\n').find(Boolean) ?? ''}`, `run node ${helmArgs.join(' ')}`);
    helmPlan = JSON.parse(r.stdout);
  }

  // A deployable's schema changed when a file under a migrations/ folder changed in the app or in
  // a library it depends on (insights-service's migrations live in insights-data-access).
  const migrationFiles = changed.filter((f) => /(^|\/)migrations\//.test(f));
  const graph = migrationFiles.length > 0 ? projectGraph(root) : undefined;
  const migrationsChanged = (c: ChartProject): string[] => {
    if (!c.migrations || !c.app || !graph) return [];
    const mine = closure(graph, c.app);
    return migrationFiles.filter((f) => mine.has(ownerOf(graph, f) ?? ''));
  };

  const byChart = new Map(charts.map((c) => [c.chart, c]));
  const steps: PlanStep[] = [];
  for (const s of helmPlan.steps) {
    const c = byChart.get(s.chart)!;
    let wave: Wave;
    let why = s.why;
    if (s.kind === 'kafka-topics') wave = 'topics';
    else if (s.chart === 'gateway') {
      wave = 'gateway';
      why = `${why}; last, so its routes only point at what already runs`;
    } else if (s.chart === 'relay') wave = 'relay';
    else if (s.chart === 'legacy-monolith') {
      wave = 'migrations';
      const files = migrationsChanged(c);
      why = `${why}${files.length > 0 ? ` (changed: ${files.join(', ')})` : '; first either way: it owns the legacy outbox the relay ships'}`;
    } else {
      const files = migrationsChanged(c);
      wave = files.length > 0 ? 'migrations' : 'services';
      if (files.length > 0) why = `${why} (changed: ${files.join(', ')})`;
    }
    if (s.kind === 'kafka-topics' && changed.includes(TOPICS_FILE)) why = `${why}; ${TOPICS_FILE} changed`;
    const app = s.kind === 'kafka-topics' ? 'carve-cli' : (c.app ?? '');
    steps.push({ order: 0, wave, chart: s.chart, project: c.project, app, kind: s.kind, namespace: s.namespace, kubeContext: s.kubeContext, image: s.image, imageTag: s.imageTag, why, commands: s.commands.map(shellQuote) });
  }
  // Stable within a wave: the monolith before services; helm's own order otherwise.
  steps.sort((a, b) => WAVES.indexOf(a.wave) - WAVES.indexOf(b.wave) || Number(b.chart === 'legacy-monolith') - Number(a.chart === 'legacy-monolith'));
  steps.forEach((s, i) => (s.order = i + 1));

  const images = [...new Set(steps.map((s) => s.app))].filter(Boolean).sort();
  return {
    environment: env,
    base,
    head,
    imageTag,
    changedFiles: changed.length,
    affected: {
      apps: affectedCharts.map((c) => c.app).filter((a): a is string => Boolean(a) && affected.has(a!)).sort(),
      charts: affectedCharts.map((c) => c.project).sort(),
    },
    steps,
    skipped: helmPlan.skipped,
    unchanged: charts.filter((c) => !affected.has(c.project)).map((c) => c.chart),
    images,
    order: ORDER_EXPLAINED,
  };
}

export function formatPlan(plan: DeployPlan): string {
  const lines: string[] = [];
  lines.push(`deploy plan for ${plan.environment}: ${plan.base.slice(0, 12)}..${plan.head.slice(0, 12)} (${plan.changedFiles} changed files), image tag ${plan.imageTag}`);
  if (plan.steps.length === 0) {
    lines.push('nothing to deploy: the change touches no deployable chart or app');
  } else {
    lines.push(`affected: apps ${plan.affected.apps.join(', ') || '(none)'}; charts ${plan.affected.charts.join(', ')}`);
    lines.push('');
    for (const s of plan.steps) {
      const what = s.kind === 'kafka-topics' ? `${s.chart} Kafka topics Job` : s.chart;
      lines.push(`${s.order}. [${s.wave}] ${what} -> namespace ${s.namespace}, context ${s.kubeContext}`);
      lines.push(`   image ${s.image}`);
      lines.push(`   why here: ${s.why}`);
      for (const c of s.commands) lines.push(`   $ ${c}`);
    }
  }
  for (const s of plan.skipped) lines.push(`skipped: ${s.chart}: ${s.reason}`);
  if (plan.unchanged.length > 0) lines.push(`not deploying (unchanged): ${plan.unchanged.join(', ')}`);
  if (plan.images.length > 0) lines.push(`images to build and push, tagged ${plan.imageTag}: ${plan.images.join(', ')}`);
  lines.push('');
  lines.push('order:');
  for (const o of plan.order) lines.push(`  ${o}`);
  lines.push(`run it: npx nx affected -t deploy --configuration=${plan.environment} --base=${plan.base.slice(0, 12)} --head=${plan.head.slice(0, 12)} --exclude-task-dependencies`);
  return `${lines.join('\n')}\n`;
}

/** `carve deploy plan`: what a change deploys, in which order, with which tags and commands. */
export function registerDeploy(program: Command): void {
  const deploy = program.command('deploy').description('plan per-service deploys from what a change affects (Nx) and the Helm charts');
  deploy
    .command('plan')
    .description('which deployables a change deploys, in what order (migrations first, gateway last), with image tags and the exact helm commands')
    .requiredOption('--base <ref>', 'the last deployed commit (or the merge request\'s base)')
    .option('--head <ref>', 'the commit to deploy', 'HEAD')
    .requiredOption('--env <env>', `environment: ${PLAN_ENVIRONMENTS.join(', ')}`)
    .option('--review-id <iid>', 'review: the merge request iid (default CI_MERGE_REQUEST_IID)')
    .option('--json', 'print the plan as JSON')
    .action((opts: { base: string; head: string; env: string; reviewId?: string; json?: boolean }) => {
      const plan = buildPlan({ base: opts.base, head: opts.head, env: opts.env, reviewId: opts.reviewId });
      process.stdout.write(opts.json ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
    });
}
