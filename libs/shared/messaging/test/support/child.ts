import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..', '..');
const REGISTER = path.join(REPO_ROOT, 'tools', 'scripts', 'register-ts.js');
export const CARVE_BIN = path.join(REPO_ROOT, 'tools', 'carve', 'bin', 'carve.js');

export interface Child {
  proc: ChildProcess;
  pid: number;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const running = new Set<Child>();

/** Runs a TypeScript file (through the repo's SWC register hook) or a JS file as a child process. */
export function spawnNode(file: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const nodeArgs = file.endsWith('.ts') ? ['-r', REGISTER, file, ...args] : [file, ...args];
  const proc = spawn(process.execPath, nodeArgs, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  const collect = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      into.push(...parts);
      for (const l of listeners) l();
    };
  };
  proc.stdout!.on('data', collect(stdout));
  proc.stderr!.on('data', collect(stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const child: Child = {
    proc,
    pid: proc.pid!,
    stdout,
    stderr,
    exited,
    waitForLine(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = stdout.find((l) => pattern.test(l)) ?? stderr.find((l) => pattern.test(l));
          if (hit !== undefined) {
            cleanup();
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`child ${proc.pid}: no line matching ${pattern} after ${timeoutMs} ms; stderr: ${stderr.slice(-5).join(' | ')}`));
        }, timeoutMs);
        const onExit = () => {
          setTimeout(() => {
            check();
            cleanup();
            reject(new Error(`child ${proc.pid} exited before printing ${pattern}; stderr: ${stderr.slice(-5).join(' | ')}`));
          }, 50);
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          proc.off('exit', onExit);
        };
        listeners.add(check);
        proc.once('exit', onExit);
        check();
      });
    },
  };
  running.add(child);
  void exited.then(() => running.delete(child));
  return child;
}

/** Kills, by PID, every child this test file started that still runs. */
export async function killChildren(): Promise<void> {
  for (const c of [...running]) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await c.exited;
  }
}
