/**
 * `carve deploy plan` against real commits: a scratch git worktree (detached, so no branch of
 * the repository moves) where the test commits a change to one app only, then asks for the
 * plan between the commit before and that one. The worktree is removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildPlan, type DeployPlan } from '../src/commands/deploy';

const root = path.resolve(__dirname, '../../..');
const git = (cwd: string, ...args: string[]): string => {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const committed = (file: string): boolean => spawnSync('git', ['cat-file', '-e', `HEAD:${file}`], { cwd: root }).status === 0;

// The issue asks for insights-service; until it lands, the monolith (or the gateway) stands in.
const APP = ['insights-service', 'legacy-monolith', 'gateway'].find((a) => committed(`apps/${a}/src/main.ts`))!;
// The commit holding the app-only migration change (commit 2); commit 3 sits on top for insights.
const TIP = APP === 'insights-service' ? 'HEAD~1' : 'HEAD';

// CI may set these (merge request pipelines, deploy jobs); the test decides them itself.
for (const v of ['CARVE_IMAGE_TAG', 'CARVE_REVIEW_ID', 'CI_MERGE_REQUEST_IID']) delete process.env[v];

/**
 * node_modules for the worktree without an install: every package links to the repository's,
 * but the workspace packages (@carve/*) link to the worktree's own projects, so Nx resolves
 * imports between projects inside the worktree (a plain link to node_modules would resolve them
 * into the main checkout and lose every edge of the project graph).
 */
function linkNodeModules(dir: string): void {
  const from = path.join(root, 'node_modules');
  const to = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(to, '@carve'), { recursive: true });
  for (const entry of fs.readdirSync(from)) {
    if (entry !== '@carve') fs.symlinkSync(path.join(from, entry), path.join(to, entry));
  }
  for (const pkg of fs.readdirSync(path.join(from, '@carve'))) {
    fs.symlinkSync(fs.readlinkSync(path.join(from, '@carve', pkg)), path.join(to, '@carve', pkg));
  }
}

const LIB_MIGRATIONS = 'libs/insights/data-access/src/migrations/index.ts';

let wt: string;
beforeAll(() => {
  wt = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'carve-plan-')), 'wt');
  git(root, 'worktree', 'add', '--detach', '--quiet', wt, 'HEAD');
  linkNodeModules(wt);
  const commit = (message: string): void => {
    git(wt, 'add', '-A', 'apps');
    git(wt, '-c', 'user.name=carve test', '-c', 'user.email=test@carve.invalid', 'commit', '--quiet', '--no-verify', '-m', message);
  };
  // Commit 1: a change to the app's code only.
  fs.appendFileSync(path.join(wt, 'apps', APP, 'src', 'main.ts'), '\n// deploy plan test: a change to this app only\n');
  commit(`test: touch ${APP}`);
  // Commit 2: a new migration of the same app.
  fs.mkdirSync(path.join(wt, 'apps', APP, 'src', 'migrations'), { recursive: true });
  fs.writeFileSync(path.join(wt, 'apps', APP, 'src', 'migrations', 'notes.md'), 'a migration-folder change\n');
  commit(`test: migration of ${APP}`);
  // Commit 3 (insights-service only): a migration in the library that owns its schema.
  if (APP === 'insights-service') {
    fs.appendFileSync(path.join(wt, LIB_MIGRATIONS), '\n// deploy plan test: a schema change in the library\n');
    git(wt, 'add', '-A', 'libs');
    git(wt, '-c', 'user.name=carve test', '-c', 'user.email=test@carve.invalid', 'commit', '--quiet', '--no-verify', '-m', 'test: library migration');
  }
}, 60_000);

afterAll(() => {
  if (!wt) return;
  spawnSync('git', ['worktree', 'remove', '--force', wt], { cwd: root });
  spawnSync('git', ['worktree', 'prune'], { cwd: root });
  fs.rmSync(path.dirname(wt), { recursive: true, force: true });
});

