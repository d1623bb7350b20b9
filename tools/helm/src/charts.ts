import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { HelmToolError } from './errors';
import { helm, HelmResult } from './helm';
import { CACHE_DIR, CHARTS_DIR, DIST_CHARTS_DIR } from './paths';

/** Kubernetes version the charts are rendered and linted for (EKS; kubectl in the same npm package is 1.33). */
export const KUBE_VERSION = '1.33.0';
/** Namespace every Carve release lives in (one cluster per AWS account). */
export const DEFAULT_NAMESPACE = 'carve';

export interface ChartMeta {
  apiVersion: string;
  name: string;
  version: string;
  type?: 'application' | 'library';
  dependencies?: Array<{ name: string; version: string; repository: string }>;
}

export type Manifest = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string } & Record<string, any> };

export function chartDir(chart: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(chart)) throw new HelmToolError(`not a chart name: ${chart}`, 'use the folder name under charts/');
  const dir = path.join(CHARTS_DIR, chart);
  if (!fs.existsSync(path.join(dir, 'Chart.yaml'))) {
    throw new HelmToolError(`no chart named ${chart} (charts/${chart}/Chart.yaml is missing)`, `charts: ${listCharts().join(', ')}`);
  }
  return dir;
}

export function readChart(chart: string): ChartMeta {
  return parseYaml(fs.readFileSync(path.join(chartDir(chart), 'Chart.yaml'), 'utf8')) as ChartMeta;
}

/** Every chart under charts/ (library and thin), sorted. */
export function listCharts(): string[] {
  return fs
    .readdirSync(CHARTS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(CHARTS_DIR, d.name, 'Chart.yaml')))
    .map((d) => d.name)
    .sort();
}

/** The deployable (non-library) charts. */
export function listDeployableCharts(): string[] {
  return listCharts().filter((c) => readChart(c).type !== 'library');
}

/** Environments a chart has values for: one per values-<env>.yaml. */
export function chartEnvironments(chart: string): string[] {
  return fs
    .readdirSync(chartDir(chart))
    .map((f) => /^values-([a-z0-9-]+)\.yaml$/.exec(f)?.[1])
    .filter((e): e is string => Boolean(e))
    .sort();
}

function envValuesFile(chart: string, env: string): string {
  const file = path.join(chartDir(chart), `values-${env}.yaml`);
  if (!fs.existsSync(file)) {
    throw new HelmToolError(`chart ${chart} has no values for environment ${env}`, `environments: ${chartEnvironments(chart).join(', ') || 'none'}`);
  }
  return file;
}

// ---------------------------------------------------------------------------------------------
// Dependencies: the library chart is packaged into charts/<name>/charts/ (ignored by git) by
// `helm dependency build`, re-run only when the library's files, Chart.yaml or Chart.lock change.

function hashTree(hash: ReturnType<typeof createHash>, root: string, rel = ''): void {
  const dir = path.join(root, rel);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const relPath = path.join(rel, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'charts' && rel === '') continue;
      hashTree(hash, root, relPath);
    } else if (entry.isFile()) {
      hash.update(`${relPath}\0`).update(fs.readFileSync(path.join(root, relPath))).update('\0');
    }
  }
}

function dependencyFingerprint(chart: string): string {
  const dir = chartDir(chart);
  const hash = createHash('sha256');
  for (const f of ['Chart.yaml', 'Chart.lock']) {
    const file = path.join(dir, f);
    if (fs.existsSync(file)) hash.update(`${f}\0`).update(fs.readFileSync(file));
  }
  for (const dep of readChart(chart).dependencies ?? []) {
    if (!dep.repository.startsWith('file://')) {
      throw new HelmToolError(`chart ${chart}: dependency ${dep.name} is not a file:// dependency`, 'charts here depend only on charts in this repository (offline)');
    }
    hash.update(`dep:${dep.name}@${dep.version}\0`);
    hashTree(hash, path.resolve(dir, dep.repository.slice('file://'.length)));
  }
  return hash.digest('hex');
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withLock<T>(name: string, fn: () => T, timeoutMs = 120_000): T {
  const lockDir = path.join(CACHE_DIR, 'helm', 'locks', `${name}.lock`);
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > timeoutMs) fs.rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // Released meanwhile: try again.
      }
      if (Date.now() > deadline) throw new HelmToolError(`timed out waiting for ${lockDir}`, 'remove it if no other helm run is going on');
      sleepSync(50);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Makes sure charts/<chart>/charts/ holds current packages of its file:// dependencies. Returns true when it rebuilt them. */
