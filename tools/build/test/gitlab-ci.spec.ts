/**
 * The pipeline cannot run here, so its structure is pinned by this test: stages in order, which
 * jobs run on merge requests and which on main, production behind a manual start, review
 * environments with a stop job, and every file and Nx configuration the scripts name exists.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
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

  it('images: kaniko, one image per deployable in the plan, tagged with the commit', () => {
    for (const name of ['images', 'images-production']) {
      expect(job(name).image.name).toBe('$KANIKO_IMAGE');
      expect(script(name)).toContain('--destination "$REGISTRY/carve/$project:$IMAGE_TAG"');
      expect(script(name)).toContain('IMAGE_TAG="$(echo "$CI_COMMIT_SHA" | cut -c1-12)"');
    }
    expect(ci.variables.KANIKO_IMAGE).toMatch(/kaniko-project\/executor:v[\d.]+-debug$/);
    expect(job('images').variables).toEqual({ IMAGES: 'dist/images.txt', REGISTRY: '$STAGING_REGISTRY' });
    expect(job('images-production').variables).toEqual({ IMAGES: 'dist/images-production.txt', REGISTRY: '$PRODUCTION_REGISTRY' });
    expect(onMr('images') && onMain('images')).toBe(true);
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
    for (const name of ['plan-production', 'images-production', 'deploy-production']) {
      expect({ name, main: onMain(name), mr: onMr(name) }).toEqual({ name, main: true, mr: false });
      expect(job(name).stage).toBe('deploy-production');
    }
    expect(rulesOf('plan-production')).toEqual([expect.objectContaining({ when: 'manual' })]);
    expect(job('plan-production').allow_failure).toBe(false); // the pipeline waits for it ("blocked"), it is not skipped
    expect(job('plan-production').needs).toEqual(['deploy-staging']);
    expect(job('images-production').needs).toEqual(['plan-production']);
    expect(job('deploy-production').needs).toEqual(['images-production']);
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
