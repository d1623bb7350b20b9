/**
 * Real processes on loopback for end-to-end tests: each deployable started with
 * `node -r tools/scripts/register-ts.js <entry>`, its output kept (the tail shows in failures),
 * stopped by its PID (SIGTERM, then SIGKILL after a grace period); `carve <args>` run to its end;
 * free ports; bounded polling.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
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

/** Starts `entry` (TypeScript, through register-ts) with `args`; its output is kept. */
export function startProcess(name: string, entry: string, env: NodeJS.ProcessEnv, args: readonly string[] = []): Proc {
  const child: ChildProcess = spawn(process.execPath, ['-r', REGISTER_TS, path.join(ROOT, entry), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/**
 * Where the kernel takes the source ports of outgoing connections from (Linux; 32768-60999 by
 * default). A port picked there can be taken by any client connection between the check and
 * the child's listen (EADDRINUSE), so test ports come from below it.
 */
function ephemeralPortsStart(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** `n` free ports on 127.0.0.1 starting at a random p (p .. p+n-1 all free), below the ephemeral range. */
export async function freePorts(n: number): Promise<number> {
  const first = 10_000;
  const span = ephemeralPortsStart() - n - first;
  for (let i = 0; i < 100; i++) {
    const p = first + Math.floor(Math.random() * span);
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

/** The dev route table's upstream addresses (apps/gateway/routes/dev.yaml), by upstream. */
const DEV_UPSTREAM_PORTS = { monolith: 3000, insights: 3101, roadmaps: 3102 } as const;

/**
 * A copy of the dev route table (apps/gateway/routes/dev.yaml) in the temp folder with the given
 * upstreams on other ports, for a gateway started beside a test's own monolith and services.
 * Returns its path; the caller removes it.
 */
export function devRoutesFile(name: string, ports: Partial<Record<keyof typeof DEV_UPSTREAM_PORTS, number>>): string {
  let text = fs.readFileSync(path.join(ROOT, 'apps/gateway/routes/dev.yaml'), 'utf8').replace(/^# yaml-language-server.*$/m, '');
  for (const [upstream, port] of Object.entries(ports)) {
    text = text.replace(`http://127.0.0.1:${DEV_UPSTREAM_PORTS[upstream as keyof typeof DEV_UPSTREAM_PORTS]}`, `http://127.0.0.1:${port}`);
  }
  const file = path.join(os.tmpdir(), `carve-routes-${name}-${process.pid}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

export interface CarvedStackOptions {
  /** Names the stack's route table file. */
  name: string;
  /** The environment every process gets (DATABASE_URL, CARVE_TRANSPORT, KAFKA_BROKERS, ...). */
  env: NodeJS.ProcessEnv;
  /** The carved service: its process name, entry file and its upstream in the dev route table. */
  service: { name: string; entry: string; upstream: 'insights' | 'roadmaps' };
  /** The gateway's admin token (the CLI gets it in `cliEnv`). */
  adminToken: string;
  /** More environment for the gateway. */
  gatewayEnv?: NodeJS.ProcessEnv;
  /** More environment for the carved service (e.g. CARVE_OUTBOX_RELAY=false beside a relay process). */
  serviceEnv?: NodeJS.ProcessEnv;
  /** How long each process may take to answer its health check; default 60 s. */
  healthyTimeoutMs?: number;
}

export interface CarvedStack {
  /** Monolith, service, gateway: stop them in reverse order. */
  readonly procs: Proc[];
  readonly monolithUrl: string;
  readonly serviceUrl: string;
  readonly servicePort: number;
  /** The service's environment (to start it again after a kill). */
  readonly serviceEnv: NodeJS.ProcessEnv;
  readonly gatewayUrl: string;
  readonly adminUrl: string;
  /** The environment for `carve` against this stack (the options' env with the admin URL and token). */
  readonly cliEnv: NodeJS.ProcessEnv;
  /** Stops the processes (reverse order) and removes the route table file. */
  stop(): Promise<void>;
}

/**
 * The carved stack on real processes on loopback, as `carve dev` runs it: the monolith (with
 * reverse sync), one carved service and the gateway on the dev route table pointed at them, each
 * started from its entry file and waited for until healthy. On a failure the started processes
 * are stopped again.
 */
export async function startCarvedStack(opts: CarvedStackOptions): Promise<CarvedStack> {
  const base = await freePorts(4);
  const [monolithPort, servicePort, gatewayPort, adminPort] = [base, base + 1, base + 2, base + 3];
  const routesFile = devRoutesFile(opts.name, { monolith: monolithPort, [opts.service.upstream]: servicePort });
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop().catch(() => undefined);
    fs.rmSync(routesFile, { force: true });
  };
  try {
    const monolith = startProcess('legacy-monolith', 'apps/legacy-monolith/src/main.ts', { ...opts.env, PORT: String(monolithPort), CARVE_REVERSE_SYNC: 'true' });
    procs.push(monolith);
    const serviceEnv = { ...opts.env, ...opts.serviceEnv, PORT: String(servicePort) };
    const service = startProcess(opts.service.name, opts.service.entry, serviceEnv);
    procs.push(service);
    const gateway = startProcess('gateway', 'apps/gateway/src/main.ts', {
      ...opts.env,
      PORT: String(gatewayPort),
      CARVE_ADMIN_PORT: String(adminPort),
      CARVE_ADMIN_TOKEN: opts.adminToken,
      CARVE_ROUTES_FILE: routesFile,
      CARVE_ACCESS_LOG: 'false',
      ...opts.gatewayEnv,
    });
    procs.push(gateway);
    const url = (port: number) => `http://127.0.0.1:${port}`;
    const timeout = opts.healthyTimeoutMs ?? 60_000;
    await Promise.all([
      waitHealthy(monolith, `${url(monolithPort)}/readyz`, timeout),
      waitHealthy(service, `${url(servicePort)}/readyz`, timeout),
      waitHealthy(gateway, `${url(gatewayPort)}/healthz`, timeout),
    ]);
    return {
      procs,
      monolithUrl: url(monolithPort),
      serviceUrl: url(servicePort),
      servicePort,
      serviceEnv,
      gatewayUrl: url(gatewayPort),
      adminUrl: url(adminPort),
      cliEnv: { ...opts.env, CARVE_ADMIN_URL: url(adminPort), CARVE_ADMIN_TOKEN: opts.adminToken },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
