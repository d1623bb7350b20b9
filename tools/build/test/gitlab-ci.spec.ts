/**
 * The pipeline cannot run here, so its structure is pinned by this test: GitLab's own parsing
 * (gitlab-ci-local: the YAML, the CI schema, and the jobs a merge request and main get), stages in
 * order, which jobs run on merge requests and which on main, images built once with BuildKit and
 * promoted to production by digest, an SBOM and a scan, production behind a manual start, review
 * environments with a stop job, and every file and Nx configuration the scripts name exists. The
 * image scripts run here against stand-ins for buildctl and crane that record their arguments.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { WORKSPACE_ROOT } from '../src';

type Job = Record<string, any>;
const ci = parseYaml(fs.readFileSync(path.join(WORKSPACE_ROOT, '.gitlab-ci.yml'), 'utf8')) as Record<string, any>;
const RESERVED = new Set(['workflow', 'stages', 'variables', 'default', 'include', 'image', 'services', 'cache', 'before_script', 'after_script']);

/** A job with its `extends` applied the way GitLab does (deep merge of hashes, arrays replaced). */
function resolved(name: string): Job {
  const merge = (a: any, b: any): any => {
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      return Object.fromEntries([...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, k in b ? merge(a[k], b[k]) : a[k]]));
    }
    return b;
  };
  const job = ci[name];
  const parents = ([] as string[]).concat(job.extends ?? []);
  return merge(parents.reduce((acc, p) => merge(acc, resolved(p)), {} as Job), job);
}

const jobs = Object.keys(ci).filter((k) => !RESERVED.has(k) && !k.startsWith('.'));
const job = (name: string): Job => resolved(name);
const script = (name: string): string => [...(job(name).before_script ?? []), ...(job(name).script ?? [])].join('\n');
const rulesOf = (name: string): Array<{ if?: string; when?: string }> => job(name).rules ?? [];
const onMr = (name: string): boolean => rulesOf(name).some((r) => r.if?.includes('$CI_PIPELINE_SOURCE == "merge_request_event"') && !r.if.includes('!='));
const onMain = (name: string): boolean => rulesOf(name).some((r) => r.if?.includes('$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH'));