export function ensureDependencies(chart: string): boolean {
  const meta = readChart(chart);
  const deps = meta.dependencies ?? [];
  if (deps.length === 0) return false;
  const dir = chartDir(chart);
  const stampFile = path.join(CACHE_DIR, 'helm', 'deps', `${chart}.sha256`);
  const upToDate = (): boolean => {
    const stamp = fs.existsSync(stampFile) ? fs.readFileSync(stampFile, 'utf8') : '';
    return stamp === dependencyFingerprint(chart) && deps.every((d) => fs.existsSync(path.join(dir, 'charts', `${d.name}-${d.version}.tgz`)));
  };
  if (upToDate()) return false;
  return withLock(`deps-${chart}`, () => {
    if (upToDate()) return false;
    const run = helm(['dependency', 'build', dir, '--skip-refresh'], { allowFailure: true });
    if (run.status !== 0) {
      const out = `${run.stdout}${run.stderr}`.trim();
      const hint = /out of sync/i.test(out)
        ? `Chart.yaml's dependencies changed: run \`node tools/helm/bin/carve-helm.js deps ${chart} --update\` and commit Chart.lock`
        : 'check the dependencies in Chart.yaml';
      throw new HelmToolError(`helm dependency build failed for chart ${chart}`, hint, out);
    }
    fs.mkdirSync(path.dirname(stampFile), { recursive: true });
    fs.writeFileSync(stampFile, dependencyFingerprint(chart));
    return true;
  });
}

/** `helm dependency update`: rewrites Chart.lock (after a change to Chart.yaml's dependencies). */
export function updateDependencies(chart: string): void {
  withLock(`deps-${chart}`, () => {
    helm(['dependency', 'update', chartDir(chart), '--skip-refresh']);
    fs.rmSync(path.join(CACHE_DIR, 'helm', 'deps', `${chart}.sha256`), { force: true });
  });
  ensureDependencies(chart);
}

// ---------------------------------------------------------------------------------------------
// Lint and render.

export interface RenderOptions {
  /** Extra values, each passed with --set-json (so types stay exact): { 'autoscaling.enabled': true }. */
  set?: Record<string, unknown>;
  /** Extra values files, after values-<env>.yaml. */
  valuesFiles?: string[];
  releaseName?: string;
  namespace?: string;
  /** Render without the chart's values.schema.json (only to prove that the schema is what rejects a value). */
  skipSchemaValidation?: boolean;
}

function valueArgs(chart: string, env: string | undefined, options: RenderOptions): string[] {
  const args: string[] = [];
  if (env) args.push('-f', envValuesFile(chart, env));
  for (const f of options.valuesFiles ?? []) args.push('-f', f);
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set-json', `${key}=${JSON.stringify(value)}`);
  return args;
}

export interface LintResult {
  ok: boolean;
  output: string;
}

/** `helm lint --strict` of a chart, with an environment's values when given. */
export function lintChart(chart: string, env?: string, options: RenderOptions = {}): LintResult {
  ensureDependencies(chart);
  const run: HelmResult = helm(
    ['lint', '--strict', chartDir(chart), '--kube-version', KUBE_VERSION, '--namespace', options.namespace ?? DEFAULT_NAMESPACE, ...valueArgs(chart, env, options)],
    { allowFailure: true },
  );
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
}

/** `helm template` of a chart for an environment: the rendered YAML text. */
export function renderChartText(chart: string, env: string, options: RenderOptions = {}): string {
  ensureDependencies(chart);
  const args = [
    'template',
    options.releaseName ?? chart,
    chartDir(chart),
    '--namespace',
    options.namespace ?? DEFAULT_NAMESPACE,
    '--kube-version',
    KUBE_VERSION,
    ...valueArgs(chart, env, options),
  ];
  if (options.skipSchemaValidation) args.push('--skip-schema-validation');
  return helm(args).stdout;
}

/** Parses a multi-document YAML stream into its objects (empty documents dropped). */
export function parseManifests(text: string): Manifest[] {
  const objects: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new HelmToolError(`rendered YAML does not parse: ${doc.errors[0].message}`, 'check the template that produced it');
    const obj = doc.toJS() as Manifest | null;
    if (obj !== null && obj !== undefined) objects.push(obj);
  }
  return objects;
}

/** `helm template` of a chart for an environment, parsed into manifests. */
export function renderChart(chart: string, env: string, options: RenderOptions = {}): Manifest[] {
  return parseManifests(renderChartText(chart, env, options));
}

/** Renders into dist/charts/<chart>/<env>.yaml; returns the file and its manifests. */
export function renderChartToFile(
  chart: string,
  env: string,
  outDir: string = DIST_CHARTS_DIR,
  options: RenderOptions = {},
): { file: string; manifests: Manifest[] } {
  const text = renderChartText(chart, env, options);
  const file = path.join(outDir, chart, `${env}.yaml`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return { file, manifests: parseManifests(text) };
}
