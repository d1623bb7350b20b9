/**
 * The strangler gateway against its peers, measured side by side in one run (docs/benchmarks.md,
 * "Gateway"). Per FACTS.md ("Measuring on a 2-core shared machine"): the upstream and the
 * proxies are pinned to CPU 0, the load generator to CPU 1 (taskset); CPU time per request of
 * each proxy process comes from /proc/<pid>/stat (utime + stime) over the measured window;
 * latency is measured open loop at a fixed rate well below saturation, from the moment each
 * request was *due* (not when it was sent), with sub-millisecond timing.
 *
 * Targets (same upstream, same requests):
 *   direct        the load generator straight to the upstream (the latency baseline)
 *   nginx         nginx (Debian nginx-light) as a keep-alive reverse proxy; skipped with a
 *                 message when nginx is not installed (this script never installs it)
 *   http-proxy    bare @fastify/http-proxy (reply-from, undici), logger off
 *   gateway       the Carve gateway, 200 routes loaded, the route under load in canary 50%
 *                 (sticky by tenant over 100 tenants; both sides are the same upstream), JWT
 *                 verified, metrics on, access log off
 *   gateway-log   the same with the access log on (its default), written to /dev/null
 *   shadow        the Carve gateway with the route under load in shadow mode (sample 1.0):
 *                 every request is also sent to the "service" and compared
 *
 * Layouts:
 *   sequential (default)  one target at a time, each at the full rate (FACTS.md's method).
 *   interleaved   the targets of a group run at the same time and the load generator sends
 *                 request i to target i mod k: every target sees the same moment of a shared
 *                 machine. Groups: direct, nginx, http-proxy, gateway (the peers); then
 *                 gateway, gateway-log, shadow (the gateway's own variants). Use a lower
 *                 --rate (it is per target); CPU per request rises at low rates (less work per
 *                 event-loop turn), so compare CPU figures only within one layout and rate.
 *
 * Usage:
 *   npm run bench:gateway -w @carve/bench -- [--rate 2000] [--duration 10] [--warmup 3]
 *       [--rounds 3] [--layout sequential|interleaved]
 *       [--targets direct,nginx,http-proxy,gateway,gateway-log,shadow] [--json] [--cpu-prof DIR]
 * --rate is per target. With --rounds N every group runs N times and each figure is the median
 * over the rounds (requests and errors are summed). --cpu-prof DIR writes a V8 CPU profile of every
 * gateway process (and http-proxy) into DIR (node --cpu-prof; it costs CPU, so do not compare the
 * figures of such a run with others). Postgres (the gateway's control plane):
 * DATABASE_URL, else the embedded server.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createDatabase, dropDatabase, repoRoot, resolveDatabase } from '@carve/shared-persistence';
import { parseArgs, type Summary, summarize } from './stats';

const args = parseArgs(process.argv.slice(2));
const role = args.role ?? 'main';
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const ALL_TARGETS = ['direct', 'nginx', 'http-proxy', 'gateway', 'gateway-log', 'shadow'] as const;
type Target = (typeof ALL_TARGETS)[number];

const TENANTS = 100;
const BODY = Buffer.from(
  JSON.stringify({
    items: Array.from({ length: 3 }, (_, i) => ({ id: i + 1, title: `Customer note ${i + 1}`, customer: 'acme', createdAt: '2025-01-01T00:00:00.000Z' })),
    nextCursor: null,
  }),
);

// ---------------------------------------------------------------------------------------------
// Roles run as child processes
// ---------------------------------------------------------------------------------------------

/** The upstream: plain node:http answering a fixed JSON body, keep-alive. */
function runUpstream(): void {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': BODY.length });
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(args.port), '127.0.0.1', () => process.stdout.write('READY\n'));
}