describe(`a change to only ${APP}`, () => {
  let plan: DeployPlan;
  beforeAll(() => {
    plan = buildPlan({ base: `${TIP}~2`, head: `${TIP}~1`, env: 'staging', cwd: wt });
  }, 60_000);

  it('deploys only that app, through its chart, tagged with the head commit', () => {
    const head = git(wt, 'rev-parse', `${TIP}~1`);
    expect(plan.affected).toEqual({ apps: [APP], charts: [`chart-${APP}`] });
    expect(plan.steps.map((s) => [s.order, s.kind, s.chart])).toEqual([[1, 'helm', APP]]);
    expect(plan.imageTag).toBe(head.slice(0, 12));
    expect(plan.steps[0].image).toMatch(new RegExp(`^111122223333\\.dkr\\.ecr\\.eu-west-1\\.amazonaws\\.com/carve/${APP}:${head.slice(0, 12)}$`));
    expect(plan.images).toEqual([APP]);
    expect(plan.unchanged).toEqual(expect.arrayContaining(['relay', ...['gateway', 'legacy-monolith'].filter((c) => c !== APP)]));
  });

  it('gives the exact helm commands the chart\'s deploy target runs', () => {
    expect(plan.steps[0].commands).toEqual([
      `helm dependency build charts/${APP} --skip-refresh`,
      `helm upgrade --install ${APP} charts/${APP} --namespace carve --kube-context arn:aws:eks:eu-west-1:111122223333:cluster/carve-staging -f charts/${APP}/values-staging.yaml --set image.tag=${plan.imageTag} --rollback-on-failure --wait=watcher --timeout 10m`,
    ]);
  });

  it('explains the order', () => {
    expect(plan.order[0]).toMatch(/^1\. migrations/);
    expect(plan.order[plan.order.length - 1]).toMatch(/gateway last/);
  });
});

describe(`a new migration of ${APP}, planned for a review environment`, () => {
  it('deploys it in the migrations wave, into the merge request\'s namespace', () => {
    const plan = buildPlan({ base: `${TIP}~1`, head: TIP, env: 'review', reviewId: '7', cwd: wt });
    expect(plan.steps).toHaveLength(1);
    expect(plan.steps[0]).toMatchObject({ chart: APP, namespace: 'review-7', wave: APP === 'gateway' ? 'gateway' : 'migrations' });
    if (APP !== 'gateway') expect(plan.steps[0].why).toContain(`apps/${APP}/src/migrations/notes.md`);
    expect(plan.steps[0].commands[1]).toContain(`--namespace review-7 --create-namespace`);
  }, 60_000);
});

// Only with insights-service (a skipped test would fail `npm test`).
if (APP === 'insights-service') describe('a migration in the library that owns the schema (insights-data-access)', () => {
  it('puts insights-service in the migrations wave and names the file', () => {
    const plan = buildPlan({ base: 'HEAD~1', head: 'HEAD', env: 'staging', cwd: wt });
    const step = plan.steps.find((s) => s.chart === 'insights-service')!;
    expect(step).toMatchObject({ wave: 'migrations', order: 1 });
    expect(step.why).toContain(LIB_MIGRATIONS);
  }, 60_000);
});

describe('bad input', () => {
  const carve = (...args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [path.join(root, 'tools/carve/bin/carve.js'), ...args], { cwd: wt, encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
  };

  it('an unknown environment, an unknown ref, a review without an id: one line, then what to do', () => {
    expect(carve('deploy', 'plan', '--base', 'HEAD~1', '--env', 'prod')).toEqual({ status: 1, stderr: 'carve: unknown environment "prod"\n  next: use one of staging, production, review\n' });
    const badRef = carve('deploy', 'plan', '--base', 'no-such-ref', '--env', 'staging');
    expect(badRef.status).toBe(1);
    expect(badRef.stderr).toMatch(/^carve: --base no-such-ref is not a commit in .*\n {2}next: /);
    const review = carve('deploy', 'plan', '--base', 'HEAD~1', '--env', 'review');
    expect(review.stderr).toContain('carve: the review environment needs a merge request id');
  });
});
