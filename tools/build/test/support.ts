import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { WORKSPACE_ROOT } from '../src';

/**
 * A scratch build context outside the repository: its own dist/ (so tests never touch the real
 * one other runs use) and the repository's .dockerignore. Nothing above it holds node_modules,
 * so a process started from it finds only what the image would have.
 */
export function scratchContext(label: string): { dir: string; distDir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `carve-build-${label}-`));
  for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'node_modules'))) throw new Error(`${d}/node_modules would leak into the scratch image`);
  }
  fs.copyFileSync(path.join(WORKSPACE_ROOT, '.dockerignore'), path.join(dir, '.dockerignore'));
  return { dir, distDir: path.join(dir, 'dist'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Builds a web UI project (type:ui, Vite, as its `build` target does) into `<distDir>/<root>/`,
 * where a deployable's build looks for the UIs it bundles: the workspace's dist/ stays untouched.
 */
export function buildUi(root: string, distDir: string): void {
  const vite = path.join(WORKSPACE_ROOT, 'node_modules', '.bin', 'vite');
  const run = spawnSync(vite, ['build', '--outDir', path.join(distDir, root), '--emptyOutDir'], { cwd: path.join(WORKSPACE_ROOT, root), encoding: 'utf8', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`vite build of ${root} failed (${run.status ?? run.signal}):\n${run.stdout}${run.stderr}`);
}

/** Whether `file` (relative to the repository) is committed: "the app has landed". */
export function isCommitted(file: string): boolean {
  return spawnSync('git', ['cat-file', '-e', `HEAD:${file}`], { cwd: WORKSPACE_ROOT }).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Started {
  child: ChildProcess;
  output(): string;
  /** SIGTERM by PID, then wait (bounded) for the exit; returns the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Starts plain `node` (no TypeScript hook, no NODE_OPTIONS from the test run) with `env` only. */
export function startNode(args: string[], cwd: string, env: Record<string, string>): Started {
  const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    async stop(timeoutMs = 10_000) {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export function runNode(args: string[], cwd: string, env: Record<string, string>, timeoutMs = 60_000): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8', timeout: timeoutMs });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Polls `url` until it answers (any status) or the deadline passes; bounded. */
export async function waitForHttp(url: string, started: Started, timeoutMs = 30_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) throw new Error(`process exited with ${started.child.exitCode} before answering:\n${started.output()}`);
    try {
      return await fetch(url, { signal: AbortSignal.timeout(2000) });
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${String(last)}):\n${started.output()}`);
}
