/**
 * The gateway benchmark's orchestrator side of its processes: starting and stopping them (pinned
 * with taskset), waiting for them, their CPU time from /proc, and nginx and the gateway as targets.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEV_JWT_SECRET } from '@carve/shared-http';
import { repoRoot } from '@carve/shared-persistence';
import { args, log } from './common';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** PIDs whose CPU counts for this target (nginx: master and workers). */
  pids(): number[];
  stop(): Promise<void>;
}

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a process, in clock ticks. */
export function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * CPU time of a process in ns: the sum over its threads of /proc/<pid>/task/<tid>/schedstat
 * (the scheduler's own count, in ns; a thread that exits takes its time with it, which the
 * node processes here do not do); /proc/<pid>/stat's ticks where schedstat is not available.
 * Read while the process is idle (between slices) it is exact; on a thread that is running it
 * may lag by up to a tick.
 */
export function cpuNs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns;
  } catch {
    return (cpuTicks(pid) * 1e9) / CLK_TCK;
  }
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

export const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
export const cpus = os.cpus().length;
/** Pins to one CPU; `all`: not pinned (every CPU). */
export const pin = (cpu: number | 'all', cmd: string, argv: string[]): [string, string[]] =>
  hasTaskset && cpus >= 2 && cpu !== 'all' ? ['taskset', ['-c', String(cpu), cmd, ...argv]] : [cmd, argv];

/** The PIDs of a process's children (the workers of a gateway primary), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export const registerTs = path.join(repoRoot(), 'tools', 'scripts', 'register-ts.js');

/** Node flags of the measured proxies: a CPU profile each with --cpu-prof DIR. */
export const profileFlags = (name: string): string[] =>
  args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args['cpu-prof'])}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];

/** Extra node flags of the gateway processes (`--gateway-node-flags "--a --b"`), e.g. GC settings under test. */
export const gatewayNodeFlags = (): string[] => (args['gateway-node-flags'] ? String(args['gateway-node-flags']).split(/\s+/).filter(Boolean) : []);

export function start(
  name: string,
  cpu: number | 'all',
  cmd: string,
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  stdout: 'pipe' | 'ignore' = 'pipe',
  stdin: 'pipe' | 'ignore' = 'ignore',
): ChildProcess {
  const [c, a] = pin(cpu, cmd, argv);
  // --gateway-stdout FILE: what the gateways print (the access log of gateway-log, --trace-gc
  // output of --gateway-node-flags) is appended to FILE instead of going to /dev/null.
  const out = stdout === 'ignore' && args['gateway-stdout'] ? fs.openSync(args['gateway-stdout'], 'a') : stdout;
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: [stdin, out, 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString().trim();
    if (text) log(`[${name}] ${text.split('\n').slice(0, 5).join(' | ')}`);
  });
  return child;
}

