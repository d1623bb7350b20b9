/**
 * Real processes on loopback for end-to-end tests: each deployable started with
 * `node -r tools/scripts/register-ts.js <entry>`, its output kept (the tail shows in failures),
 * stopped by its PID (SIGTERM, then SIGKILL after a grace period); `carve <args>` run to its end;
 * free ports; bounded polling.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import path from 'node:path';
import { repoRoot } from '@carve/shared-persistence';

/** The repository root (the processes' working directory). */
export const ROOT = repoRoot();
export const REGISTER_TS = path.join(ROOT, 'tools/scripts/register-ts.js');
export const CARVE_BIN = path.join(ROOT, 'tools/carve/bin/carve.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a node process to its end (bounded), collecting its output. */
export function runNode(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `carve <args>` against `url` (no gateway admin API: CARVE_ADMIN_URL points nowhere). */
export const carve = (url: string, args: string[], env: NodeJS.ProcessEnv = {}) => runNode([CARVE_BIN, ...args], { DATABASE_URL: url, CARVE_ADMIN_URL: 'http://127.0.0.1:1', ...env });


export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly output: string[];
  readonly exited: Promise<number | null>;
  stop(graceMs?: number): Promise<void>;
  tail(n?: number): string;
}

export function startProcess(name: string, entry: string, env: NodeJS.ProcessEnv): Proc {
  const child: ChildProcess = spawn(process.execPath, ['-r', REGISTER_TS, path.join(ROOT, entry)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    for (const line of d.toString('utf8').split('\n')) if (line.trim()) output.push(line);
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => ((gone = true), resolve(code))));
  return {
    name,
    pid: child.pid!,
    output,
    exited,
    tail: (n = 15) => output.slice(-n).join('\n'),
    async stop(graceMs = 8000) {
      if (gone) return;
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!gone) process.kill(child.pid!, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** `n` free ports on 127.0.0.1 starting at a random p (p .. p+n-1 all free). */
export async function freePorts(n: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    let ok = true;
    for (let k = 0; k < n && ok; k++) ok = await portFree(p + k);
    if (ok) return p;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

/** Polls `probe` until truthy (bounded); fails naming `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 150): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await probe();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolves once GET url answers 200 (or the process dies). */
export async function waitHealthy(p: Proc, url: string, timeoutMs = 60_000): Promise<void> {
  let dead = false;
  void p.exited.then(() => (dead = true));
  await waitFor(
    `${p.name} at ${url}`,
    async () => {
      if (dead) throw new Error(`${p.name} exited:\n${p.tail()}`);
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) }).catch(() => null);
      return res?.status === 200;
    },
    timeoutMs,
    200,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n--- ${p.name} ---\n${p.tail()}`);
  });
}