/** Bare @fastify/http-proxy, nothing else. */
async function runHttpProxy(): Promise<void> {
  const Fastify = (await import('fastify')).default;
  const proxy = (await import('@fastify/http-proxy')).default;
  const app = Fastify({ logger: false });
  await app.register(proxy, { upstream: args.upstream });
  await app.listen({ host: '127.0.0.1', port: Number(args.port) });
  // An orderly exit on SIGTERM, so that --cpu-prof gets to write its profile.
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write('READY\n');
}

/**
 * The load generator: open loop at `rate` requests/s per target for warmup + duration seconds,
 * request i to target i mod k. Latency of a request = response end − the time it was due.
 * Prints MEASURE-START / MEASURE-END around the measured window, then one JSON line with the
 * results of that window per target.
 */
async function runLoad(): Promise<void> {
  const { Pool } = await import('undici');
  const targets = args.urls.split(',').map((pair) => {
    const [name, url] = pair.split('=');
    return { name, pool: new Pool(new URL(url).origin, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 }), latencies: [] as number[], errors: 0, statusErrors: 0, due: 0 };
  });
  const k = targets.length;
  const rate = Number(args.rate) * k;
  const warmupMs = Number(args.warmup) * 1000;
  const durationMs = Number(args.duration) * 1000;
  const tokens: string[] = JSON.parse(fs.readFileSync(args.tokens, 'utf8'));
  const intervalNs = BigInt(Math.round(1e9 / rate));
  const t0 = process.hrtime.bigint();
  const measureFrom = t0 + BigInt(warmupMs) * 1_000_000n;
  const stopAt = measureFrom + BigInt(durationMs) * 1_000_000n;
  let inFlight = 0;
  let started = false;
  let due = t0;
  let n = 0;
  const fire = (dueAt: bigint, i: number) => {
    const measured = dueAt >= measureFrom && dueAt < stopAt;
    const t = targets[i % k];
    const seq = Math.floor(i / k);
    const tenant = seq % TENANTS;
    if (measured) t.due++;
    inFlight++;
    t.pool
      .request({
        path: `/api/v1/workspaces/ws-${tenant}/notes/${seq % 1000}`,
        method: 'GET',
        headers: { authorization: `Bearer ${tokens[tenant]}`, accept: 'application/json' },
      })
      .then(async (res) => {
        await res.body.dump();
        const end = process.hrtime.bigint();
        if (!measured) return;
        if (res.statusCode !== 200) t.statusErrors++;
        t.latencies.push(Number(end - dueAt) / 1e6);
      })
      .catch(() => {
        if (measured) t.errors++;
      })
      .finally(() => inFlight--);
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = process.hrtime.bigint();
      if (!started && now >= measureFrom) {
        started = true;
        process.stdout.write('MEASURE-START\n');
      }
      while (due <= now && due < stopAt) {
        fire(due, n++);
        due += intervalNs;
      }
      if (due >= stopAt) {
        resolve();
        return;
      }
      setImmediate(tick);
    };
    tick();
  });
  // The window ends when the last request due in it has finished (or after 5 s).
  const deadline = Date.now() + 5000;
  while (inFlight > 0 && Date.now() < deadline) await sleep(1);
  process.stdout.write('MEASURE-END\n');
  const out: Record<string, unknown> = {};
  for (const t of targets) {
    // Requests of the window still unanswered 5 s after it: counted as errors, not as latencies.
    const unfinished = Math.max(0, t.due - t.latencies.length - t.errors);
    out[t.name] = { summary: summarize(t.latencies), errors: t.errors, statusErrors: t.statusErrors, unfinished };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await Promise.all(targets.map((t) => t.pool.close()));
}

// ---------------------------------------------------------------------------------------------
// The orchestrator
// ---------------------------------------------------------------------------------------------

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** PIDs whose CPU counts for this target (nginx: master and workers). */
  pids(): number[];
  stop(): Promise<void>;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
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

const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const cpus = os.cpus().length;
const pin = (cpu: number, cmd: string, argv: string[]): [string, string[]] =>
  hasTaskset && cpus >= 2 ? ['taskset', ['-c', String(cpu), cmd, ...argv]] : [cmd, argv];

