/**
 * A scratch copy of the workspace for generator tests: the working tree without node_modules,
 * .git, dist, .carve, .nx, tmp and coverage, in a temporary folder, committed to a fresh git
 * repository (so `git status` shows exactly what a generator changed). Its node_modules is a real
 * folder of symlinks to the workspace's packages, except `@carve/*`, which link to the scratch
 * copy's own projects (as `npm install` links workspaces): the scratch copy never writes into the
 * workspace's node_modules, and removing it removes everything it made.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const WORKSPACE = path.resolve(__dirname, '..', '..', '..', '..');

const SKIPPED = new Set(['node_modules', '.git', 'dist', '.carve', '.nx', 'tmp', 'coverage']);

export interface Scratch {
  root: string;
  /** Runs a command in the scratch copy (bounded); never throws on a non-zero exit. */
  run(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  /** `git status --porcelain` of the scratch copy: what changed since the copy. */
  changes(): string[];
  /** Links the workspace packages found in the copy into its node_modules/@carve (idempotent). */
  linkWorkspaces(): void;
  remove(): void;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function workspacePackages(root: string): Array<{ dir: string; name: string }> {
  const found: Array<{ dir: string; name: string }> = [];
  const visit = (dir: string) => {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) return;
    const name = JSON.parse(fs.readFileSync(file, 'utf8')).name as string | undefined;
    if (name?.startsWith('@carve/')) found.push({ dir, name });
  };
  for (const top of ['apps', 'tools']) {
    const base = path.join(root, top);
    if (fs.existsSync(base)) for (const d of fs.readdirSync(base)) visit(path.join(base, d));
  }
  const libs = path.join(root, 'libs');
  if (fs.existsSync(libs)) {
    for (const scope of fs.readdirSync(libs)) {
      const s = path.join(libs, scope);
      if (fs.statSync(s).isDirectory()) for (const d of fs.readdirSync(s)) visit(path.join(s, d));
    }
  }
  return found;
}

export function createScratchWorkspace(prefix = 'carve-scratch-'): Scratch {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // Readable by others: run as root, the embedded Postgres runs its binaries (under node_modules
  // here) as the postgres user, who must be able to reach them.
  fs.chmodSync(root, 0o755);
  try {
    for (const entry of fs.readdirSync(WORKSPACE)) {
      if (SKIPPED.has(entry)) continue;
      fs.cpSync(path.join(WORKSPACE, entry), path.join(root, entry), {
        recursive: true,
        verbatimSymlinks: true,
        filter: (src) => !SKIPPED.has(path.basename(src)) && !/\/charts\/[^/]+\/charts\/[^/]+\.tgz$/.test(src),
      });
    }
    const modules = path.join(root, 'node_modules');
    fs.mkdirSync(modules);
    for (const entry of fs.readdirSync(path.join(WORKSPACE, 'node_modules'))) {
      if (entry === '@carve') continue;
      fs.symlinkSync(path.join(WORKSPACE, 'node_modules', entry), path.join(modules, entry));
    }
    fs.mkdirSync(path.join(modules, '@carve'));
    const git = (...args: string[]) => {
      const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    git('init', '-q', '-b', 'main');
    git('-c', 'user.email=scratch@carve.test', '-c', 'user.name=scratch', 'add', '-A');
    git('-c', 'user.email=scratch@carve.test', '-c', 'user.name=scratch', 'commit', '-q', '--no-verify', '-m', 'scratch copy');

    const scratch: Scratch = {
      root,
      run(cmd, args, opts = {}) {
        const started = Date.now();
        return new Promise((resolve, reject) => {
          const child = spawn(cmd, args, {
            cwd: root,
            env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', NX_SKIP_NX_CACHE: 'true', CI: 'true', ...opts.env },
            stdio: ['ignore', 'pipe', 'pipe'],
            detached: true,
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.stderr.on('data', (d) => (stderr += d));
          const timer = setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL'); // its process group: the command and what it started
            } catch {
              /* gone */
            }
            reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 300_000} ms\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`));
          }, opts.timeoutMs ?? 300_000);
          child.on('exit', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr, ms: Date.now() - started });
          });
        });
      },
      changes() {
        return git('status', '--porcelain', '--untracked-files=all').split('\n').filter(Boolean);
      },
      linkWorkspaces() {
        for (const p of workspacePackages(root)) {
          const link = path.join(modules, ...p.name.split('/'));
          if (!fs.existsSync(link)) fs.symlinkSync(path.relative(path.dirname(link), p.dir), link, 'dir');
        }
      },
      remove() {
        fs.rmSync(root, { recursive: true, force: true });
      },
    };
    scratch.linkWorkspaces();
    return scratch;
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