export async function waitLine(child: ChildProcess, want: string, timeoutMs = 60_000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${want}"`)), timeoutMs);
    rl.on('line', (line) => {
      if (line.includes(want)) {
        clearTimeout(timer);
        rl.removeAllListeners('line');
        child.stdout!.resume();
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before "${want}"`)));
  });
}

export async function waitHttp(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${url} not ready`);
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, signal);
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** A port nobody listens on right now (the kernel's pick; released before use). */
export async function port(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as import('node:net').AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

export async function startNginx(dir: string, upstreamPort: number): Promise<{ proc: Proc; url: string } | null> {
  const nginx = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
  if (!nginx) {
    log('nginx is not installed: skipping the nginx peer (install the Debian package nginx-light to include it)');
    return null;
  }
  const p = await port();
  const prefix = path.join(dir, 'nginx');
  fs.mkdirSync(prefix, { recursive: true, mode: 0o777 });
  fs.chmodSync(prefix, 0o777);
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${p};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  );
  const child = start('nginx', 0, nginx, ['-p', prefix, '-c', conf, '-e', `${prefix}/error.log`], {}, 'ignore');
  const url = `http://127.0.0.1:${p}`;
  await waitHttp(`${url}/`);
  const master = child.pid!;
  return {
    url,
    proc: {
      name: 'nginx',
      child,
      pids: () => [master, ...childrenOf(master)],
      stop: () => stopChild(child, 'SIGQUIT'),
    },
  };
}

/** The route table of a gateway target: the route under load goes to `insights`, the service process. */
export function routesFile(dir: string, upstreamUrl: string, serviceUrl: string, mode: 'canary' | 'shadow'): string {
  const lines = [
    'upstreams:',
    `  monolith: { url: ${upstreamUrl}, timeoutMs: 10000 }`,
    `  insights: { url: ${serviceUrl}, timeoutMs: 10000 }`,
    `  roadmaps: { url: ${upstreamUrl}, timeoutMs: 10000 }`,
    'default: monolith',
    'routes:',
  ];
  // 199 other routes of the shapes a product has: resources, sub-resources, methods split.
  for (let i = 0; i < 199; i++) {
    const resource = `resource${i}`;
    const methods = i % 3 === 0 ? '[GET, HEAD]' : i % 3 === 1 ? '[POST, PUT, PATCH, DELETE]' : '[GET]';
    const shape = i % 4 === 0 ? `/${resource}/*` : i % 4 === 1 ? `/${resource}/:id` : i % 4 === 2 ? `/${resource}/:id/children/*` : `/${resource}`;
    lines.push(
      `  - id: r${i}`,
      `    match: { methods: ${methods}, path: /api/v1/workspaces/:workspaceId${shape} }`,
      `    target: ${i % 2 ? 'insights' : 'roadmaps'}`,
      `    mode: ${i % 5 === 0 ? 'canary' : 'monolith'}`,
      ...(i % 5 === 0 ? ['    percent: 10'] : []),
    );
  }
  lines.push(
    '  - id: notes-read',
    '    match: { methods: [GET, HEAD], path: /api/v1/workspaces/:workspaceId/notes/* }',
    '    target: insights',
    `    mode: ${mode}`,
    ...(mode === 'canary' ? ['    percent: 50', '    stickyBy: tenant'] : []),
    '    compare:',
    '      sample: 1.0',
    "      ignore: ['$.nextCursor']",
    '      sortArraysBy: { "$.items": id }',
    '    guard: { maxErrorRate: 0.05, maxMismatchRate: 0.05, window: 30s, minRequests: 50 }',
  );
  const file = path.join(dir, `routes-${mode}.yaml`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The Carve gateway as a target; `env` adds to its environment (the traced variant's OTEL_*). */
export async function startGatewayProc(
  name: string,
  file: string,
  databaseUrl: string,
  accessLog: boolean,
  env: NodeJS.ProcessEnv = {},
  cpu: number | 'all' = 0,
): Promise<{ proc: Proc; url: string }> {
  const p = await port();
  const adminPort = await port();
  const entry = path.join(repoRoot(), 'apps', 'gateway', 'src', 'main.ts');
  const child = start(
    name,
    cpu,
    process.execPath,
    [...gatewayNodeFlags(), ...profileFlags(name), '-r', registerTs, entry],
    {
      PORT: String(p),
      CARVE_ADMIN_PORT: String(adminPort),
      CARVE_ROUTES_FILE: file,
      DATABASE_URL: databaseUrl,
      CARVE_JWT_SECRET: DEV_JWT_SECRET,
      CARVE_ACCESS_LOG: String(accessLog),
      // The tenant limiter on (the concurrency limit and the proxy port's timeouts are on by
      // default): a token bucket per tenant that never runs dry at the bench's rates, so every
      // request pays for the check.
      CARVE_TENANT_RATE_PER_SECOND: '100000',
      LOG_LEVEL: 'info',
      CARVE_GATEWAY_ID: name,
      NODE_ENV: 'production',
      // Tracing off unless `env` switches it on (an OTEL_* of the shell would leak in otherwise).
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      ...env,
    },
    'ignore', // the access log (when on) goes to /dev/null
  );
  const url = `http://127.0.0.1:${p}`;
  await waitHttp(`${url}/readyz`);
  // With CARVE_GATEWAY_WORKERS the primary's workers serve: their CPU counts with the primary's.
  return { url, proc: { name, child, pids: () => [child.pid!, ...childPids(child.pid!)], stop: () => stopChild(child) } };
}