const registerTs = path.join(repoRoot(), 'tools', 'scripts', 'register-ts.js');
const self = __filename;

/** Node flags of the measured proxies: a CPU profile each with --cpu-prof DIR. */
const profileFlags = (name: string): string[] =>
  args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(args['cpu-prof'])}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];

function start(name: string, cpu: number, cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}, stdout: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  const [c, a] = pin(cpu, cmd, argv);
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', stdout, 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString().trim();
    if (text) log(`[${name}] ${text.split('\n').slice(0, 5).join(' | ')}`);
  });
  return child;
}

async function waitLine(child: ChildProcess, want: string, timeoutMs = 60_000): Promise<void> {
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

async function waitHttp(url: string, timeoutMs = 60_000): Promise<void> {
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

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, signal);
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

const fmt = (n: number, digits = 3) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/** A port nobody listens on right now (the kernel's pick; released before use). */
async function port(): Promise<number> {
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

async function startNginx(dir: string, upstreamPort: number): Promise<{ proc: Proc; url: string } | null> {
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

function routesFile(dir: string, upstreamUrl: string, mode: 'canary' | 'shadow'): string {
  const lines = [
    'upstreams:',
    `  monolith: { url: ${upstreamUrl}, timeoutMs: 10000 }`,
    `  insights: { url: ${upstreamUrl}, timeoutMs: 10000 }`,
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

async function startGatewayProc(name: string, file: string, databaseUrl: string, accessLog: boolean): Promise<{ proc: Proc; url: string }> {
  const p = await port();
  const adminPort = await port();
  const entry = path.join(repoRoot(), 'apps', 'gateway', 'src', 'main.ts');
  const child = start(
    name,
    0,
    process.execPath,
    [...profileFlags(name), '-r', registerTs, entry],
    {
      PORT: String(p),
      CARVE_ADMIN_PORT: String(adminPort),
      CARVE_ROUTES_FILE: file,
      DATABASE_URL: databaseUrl,
      CARVE_JWT_SECRET: DEV_JWT_SECRET,
      CARVE_ACCESS_LOG: String(accessLog),
      LOG_LEVEL: 'info',
      CARVE_GATEWAY_ID: name,
      NODE_ENV: 'production',
    },
    'ignore', // the access log (when on) goes to /dev/null
  );
  const url = `http://127.0.0.1:${p}`;
  await waitHttp(`${url}/readyz`);
  return { url, proc: { name, child, pids: () => [child.pid!], stop: () => stopChild(child) } };
}

interface Result {
  target: Target;
  /** The group it was measured in (interleaved layout), e.g. "peers". */
  group: string;
  summary: Summary;
  cpuUsPerReq: number;
  completed: number;
  errors: number;
}

interface Running {
  readonly target: Target;
  readonly url: string;
  readonly proc: Proc | null;
}

/** Runs the load generator against the running targets at once; CPU per target from /proc. */
async function measure(group: string, running: Running[], upstreamPid: number, tokensFile: string): Promise<{ results: Result[]; upstreamUsPerReq: number }> {
  const load = start('load', 1, process.execPath, [
    '-r',
    registerTs,
    self,
    '--role',
    'load',
    '--urls',
    running.map((r) => `${r.target}=${r.url}`).join(','),
    '--rate',
    String(args.rate ?? 2000),
    '--duration',
    String(args.duration ?? 10),
    '--warmup',
    String(args.warmup ?? 3),
    '--tokens',
    tokensFile,
  ]);
  const ticks = () => running.map((r) => (r.proc ? r.proc.pids().reduce((a, pid) => a + cpuTicks(pid), 0) : 0));
  let before: number[] = [];
  let after: number[] = [];
  let upBefore = 0;
  let upAfter = 0;
  let resultLine = '';
  const rl = createInterface({ input: load.stdout! });
  rl.on('line', (line) => {
    if (line === 'MEASURE-START') {
      before = ticks();
      upBefore = cpuTicks(upstreamPid);
    } else if (line === 'MEASURE-END') {
      after = ticks();
      upAfter = cpuTicks(upstreamPid);
    } else if (line.startsWith('{')) resultLine = line;
  });
  const code = await new Promise<number | null>((r) => load.once('exit', (c) => r(c)));
  if (code !== 0 || !resultLine) throw new Error(`load generator for ${group} failed (exit ${code})`);
  const out = JSON.parse(resultLine) as Record<string, { summary: Summary; errors: number; statusErrors: number; unfinished: number }>;
  const usPerTick = 1e6 / CLK_TCK;
  let total = 0;
  const results = running.map((r, i) => {
    const o = out[r.target];
    // JSON has no NaN: an empty window's figures arrive as null.
    for (const key of Object.keys(o.summary) as Array<keyof Summary>) o.summary[key] = o.summary[key] ?? NaN;
    total += o.summary.count;
    return {
      target: r.target,
      group,
      summary: o.summary,
      cpuUsPerReq: r.proc ? ((after[i] - before[i]) * usPerTick) / Math.max(1, o.summary.count) : 0,
      completed: o.summary.count,
      errors: o.errors + o.statusErrors + o.unfinished,
    };
  });
  return { results, upstreamUsPerReq: ((upAfter - upBefore) * usPerTick) / Math.max(1, total) };
}

/** The groups to run, in order: targets measured at the same time share a group. */
function groupsOf(targets: Target[]): Array<{ name: string; targets: Target[] }> {
  if ((args.layout ?? 'sequential') === 'sequential') return targets.map((t) => ({ name: t, targets: [t] }));
  if (args.layout !== 'interleaved') throw new Error(`--layout is interleaved or sequential, not ${args.layout}`);
  const peers = targets.filter((t) => ['direct', 'nginx', 'http-proxy', 'gateway'].includes(t));
  const variants = targets.filter((t) => ['gateway', 'gateway-log', 'shadow'].includes(t));
  const out: Array<{ name: string; targets: Target[] }> = [];
  if (peers.length) out.push({ name: 'peers', targets: peers });
  if (variants.some((t) => t !== 'gateway')) out.push({ name: 'gateway variants', targets: variants });
  return out;
}

const loadAverage = () => os.loadavg()[0].toFixed(2);
let loadAtStart = '';

async function main(): Promise<void> {
  loadAtStart = loadAverage();
  const targets = (args.targets ?? ALL_TARGETS.join(',')).split(',') as Target[];
  for (const t of targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}; choose from ${ALL_TARGETS.join(', ')}`);
  if (!hasTaskset || cpus < 2) log(`warning: ${hasTaskset ? `${cpus} CPU` : 'no taskset'}: processes are not pinned; figures are noisier`);
  const groups = groupsOf(targets);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-bench-gateway-'));
  fs.chmodSync(dir, 0o755);
  const tokensFile = path.join(dir, 'tokens.json');
  fs.writeFileSync(tokensFile, JSON.stringify(Array.from({ length: TENANTS }, (_, i) => signToken({ sub: `user-${i}`, tid: `ws-${i}`, role: 'maker' }, DEV_JWT_SECRET, { ttlSec: 3600 }))));

  const procs: Proc[] = [];
  const db = await resolveDatabase();
  const dbName = `bench_gateway_${Date.now().toString(36)}`;
  let dbUrl: string | undefined;
  const raw: Result[] = [];
  const upstreamCosts: number[] = [];
  try {
    dbUrl = await createDatabase(db.url, dbName);
    const upPort = await port();
    const upstream = start('upstream', 0, process.execPath, ['-r', registerTs, self, '--role', 'upstream', '--port', String(upPort)]);
    procs.push({ name: 'upstream', child: upstream, pids: () => [upstream.pid!], stop: () => stopChild(upstream) });
    await waitLine(upstream, 'READY');
    const upstreamUrl = `http://127.0.0.1:${upPort}`;
    const canaryFile = routesFile(dir, upstreamUrl, 'canary');
    const shadowFile = routesFile(dir, upstreamUrl, 'shadow');

    const launch = async (target: Target): Promise<Running | null> => {
      if (target === 'direct') return { target, url: upstreamUrl, proc: null };
      if (target === 'nginx') {
        const n = await startNginx(dir, upPort);
        return n && { target, url: n.url, proc: n.proc };
      }
      if (target === 'http-proxy') {
        const p = await port();
        const child = start('http-proxy', 0, process.execPath, [...profileFlags('http-proxy'), '-r', registerTs, self, '--role', 'http-proxy', '--port', String(p), '--upstream', upstreamUrl]);
        await waitLine(child, 'READY');
        return { target, url: `http://127.0.0.1:${p}`, proc: { name: target, child, pids: () => [child.pid!], stop: () => stopChild(child) } };
      }
      const g = await startGatewayProc(target, target === 'shadow' ? shadowFile : canaryFile, dbUrl!, target === 'gateway-log');
      return { target, url: g.url, proc: g.proc };
    };

    const rounds = Math.max(1, Number(args.rounds ?? 1));
    for (let round = 0; round < rounds; round++) {
      // Later rounds rotate the order, so no group (or target) always runs first on a shared machine.
      const order = groups.map((_, i) => groups[(i + round) % groups.length]);
      for (const group of order) {
        const running: Running[] = [];
        try {
          const rotated = group.targets.map((_, i) => group.targets[(i + round) % group.targets.length]);
          for (const t of rotated) {
            const r = await launch(t);
            if (!r) continue;
            running.push(r);
            if (r.proc) procs.push(r.proc);
          }
          log(`round ${round + 1}/${rounds}, ${group.name}: ${running.map((r) => r.target).join(', ')} at ${args.rate ?? 2000} req/s each (${args.warmup ?? 3} s warm-up, ${args.duration ?? 10} s measured)`);
          const { results, upstreamUsPerReq } = await measure(group.name, running, upstream.pid!, tokensFile);
          upstreamCosts.push(upstreamUsPerReq);
          for (const r of results) {
            raw.push(r);
            log(`  ${r.target}: p50 ${fmt(r.summary.p50)} ms, p99 ${fmt(r.summary.p99)} ms, ${r.target === 'direct' ? '-' : fmt(r.cpuUsPerReq, 1)} µs CPU/req, ${r.errors} errors`);
          }
        } finally {
          for (const r of running) {
            if (!r.proc) continue;
            await r.proc.stop();
            procs.splice(procs.indexOf(r.proc), 1);
          }
        }
      }
    }
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    if (dbUrl) await dropDatabase(db.url, dbName).catch(() => undefined);
    await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const results: Result[] = [];
  for (const g of groups) {
    for (const t of g.targets) {
      const mine = raw.filter((r) => r.group === g.name && r.target === t);
      if (mine.length) results.push(medianResult(mine));
    }
  }
  report(results, upstreamCosts);
}

/** The median of each figure over rounds (a target's rounds are few: 1 to 5). */
function medianResult(rs: Result[]): Result {
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  return {
    target: rs[0].target,
    group: rs[0].group,
    summary: {
      count: med(rs.map((r) => r.summary.count)),
      p50: med(rs.map((r) => r.summary.p50)),
      p99: med(rs.map((r) => r.summary.p99)),
      max: Math.max(...rs.map((r) => r.summary.max)),
      mean: med(rs.map((r) => r.summary.mean)),
    },
    cpuUsPerReq: med(rs.map((r) => r.cpuUsPerReq)),
    completed: rs.reduce((a, r) => a + r.completed, 0),
    errors: rs.reduce((a, r) => a + r.errors, 0),
  };
}

function report(results: Result[], upstreamCosts: number[]): void {
  const find = (group: string, t: Target) => results.find((r) => r.group === group && r.target === t);
  const sequential = (args.layout ?? 'sequential') === 'sequential';
  const peersGroup = (t: Target) => (sequential ? t : 'peers');
  const variantsGroup = (t: Target) => (sequential ? t : 'gateway variants');
  const direct = find(peersGroup('direct'), 'direct');
  const rows = results.map((r) => {
    const base = sequential || r.group === 'peers' ? direct : undefined;
    const added = (x: number, y: number | undefined) => (base && r.target !== 'direct' && y !== undefined ? fmt(x - y) : '-');
    return `| ${r.target} | ${sequential ? '-' : r.group} | ${r.target === 'direct' ? '-' : fmt(r.cpuUsPerReq, 1)} | ${fmt(r.summary.p50)} | ${fmt(r.summary.p99)} | ${added(r.summary.p50, base?.summary.p50)} | ${added(r.summary.p99, base?.summary.p99)} | ${r.completed} | ${r.errors} |`;
  });
  const upstream = [...upstreamCosts].sort((a, b) => a - b)[Math.floor(upstreamCosts.length / 2)];
  const lines = [
    `${sequential ? 'sequential' : 'interleaved'} layout, ${args.rate ?? 2000} req/s per target, open loop, ${args.duration ?? 10} s measured after ${args.warmup ?? 3} s warm-up, ${args.rounds ?? 1} round(s) (medians); node ${process.version}; ${os.cpus()[0]?.model ?? '?'} x${cpus}; upstream ${fmt(upstream, 1)} µs CPU/req; 1-min load average ${loadAtStart} at the start, ${loadAverage()} at the end (other work shares the machine)`,
    '',
    '| target | group | CPU µs/req | p50 ms | p99 ms | added p50 ms | added p99 ms | requests | errors |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
  ];
  const gw = find(peersGroup('gateway'), 'gateway');
  const nginx = find(peersGroup('nginx'), 'nginx');
  const hp = find(peersGroup('http-proxy'), 'http-proxy');
  const plain = find(variantsGroup('gateway'), 'gateway');
  const shadow = find(variantsGroup('shadow'), 'shadow');
  const added99 = (r: Result | undefined) => (r && direct ? r.summary.p99 - direct.summary.p99 : NaN);
  const checks: string[] = [];
  const check = (what: string, value: number, limit: number, unit = 'x') => {
    // A ratio over a baseline at or below zero (the peer measured no slower than direct) means nothing.
    const shown = Number.isFinite(value) && value > 0 ? `${value.toFixed(2)}${unit}` : '-';
    const verdict = shown === '-' ? 'not measurable in this run' : value <= limit ? 'met' : 'NOT met';
    checks.push(`| ${what} | ${shown} | ${limit}${unit} | ${verdict} |`);
  };
  if (gw && hp) check('gateway CPU / bare @fastify/http-proxy CPU', gw.cpuUsPerReq / hp.cpuUsPerReq, 1);
  if (gw && nginx) check('gateway CPU / nginx CPU', gw.cpuUsPerReq / nginx.cpuUsPerReq, 3.5);
  if (gw && nginx) check('gateway added p99 / nginx added p99', added99(nginx) > 0 ? added99(gw) / added99(nginx) : NaN, 1.5);
  if (shadow && plain) check('shadowed route CPU / plain route CPU', shadow.cpuUsPerReq / plain.cpuUsPerReq, 2);
  if (shadow && plain) check('shadowed route client p99 / plain p99', shadow.summary.p99 / plain.summary.p99, 1.1);
  if (checks.length) lines.push('| goal (issue 4) | measured | limit | |', '| --- | ---: | ---: | --- |', ...checks, '');
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

const roles: Record<string, () => void | Promise<void>> = { main, upstream: runUpstream, 'http-proxy': runHttpProxy, load: runLoad };
const run = roles[role];
if (!run) {
  log(`unknown role ${role}`);
  process.exit(2);
}
Promise.resolve(run()).catch((err: Error) => {
  log(`failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
