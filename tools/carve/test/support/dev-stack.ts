/**
 * `npm start` (`carve dev`) as a test runs it: on a database of the test's own and on free ports
 * (CARVE_DEV_PORTS), so it can run beside a developer's stack or another test's; the output is
 * kept for failures; ports are probed to prove that nothing is left listening.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DEMO_IDS } from '@carve/legacy-domain';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { freePorts, ROOT, waitFor } from '@carve/shared-testing';

export const WORKSPACE = DEMO_IDS.workspaceId;

export interface DevPorts {
  gateway: number;
  admin: number;
  monolith: number;
  insights: number;
  roadmaps: number;
}

export async function devPorts(): Promise<DevPorts> {
  const p = await freePorts(5);
  return { gateway: p, admin: p + 1, monolith: p + 2, insights: p + 3, roadmaps: p + 4 };
}

export function devPortsEnv(p: DevPorts): string {
  return `gateway=${p.gateway},gateway-admin=${p.admin},legacy-monolith=${p.monolith},insights-service=${p.insights},roadmaps-service=${p.roadmaps}`;
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface DevStack {
  readonly ports: DevPorts;
  /** The process the test spawned (npm, or carve itself). */
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  /** The PIDs `carve dev` printed once everything was ready: its own (`carve`) first, then each child's. */
  pids(): Record<string, number>;
  /** Resolves once `carve dev` printed a line containing `text` (after `from`, an offset into the output). */
  waitForLine(text: string | RegExp, timeoutMs?: number, from?: number): Promise<string>;
  /** Waits until none of the stack's ports answers. */
  waitNothingListening(timeoutMs?: number): Promise<void>;
  kill(): void;
}

/** `npm start -- <args>` (or `carve dev <args>` with `via: 'carve'`) on `databaseUrl` and free ports; resolves once it prints "Carve is running". */
export async function startDevStack(
  databaseUrl: string,
  opts: { args?: string[]; via?: 'npm' | 'carve'; env?: NodeJS.ProcessEnv; /** In a process group of its own, as a terminal runs it (signal it with process.kill(-pid)). */ ownGroup?: boolean } = {},
): Promise<DevStack> {
  const ports = await devPorts();
  const args = opts.args ?? [];
  const [cmd, argv] = opts.via === 'carve' ? [process.execPath, ['tools/carve/bin/carve.js', 'dev', ...args]] : ['npm', ['start', '--silent', ...(args.length ? ['--', ...args] : [])]];
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      CARVE_DEV_PORTS: devPortsEnv(ports),
      KAFKA_BROKERS: '',
      CARVE_TRANSPORT: '',
      LOG_LEVEL: 'warn',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.ownGroup ?? false,
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  const all = Object.values(ports);
  const stack: DevStack = {
    ports,
    child,
    exited,
    output: () => out,
    pids: () => JSON.parse(/carve dev: pids (\{.*\})/.exec(out)?.[1] ?? '{}'),
    async waitForLine(text, timeoutMs = 60_000, from = 0) {
      return waitFor(`"${text}" from carve dev`, () => {
        if (gone) throw new Error('carve dev exited');
        const rest = out.slice(from);
        const m = typeof text === 'string' ? (rest.includes(text) ? text : null) : text.exec(rest)?.[0];
        return m ?? null;
      }, timeoutMs, 100).catch((err) => {
        throw new Error(`${(err as Error).message}\n--- carve dev output ---\n${out.slice(-4000)}`);
      });
    },
    async waitNothingListening(timeoutMs = 15_000) {
      await waitFor('every port of the stack to close', async () => {
        for (const p of all) if (await portOpen(p)) return false;
        return true;
      }, timeoutMs, 100);
    },
    kill: () => {
      // carve first, so that it restarts nothing; then what it ran, then npm.
      for (const pid of Object.values(stack.pids())) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (!gone) child.kill('SIGKILL');
      // The route table copy carve dev writes for non-default ports (it removes it when it stops).
      fs.rmSync(path.join(ROOT, '.carve', `dev-routes-${ports.gateway}.yaml`), { force: true });
    },
  };
  await stack.waitForLine('carve dev: pids', 150_000);
  return stack;
}

/** A dev token for the first demo workspace's admin (what `carve token` prints). */
export function devToken(): string {
  return signToken({ sub: DEMO_IDS.adminId, tid: WORKSPACE, role: 'admin' }, process.env.CARVE_JWT_SECRET || DEV_JWT_SECRET, { ttlSec: 3600 });
}