/** Runs gitlab-ci-local (npm) on a copy of the pipeline in a scratch git repository. */
function gitlabCiLocal(args: string[]): { status: number | null; out: string; stdout: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-gitlab-ci-'));
  try {
    fs.copyFileSync(path.join(WORKSPACE_ROOT, '.gitlab-ci.yml'), path.join(dir, '.gitlab-ci.yml'));
    const git = (...a: string[]) => spawnSync('git', a, { cwd: dir, encoding: 'utf8' });
    git('init', '-q');
    git('-c', 'user.email=ci@carve.invalid', '-c', 'user.name=ci', 'commit', '-q', '--allow-empty', '-m', 'pipeline');
    const pkg = path.join(WORKSPACE_ROOT, 'node_modules', 'gitlab-ci-local', 'package.json');
    const bin = path.join(path.dirname(pkg), JSON.parse(fs.readFileSync(pkg, 'utf8')).bin as string);
    const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    return { status: r.status, out: `${r.stdout}\n${r.stderr}`, stdout: r.stdout };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The job names gitlab-ci-local lists for a pipeline with these predefined variables. */
function listedJobs(vars: Record<string, string>): string[] {
  const args = ['--list', '--ignore-predefined-vars', Object.keys(vars).join(',')];
  for (const [k, v] of Object.entries(vars)) args.push('--variable', `${k}=${v}`);
  const { status, out, stdout } = gitlabCiLocal(args);
  if (status !== 0) throw new Error(`gitlab-ci-local --list failed (${status}):\n${out}`);
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => /^name\s+description\s+stage/.test(l));
  expect(header).toBeGreaterThanOrEqual(0);
  const table = lines.slice(header + 1);
  const end = table.findIndex((l) => l.trim() === '');
  return (end < 0 ? table : table.slice(0, end)).map((l) => l.split(/\s+/)[0]);
}

describe('.gitlab-ci.yml as GitLab reads it (gitlab-ci-local)', () => {
  it('parses and validates against the GitLab CI schema; every script line is a string', () => {
    const { status, out } = gitlabCiLocal(['--preview']);
    expect({ status, out: status === 0 ? '' : out }).toEqual({ status: 0, out: '' });
    expect(out).not.toMatch(/non string value|is not valid/i);
  }, 180_000);

  it('a merge request gets the checks, the images with their SBOM and scan, and its review environment', () => {
    expect(listedJobs({ CI_PIPELINE_SOURCE: 'merge_request_event', CI_MERGE_REQUEST_IID: '7' })).toEqual([
      'install', 'verify', 'images', 'sbom', 'image-scan', 'helm-lint', 'review', 'stop-review',
    ]);
  }, 180_000);

  it('main gets the checks, the images, staging, and production (plan by hand, then promotion by digest and the deploy)', () => {
    expect(listedJobs({ CI_PIPELINE_SOURCE: 'push', CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main' })).toEqual([
      'install', 'verify', 'images', 'sbom', 'image-scan', 'helm-lint', 'deploy-staging', 'plan-production', 'promote-images', 'deploy-production',
    ]);
  }, 180_000);
});

/** Runs a tools/build/ci script with stand-in commands on PATH that log their arguments to calls.log. */
function runCiScript(script: string, args: string[], fakes: Record<string, string>): { status: number | null; out: string; calls: string[]; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-ci-script-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(fakes)) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${dir}/calls.log"\n${body}\n`, { mode: 0o755 });
  }
  const r = spawnSync('sh', [path.join(WORKSPACE_ROOT, 'tools/build/ci', script), ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}`, CI_COMMIT_SHA: 'c'.repeat(40), CI_PROJECT_URL: 'https://gitlab.invalid/carve' },
  });
  const log = path.join(dir, 'calls.log');
  return { status: r.status, out: `${r.stdout}${r.stderr}`, calls: fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [], dir };
}

describe('the image scripts (BuildKit, promotion by digest)', () => {
  const D1 = `sha256:${'1'.repeat(64)}`;
  const D2 = `sha256:${'2'.repeat(64)}`;

  it('build-images.sh: one buildctl build per image, pushed with the commit tag, its digest recorded', () => {
    // buildctl's stand-in writes the metadata file it is given, as BuildKit does.
    const buildctl = `meta=""; prev=""; for a in "$@"; do [ "$prev" = "--metadata-file" ] && meta="$a"; prev="$a"; done
case "$*" in *carve/gateway:*) d="${D1}" ;; *) d="${D2}" ;; esac
printf '{"containerimage.digest":"%s"}' "$d" > "$meta"`;
    const dir0 = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-images-'));
    const images = path.join(dir0, 'images.txt');
    const digests = path.join(dir0, 'digests.txt');
    fs.writeFileSync(images, 'gateway apps/gateway/Dockerfile dist/apps/gateway\ncarve-cli tools/carve/Dockerfile dist/tools/carve\n');
    const r = runCiScript('build-images.sh', [images, 'reg.example', 'abc123def456', digests], { buildctl });
    expect({ status: r.status, out: r.status === 0 ? '' : r.out }).toEqual({ status: 0, out: '' });
    expect(r.calls).toHaveLength(2);
    expect(r.calls[0]).toContain('--frontend dockerfile.v0 --local context=. --local dockerfile=apps/gateway --opt filename=Dockerfile');
    expect(r.calls[0]).toContain('--output type=image,name=reg.example/carve/gateway:abc123def456,push=true');
    expect(r.calls[1]).toContain('--local dockerfile=tools/carve');
    expect(fs.readFileSync(digests, 'utf8')).toBe(`gateway reg.example/carve/gateway@${D1}\ncarve-cli reg.example/carve/carve-cli@${D2}\n`);
  });

  it('promote-images.sh: copies the built digest to the production registry and checks it; refuses an image this pipeline did not build', () => {
    const dir0 = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-promote-'));
    const images = path.join(dir0, 'images-production.txt');
    const digests = path.join(dir0, 'image-digests.txt');
    fs.writeFileSync(digests, `gateway staging.example/carve/gateway@${D1}\ncarve-cli staging.example/carve/carve-cli@${D2}\n`);
    fs.writeFileSync(images, 'gateway apps/gateway/Dockerfile dist/apps/gateway\n');
    const crane = `[ "$1" = digest ] && echo "${D1}"; exit 0`;
    const ok = runCiScript('promote-images.sh', [images, digests, 'prod.example', 'abc123def456'], { crane });
    expect({ status: ok.status, out: ok.status === 0 ? '' : ok.out }).toEqual({ status: 0, out: '' });
    expect(ok.calls).toEqual([`crane copy staging.example/carve/gateway@${D1} prod.example/carve/gateway:abc123def456`, 'crane digest prod.example/carve/gateway:abc123def456']);

    const wrong = runCiScript('promote-images.sh', [images, digests, 'prod.example', 'abc123def456'], { crane: `[ "$1" = digest ] && echo "${D2}"; exit 0` });
    expect(wrong.status).toBe(1);
    expect(wrong.out).toContain(`not the promoted ${D1}`);

    fs.writeFileSync(images, 'roadmaps-service apps/roadmaps-service/Dockerfile dist/apps/roadmaps-service\n');
    const missing = runCiScript('promote-images.sh', [images, digests, 'prod.example', 'abc123def456'], { crane });
    expect(missing.status).toBe(1);
    expect(missing.out).toContain('the image of roadmaps-service was not built by this pipeline');
    expect(missing.calls).toEqual([]);
  });
});

describe('.gitlab-ci.yml', () => {
  it('has the stages in order: install, verify, images, helm, deploy-staging, deploy-production, review', () => {
    expect(ci.stages).toEqual(['install', 'verify', 'images', 'helm', 'deploy-staging', 'deploy-production', 'review']);
    for (const name of jobs) expect({ name, stage: ci.stages.includes(job(name).stage) }).toEqual({ name, stage: true });
  });

  it('runs pipelines for merge requests and for main only, and every job has rules', () => {
    expect(ci.workflow.rules.map((r: any) => r.if)).toEqual(['$CI_PIPELINE_SOURCE == "merge_request_event"', expect.stringContaining('$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH')]);
    for (const name of jobs) expect({ name, rules: rulesOf(name).length > 0 }).toEqual({ name, rules: true });
  });

  it('needs only jobs that exist, in the same or an earlier stage, and that run in the same pipelines', () => {
    for (const name of jobs) {
      for (const need of ([] as any[]).concat(job(name).needs ?? []).map((n) => (typeof n === 'string' ? n : n.job))) {
        expect({ name, need, exists: jobs.includes(need) }).toEqual({ name, need, exists: true });
        expect(ci.stages.indexOf(job(need).stage)).toBeLessThanOrEqual(ci.stages.indexOf(job(name).stage));
        if (onMr(name)) expect({ name, need, onMr: onMr(need) }).toEqual({ name, need, onMr: true });
        if (onMain(name)) expect({ name, need, onMain: onMain(need) }).toEqual({ name, need, onMain: true });
      }
    }
  });

  it('verify: affected lint, typecheck, test and build against the merge request base or the last good main, with Postgres and the Kafka broker', () => {
    expect(onMr('verify') && onMain('verify')).toBe(true);
    const s = script('verify');
    expect(s).toMatch(/npx nx affected -t lint typecheck test build --base="\$BASE" --head="\$CI_COMMIT_SHA"/);
    expect(s).toContain('BASE="$(sh tools/build/ci/base-sha.sh)"');
    expect(s).toContain('npx carve kafka up');
    expect(job('verify').after_script.join('\n')).toContain('npx carve kafka down');
    expect(job('verify').services.map((x: any) => x.name ?? x)).toEqual([expect.stringMatching(/^postgres:\d+/)]);
    expect(job('verify').variables.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    expect(job('verify').artifacts.paths).toEqual(expect.arrayContaining(['dist/images.txt', 'dist/apps/', 'dist/tools/']));
    const base = fs.readFileSync(path.join(WORKSPACE_ROOT, 'tools/build/ci/base-sha.sh'), 'utf8');
    expect(base).toContain('CI_MERGE_REQUEST_DIFF_BASE_SHA');
    expect(base).toContain('status=success');
  });

  it('images: BuildKit (a pinned buildkitd service), built once into the staging registry with the commit tag, digests kept; an SBOM and a scan of each digest', () => {
    expect(onMr('images') && onMain('images')).toBe(true);
    expect(ci.variables.BUILDKIT_IMAGE).toMatch(/^moby\/buildkit:v[\d.]+@sha256:[a-f0-9]{64}$/);
    expect(job('images').services).toEqual([{ name: '$BUILDKIT_IMAGE', alias: 'buildkitd', command: ['--addr', 'tcp://0.0.0.0:1234'] }]);
    expect(job('images').variables.BUILDKIT_HOST).toBe('tcp://buildkitd:1234');
    expect(script('images')).toContain('IMAGE_TAG="$(echo "$CI_COMMIT_SHA" | cut -c1-12)"');
    expect(script('images')).toContain('sh tools/build/ci/build-images.sh dist/images.txt "$STAGING_REGISTRY" "$IMAGE_TAG" dist/image-digests.txt');
    expect(job('images').artifacts.paths).toEqual(['dist/image-digests.txt']);
    expect(JSON.stringify(ci)).not.toMatch(/kaniko/i);
    for (const name of ['sbom', 'image-scan']) {
      expect({ name, needs: job(name).needs, mr: onMr(name), main: onMain(name) }).toEqual({ name, needs: ['images'], mr: true, main: true });
    }
    expect(script('sbom')).toContain('tools/build/ci/sbom.sh dist/image-digests.txt');
    expect(script('image-scan')).toContain('tools/build/ci/scan-images.sh dist/image-digests.txt');
    // A scan that fails holds staging back.
    expect(job('deploy-staging').needs).toContain('image-scan');
    // On main the images of the production plan are built too (once), to be promoted later.
    expect(script('verify')).toContain('--env production --json > dist/deploy-plan-production.json');
  });

  it('production gets the images staging got, by digest: promote-images copies them, nothing is rebuilt', () => {
    expect(job('promote-images').needs).toEqual(['plan-production', 'images']);
    expect(script('promote-images')).toContain('sh tools/build/ci/promote-images.sh dist/images-production.txt dist/image-digests.txt "$PRODUCTION_REGISTRY" "$IMAGE_TAG"');
    expect(script('plan-production')).not.toMatch(/-t build|buildctl/);
    expect(script('promote-images')).not.toContain('buildctl');
  });

  it('helm: lint --strict and render of the affected charts', () => {
    expect(job('helm-lint').stage).toBe('helm');
    expect(script('helm-lint')).toContain('npx nx affected -t helm-lint render');
  });

  it('deploy-staging: on main only, into the staging environment, nx affected -t deploy --configuration=staging in deploy order', () => {
    expect(onMain('deploy-staging')).toBe(true);
    expect(onMr('deploy-staging')).toBe(false);
    expect(job('deploy-staging').environment.name).toBe('staging');
    expect(job('deploy-staging').resource_group).toBe('staging');
    expect(script('deploy-staging')).toContain('npx nx affected -t deploy --configuration=staging --base="$BASE" --head="$CI_COMMIT_SHA" --exclude-task-dependencies');
    expect(script('deploy-staging')).toContain('npx carve deploy plan --base "$BASE"');
  });

  it('deploy-production: on main only, started by hand, after staging; then images and the deploy follow on their own', () => {
    for (const name of ['plan-production', 'promote-images', 'deploy-production']) {
      expect({ name, main: onMain(name), mr: onMr(name) }).toEqual({ name, main: true, mr: false });
      expect(job(name).stage).toBe('deploy-production');
    }
    expect(rulesOf('plan-production')).toEqual([expect.objectContaining({ when: 'manual' })]);
    expect(job('plan-production').allow_failure).toBe(false); // the pipeline waits for it ("blocked"), it is not skipped
    expect(job('plan-production').needs).toEqual(['deploy-staging']);
    expect(job('deploy-production').needs).toEqual(['promote-images']);
    expect(rulesOf('deploy-production').some((r) => r.when === 'manual')).toBe(false);
    expect(job('deploy-production').environment.name).toBe('production');
    expect(job('deploy-production').resource_group).toBe('production');
    expect(script('deploy-production')).toContain('npx nx affected -t deploy --configuration=production');
    expect(script('plan-production')).toContain('base-sha.sh production');
  });

  it('review: per merge request, in namespace review-<iid>, with a stop job (helm uninstall, namespace delete) run on merge or close', () => {
    expect(onMr('review')).toBe(true);
    expect(onMain('review')).toBe(false);
    const env = job('review').environment;
    expect(env).toMatchObject({ name: 'review/mr-$CI_MERGE_REQUEST_IID', on_stop: 'stop-review', auto_stop_in: expect.any(String) });
    expect(job('review').variables.REVIEW_NAMESPACE).toBe('review-$CI_MERGE_REQUEST_IID');
    expect(script('review')).toContain('npx nx run-many -t deploy --configuration=review');
    expect(script('review')).toContain('tools/build/ci/review-secrets.sh');

    const stop = job('stop-review');
    expect(stop.stage).toBe('review');
    expect(stop.environment).toEqual({ name: env.name, action: 'stop' });
    expect(rulesOf('stop-review')).toEqual([{ if: '$CI_PIPELINE_SOURCE == "merge_request_event"', when: 'manual' }]);
    expect(stop.variables.GIT_STRATEGY).toBe('none');
    expect(stop.variables.REVIEW_NAMESPACE).toBe('review-$CI_MERGE_REQUEST_IID');
    expect(script('stop-review')).toMatch(/helm uninstall "\$release" --namespace "\$REVIEW_NAMESPACE"/);
    expect(script('stop-review')).toContain('kubectl delete namespace "$REVIEW_NAMESPACE"');
  });

  it('names only files that exist and deploy configurations the charts have', () => {
    const all = jobs.map(script).join('\n');
    for (const file of new Set(all.match(/tools\/[\w/.-]+\.(?:js|sh)/g) ?? [])) expect({ file, exists: fs.existsSync(path.join(WORKSPACE_ROOT, file)) }).toEqual({ file, exists: true });
    const configs = new Set(all.match(/--configuration=(\w+)/g)?.map((m) => m.split('=')[1]));
    const project = JSON.parse(fs.readFileSync(path.join(WORKSPACE_ROOT, 'charts/gateway/project.json'), 'utf8'));
    for (const c of configs) expect(Object.keys(project.targets.deploy.configurations)).toContain(c);
    expect([...configs].sort()).toEqual(['production', 'review', 'staging']);
  });

  it('base-sha.sh: the merge request base, else the previous push, else nothing to trust', () => {
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' }).stdout.trim();
    const prev = spawnSync('git', ['rev-parse', 'HEAD~1'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' }).stdout.trim();
    const base = (env: Record<string, string>, ...args: string[]): string =>
      spawnSync('sh', [path.join(WORKSPACE_ROOT, 'tools/build/ci/base-sha.sh'), ...args], { cwd: WORKSPACE_ROOT, encoding: 'utf8', env: { PATH: process.env.PATH!, ...env } }).stdout.trim();
    expect(base({ CI_MERGE_REQUEST_DIFF_BASE_SHA: prev })).toBe(prev);
    expect(base({ CI_DEFAULT_BRANCH: 'main', CI_COMMIT_BEFORE_SHA: head })).toBe(head);
    expect(base({ CI_DEFAULT_BRANCH: 'main', CI_COMMIT_BEFORE_SHA: '0000000000000000000000000000000000000000' })).toBe('');
    expect(base({ CI_DEFAULT_BRANCH: 'main', CI_COMMIT_BEFORE_SHA: 'f'.repeat(40) })).toBe('');
    expect(base({}, 'production')).toBe(''); // no API token: deploy everything rather than guess
  });
});
