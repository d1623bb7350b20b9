/**
 * The strangler gateway against its peers, measured side by side in one run (docs/benchmarks.md,
 * "Gateway"). Per FACTS.md ("Measuring on a 2-core shared machine"): the upstreams and the
 * proxies are pinned to CPU 0, the load generator to CPU 1 (taskset); CPU time per request of
 * each proxy process comes from /proc (see the layouts for the window it is taken over);
 * latency is measured open loop at a fixed rate well below saturation, from the moment each
 * request was *due* (not when it was sent), with sub-millisecond timing.
 *
 * Targets (same upstream, same requests):
 *   direct        the load generator straight to the upstream (the latency baseline)
 *   nginx         nginx (Debian nginx-light) as a keep-alive reverse proxy; skipped with a
 *                 message when nginx is not installed (this script never installs it)
 *   http-proxy    bare @fastify/http-proxy (reply-from, undici), logger off
 *   node-floor    the least a proxy on Node's HTTP stack does: a node:http server relaying each
 *                 request over an undici Pool (`dispatch`, no promise or stream per request) and
 *                 writing the answer in one `end`; no routing, identity, metrics or logging. A
 *                 reference, not a peer: what the Carve gateway costs beyond it is its own work
 *   gateway       the Carve gateway, 200 routes loaded, the route under load in canary 50%
 *                 (sticky by tenant over 100 tenants: about half the tenants go to the
 *                 "service", the rest to the monolith upstream), JWT verified, metrics on,
 *                 access log off
 *   gateway-log   the same with the access log on (its default), written to /dev/null
 *   shadow        the Carve gateway with the route under load in shadow mode (sample 1.0):
 *                 every request is also sent to the "service" and compared
 * The monolith upstream ("upstream") and the service ("service", started when a gateway target
 * runs) are two processes of the same kind (plain node:http, the same body), both on CPU 0, so a
 * shadow copy queues in the service's process, not in front of the client's next request in the
 * monolith's. Both gateway variants see that topology (canary and shadow route files alike).
 * Their CPU per request they served (each counts its requests) is in the report's header line.
 *
 * Layouts:
 *   sliced (default)  every target is started and stays up for the whole run (all rounds); the
 *                 load generator loads ONE target at a time, in slices of --slice-ms (500), at
 *                 --rate, going through all targets once per cycle in an order shuffled per
 *                 cycle (seeded, reproducible; never the same target twice in a row), so every
 *                 target samples the same minutes of a shared machine without competing with
 *                 the others for CPU 0. Each target gets --warmup seconds of slices first, then
 *                 --duration seconds of measured slices: a round takes about
 *                 k x (warmup + duration). A request counts for the target of the slice it was
 *                 *due* in, even when it finishes later. After a slice's last request is due the
 *                 generator waits for the slice's requests to finish (at most 100 ms) and
 *                 --drain-ms (5) more, so that work a target does after answering (a shadow
 *                 copy and its comparison, logging) stays in its own slice; then the orchestrator
 *                 reads that target's CPU time (/proc/<pid>/task/<tid>/schedstat, in ns: the
 *                 10 ms ticks of /proc/<pid>/stat are too coarse for a slice of a few ms of CPU)
 *                 at the slice's start and end and sums the deltas. So a target's CPU per
 *                 request covers its own slices only: its timers and background work while the
 *                 others are loaded are left out, and any work later than the drain lands
 *                 outside (a small error, in the target's favour).
 *   sequential    one target at a time, each at the full rate for warmup + duration, started
 *                 and stopped per round (FACTS.md's method); CPU from /proc/<pid>/stat (utime +
 *                 stime) over the measured window. Latency tails move minute to minute on a
 *                 shared machine, so targets measured minutes apart compare poorly.
 *   interleaved   the targets of a group run at the same time and the load generator sends
 *                 request i to target i mod k: every target sees the same moment of a shared
 *                 machine, but they take CPU 0 from each other. Groups: direct, nginx,
 *                 http-proxy, gateway (the peers); then gateway, gateway-log, shadow (the
 *                 gateway's own variants). Use a lower --rate (it is per target); CPU per request
 *                 rises at low rates (less work per event-loop turn), so compare CPU figures
 *                 only within one layout and rate.
 *
 * Usage:
 *   npm run bench:gateway -w @carve/bench -- [--rate 2000] [--duration 10] [--warmup 3]
 *       [--rounds 3] [--layout sliced|sequential|interleaved] [--slice-ms 500] [--drain-ms 5]
 *       [--targets direct,nginx,http-proxy,node-floor,gateway,gateway-log,shadow] [--json] [--cpu-prof DIR]
 *       [--gateway-node-flags="--flag --flag"] [--gateway-stdout FILE]
 * --rate is per target (sliced: the rate while a slice of that target runs). --duration and
 * --warmup are per target in every layout. With --rounds N every group (sliced: the whole
 * rotation) runs N times and each figure is the median over the rounds (requests and errors are
 * summed). --cpu-prof DIR writes a V8 CPU profile of every gateway process (and http-proxy) into
 * DIR (node --cpu-prof; it costs CPU, so do not compare the figures of such a run with others).
 * --gateway-node-flags adds node flags to the gateway processes (write it with "=": a value
 * starting with "--" is not taken otherwise). --gateway-stdout FILE appends what the gateway
 * processes print to FILE instead of /dev/null (e.g. with --gateway-node-flags=--trace-gc). Postgres (the gateway's control plane):
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

const ALL_TARGETS = ['direct', 'nginx', 'http-proxy', 'node-floor', 'gateway', 'gateway-log', 'shadow'] as const;
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

/** Where an upstream answers the number of requests it has served (this one not counted). */
const COUNT_PATH = '/__bench/count';

/** The upstream (and the service): plain node:http answering a fixed JSON body, keep-alive. */
function runUpstream(): void {
  let served = 0;
  const server = http.createServer((req, res) => {
    if (req.url === COUNT_PATH) {
      res.end(String(served));
      return;
    }
    served++;
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

/** Hop-by-hop headers (RFC 9110 7.6.1): a proxy does not pass them on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/**
 * The node-floor target: a node:http server that relays each request to the upstream over an
 * undici Pool through `dispatch` (the gateway's forwarder's path, without its gateway) and
 * writes the answer with one `end`. Nothing else: no routing, identity, metrics or logs.
 */
async function runNodeFloor(): Promise<void> {
  const { Pool } = await import('undici');
  const pool = new Pool(args.upstream, { connections: 64, keepAliveTimeout: 60_000 });
  const server = http.createServer((req, res) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      if (!HOP_BY_HOP.has(name.toLowerCase()) && name.toLowerCase() !== 'host') headers.push(name, req.rawHeaders[i + 1]);
    }
    const body: Buffer[] = [];
    pool.dispatch(
      { method: req.method as 'GET', path: req.url!, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
      {
        onConnect() {},
        onHeaders(status, raw) {
          res.statusCode = status;
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i].toString('latin1');
            if (!HOP_BY_HOP.has(name.toLowerCase())) res.setHeader(name, raw[i + 1].toString('latin1'));
          }
          return true;
        },
        onData(chunk) {
          body.push(chunk);
          return true;
        },
        onComplete() {
          res.end(body.length === 1 ? body[0] : Buffer.concat(body));
        },
        onError() {
          if (res.headersSent) res.destroy();
          else {
            res.statusCode = 502;
            res.end();
          }
        },
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(args.port), '127.0.0.1', () => process.stdout.write('READY\n'));
  process.once('SIGTERM', () => process.exit(0));
}

/** A small seeded PRNG (mulberry32): the sliced layout's orders are the same from run to run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The load generator, open loop; latency of a request = response end − the time it was due.
 * Interleaved and sequential: `rate` requests/s per target for warmup + duration seconds, request
 * i to target i mod k. Sliced (`--slice-ms`): one target at a time (see the header comment);
 * at the start of each measured slice it prints `SLICE <target> START` and waits for a line on
 * stdin (the orchestrator reads the target's CPU time first), at its end (after the drain)
 * `SLICE <target> END`. Prints MEASURE-START / MEASURE-END around the measured window, then one
 * JSON line with the results of that window per target.
 */
async function runLoad(): Promise<void> {
  const { Pool } = await import('undici');
  const targets = args.urls.split(',').map((pair) => {
    const [name, url] = pair.split('=');
    return { name, pool: new Pool(new URL(url).origin, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 }), latencies: [] as number[], errors: 0, statusErrors: 0, due: 0, seq: 0 };
  });
  type LoadTarget = (typeof targets)[number];
  const k = targets.length;
  const warmupMs = Number(args.warmup) * 1000;
  const durationMs = Number(args.duration) * 1000;
  const tokens: string[] = JSON.parse(fs.readFileSync(args.tokens, 'utf8'));
  let inFlight = 0;
  const fire = (t: LoadTarget, dueAt: bigint, measured: boolean): Promise<void> => {
    const seq = t.seq++;
    const tenant = seq % TENANTS;
    if (measured) t.due++;
    inFlight++;
    return t.pool
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
  const say = (line: string) => process.stdout.write(`${line}\n`);

  if (args['slice-ms']) {
    const sliceMs = Number(args['slice-ms']);
    const drainMs = Number(args['drain-ms'] ?? 5);
    const rate = Number(args.rate);
    const perSlice = Math.max(1, Math.round((rate * sliceMs) / 1000));
    const intervalNs = BigInt(Math.round(1e9 / rate));
    const warmupCycles = Math.ceil(warmupMs / sliceMs);
    const cycles = warmupCycles + Math.max(1, Math.round(durationMs / sliceMs));
    // The orchestrator's go-ahead at the start of each measured slice.
    const acks = createInterface({ input: process.stdin });
    let waiting: (() => void) | null = null;
    let early = 0;
    acks.on('line', () => {
      if (waiting) {
        const w = waiting;
        waiting = null;
        w();
      } else early++;
    });
    const go = () =>
      early > 0
        ? (early--, Promise.resolve())
        : new Promise<void>((r) => {
            waiting = r;
          });
    const rand = prng(Number(args.seed ?? 1));
    let previous: LoadTarget | undefined;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const measured = cycle >= warmupCycles;
      if (cycle === warmupCycles) say('MEASURE-START');
      // Fisher-Yates, then no target twice in a row across the cycle boundary.
      const order = [...targets];
      for (let i = k - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      if (k > 1 && order[0] === previous) {
        const j = 1 + Math.floor(rand() * (k - 1));
        [order[0], order[j]] = [order[j], order[0]];
      }
      for (const t of order) {
        if (measured) {
          say(`SLICE ${t.name} START`);
          await go();
        }
        const pending: Array<Promise<void>> = [];
        const sliceStart = process.hrtime.bigint();
        let j = 0;
        await new Promise<void>((resolve) => {
          const tick = () => {
            const now = process.hrtime.bigint();
            while (j < perSlice && sliceStart + BigInt(j) * intervalNs <= now) {
              pending.push(fire(t, sliceStart + BigInt(j) * intervalNs, measured));
              j++;
            }
            if (j >= perSlice) resolve();
            else setImmediate(tick);
          };
          tick();
        });
        // The drain: the slice's requests finish (requests slower than 100 ms finish in the
        // next slice, still counted for this target), then a few ms for work after the answer.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, 100)))]);
        clearTimeout(timer);
        if (drainMs > 0) await sleep(drainMs);
        if (measured) say(`SLICE ${t.name} END`);
        previous = t;
      }
    }
    acks.close();
    process.stdin.destroy();
  } else {
    const rate = Number(args.rate) * k;
    const intervalNs = BigInt(Math.round(1e9 / rate));
    const t0 = process.hrtime.bigint();
    const measureFrom = t0 + BigInt(warmupMs) * 1_000_000n;
    const stopAt = measureFrom + BigInt(durationMs) * 1_000_000n;
    let started = false;
    let due = t0;
    let n = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = process.hrtime.bigint();
        if (!started && now >= measureFrom) {
          started = true;
          say('MEASURE-START');
        }
        while (due <= now && due < stopAt) {
          void fire(targets[n % k], due, due >= measureFrom && due < stopAt);
          n++;
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
  }
  // The window ends when the last request due in it has finished (or after 5 s).
  const deadline = Date.now() + 5000;
  while (inFlight > 0 && Date.now() < deadline) await sleep(1);
  say('MEASURE-END');
  const out: Record<string, unknown> = {};
  for (const t of targets) {
    // Requests of the window still unanswered 5 s after it: counted as errors, not as latencies.
    const unfinished = Math.max(0, t.due - t.latencies.length - t.errors);
    out[t.name] = { summary: summarize(t.latencies), errors: t.errors, statusErrors: t.statusErrors, unfinished };
  }
  say(JSON.stringify(out));
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

/**
 * CPU time of a process in ns: the sum over its threads of /proc/<pid>/task/<tid>/schedstat
 * (the scheduler's own count, in ns; a thread that exits takes its time with it, which the
 * node processes here do not do); /proc/<pid>/stat's ticks where schedstat is not available.
 * Read while the process is idle (between slices) it is exact; on a thread that is running it
 * may lag by up to a tick.
 */
function cpuNs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns;
  } catch {
    return (cpuTicks(pid) * 1e9) / CLK_TCK;
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

/** Extra node flags of the gateway processes (`--gateway-node-flags "--a --b"`), e.g. GC settings under test. */
const gatewayNodeFlags = (): string[] => (args['gateway-node-flags'] ? String(args['gateway-node-flags']).split(/\s+/).filter(Boolean) : []);

function start(
  name: string,
  cpu: number,
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

/** The route table of a gateway target: the route under load goes to `insights`, the service process. */
function routesFile(dir: string, upstreamUrl: string, serviceUrl: string, mode: 'canary' | 'shadow'): string {
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

async function startGatewayProc(name: string, file: string, databaseUrl: string, accessLog: boolean): Promise<{ proc: Proc; url: string }> {
  const p = await port();
  const adminPort = await port();
  const entry = path.join(repoRoot(), 'apps', 'gateway', 'src', 'main.ts');
  const child = start(
    name,
    0,
    process.execPath,
    [...gatewayNodeFlags(), ...profileFlags(name), '-r', registerTs, entry],
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
  /** The group it was measured in: the target (sequential), "peers" or "gateway variants" (interleaved), "sliced". */
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

/** A process the targets' requests end in: the monolith upstream, the service. */
interface Backend {
  readonly name: 'upstream' | 'service';
  readonly pid: number;
  readonly url: string;
}

const LAYOUTS = ['sliced', 'sequential', 'interleaved'] as const;
type Layout = (typeof LAYOUTS)[number];
const layout = (args.layout ?? 'sliced') as Layout;
const sliceMs = () => Number(args['slice-ms'] ?? 500);

/** The number of requests a backend has served so far. */
async function servedCount(url: string): Promise<number> {
  const r = await fetch(`${url}${COUNT_PATH}`, { signal: AbortSignal.timeout(5000) });
  return Number(await r.text());
}

/**
 * Runs the load generator against the running targets (sliced: one at a time; otherwise at
 * once); CPU per target from /proc over its slices (sliced) or the measured window, CPU per
 * request served of each backend over the measured window.
 */
async function measure(
  group: string,
  running: Running[],
  backends: Backend[],
  tokensFile: string,
  round: number,
): Promise<{ results: Result[]; backendUsPerReq: Record<string, number> }> {
  const sliced = layout === 'sliced';
  const load = start(
    'load',
    1,
    process.execPath,
    [
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
      ...(sliced ? ['--slice-ms', String(sliceMs()), '--drain-ms', String(args['drain-ms'] ?? 5), '--seed', String(round + 1)] : []),
    ],
    {},
    'pipe',
    sliced ? 'pipe' : 'ignore',
  );
  load.stdin?.on('error', () => undefined); // it has exited: its exit code tells
  // ns; the sequential and interleaved layouts keep /proc/<pid>/stat (ticks) over their long window.
  const readCpu = sliced ? cpuNs : (pid: number) => (cpuTicks(pid) * 1e9) / CLK_TCK;
  const pids = running.map((r) => (r.proc ? r.proc.pids() : []));
  const cpuOf = (i: number) => pids[i].reduce((a, pid) => a + readCpu(pid), 0);
  const index = new Map(running.map((r, i) => [r.target as string, i]));
  const from = running.map(() => 0);
  const spent = running.map(() => 0);
  const backendFrom = backends.map(() => ({ cpu: 0, served: 0 }));
  const backendSpent = backends.map(() => ({ cpu: 0, served: 0 }));
  let resultLine = '';
  const handle = async (line: string): Promise<void> => {
    if (line.startsWith('SLICE ')) {
      const [, target, edge] = line.split(' ');
      const i = index.get(target);
      if (i === undefined) throw new Error(`load generator: unknown target in "${line}"`);
      if (edge === 'START') {
        from[i] = cpuOf(i);
        load.stdin!.write('GO\n');
      } else spent[i] += cpuOf(i) - from[i];
    } else if (line === 'MEASURE-START') {
      // The targets first: in the sequential and interleaved layouts the load does not wait.
      if (!sliced) running.forEach((_, i) => (from[i] = cpuOf(i)));
      for (const [i, b] of backends.entries()) backendFrom[i] = { cpu: readCpu(b.pid), served: await servedCount(b.url) };
    } else if (line === 'MEASURE-END') {
      if (!sliced) running.forEach((_, i) => (spent[i] = cpuOf(i) - from[i]));
      for (const [i, b] of backends.entries()) backendSpent[i] = { cpu: readCpu(b.pid) - backendFrom[i].cpu, served: (await servedCount(b.url)) - backendFrom[i].served };
    } else if (line.startsWith('{')) resultLine = line;
  };
  // Lines are handled one after another (a slice's go-ahead waits for the reads before it).
  let chain = Promise.resolve();
  let failure: Error | undefined;
  const rl = createInterface({ input: load.stdout! });
  rl.on('line', (line) => {
    chain = chain
      .then(() => (failure ? undefined : handle(line)))
      .catch((err: Error) => {
        failure ??= err;
        void stopChild(load);
      });
  });
  const code = await new Promise<number | null>((r) => load.once('close', (c) => r(c)));
  await chain;
  if (failure) throw failure;
  if (code !== 0 || !resultLine) throw new Error(`load generator for ${group} failed (exit ${code})`);
  const out = JSON.parse(resultLine) as Record<string, { summary: Summary; errors: number; statusErrors: number; unfinished: number }>;
  const results = running.map((r, i) => {
    const o = out[r.target];
    // JSON has no NaN: an empty window's figures arrive as null.
    for (const key of Object.keys(o.summary) as Array<keyof Summary>) o.summary[key] = o.summary[key] ?? NaN;
    return {
      target: r.target,
      group,
      summary: o.summary,
      cpuUsPerReq: r.proc ? spent[i] / 1e3 / Math.max(1, o.summary.count) : 0,
      completed: o.summary.count,
      errors: o.errors + o.statusErrors + o.unfinished,
    };
  });
  const backendUsPerReq: Record<string, number> = {};
  for (const [i, b] of backends.entries()) backendUsPerReq[b.name] = backendSpent[i].served > 0 ? backendSpent[i].cpu / 1e3 / backendSpent[i].served : NaN;
  return { results, backendUsPerReq };
}

/** The groups to run, in order: targets measured in one run of the load generator share a group. */
function groupsOf(targets: Target[]): Array<{ name: string; targets: Target[] }> {
  if (layout === 'sliced') return [{ name: 'sliced', targets }];
  if (layout === 'sequential') return targets.map((t) => ({ name: t, targets: [t] }));
  const peers = targets.filter((t) => ['direct', 'nginx', 'http-proxy', 'node-floor', 'gateway'].includes(t));
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
  if (!LAYOUTS.includes(layout)) throw new Error(`--layout is ${LAYOUTS.join(', ')} or nothing (sliced), not ${args.layout}`);
  if (layout === 'sliced' && !(sliceMs() > 0)) throw new Error(`--slice-ms is a number of ms above 0, not ${args['slice-ms']}`);
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
  const backendCosts: Record<string, number[]> = { upstream: [], service: [] };
  try {
    dbUrl = await createDatabase(db.url, dbName);
    const startBackend = async (name: Backend['name']): Promise<Backend> => {
      const p = await port();
      const child = start(name, 0, process.execPath, ['-r', registerTs, self, '--role', 'upstream', '--port', String(p)]);
      procs.push({ name, child, pids: () => [child.pid!], stop: () => stopChild(child) });
      await waitLine(child, 'READY');
      return { name, pid: child.pid!, url: `http://127.0.0.1:${p}` };
    };
    const upstream = await startBackend('upstream');
    const backends = [upstream];
    // The service side of the gateway targets' route under load: a process of its own.
    if (targets.some((t) => t === 'gateway' || t === 'gateway-log' || t === 'shadow')) backends.push(await startBackend('service'));
    const serviceUrl = backends[1]?.url ?? upstream.url;
    const upPort = Number(new URL(upstream.url).port);
    const canaryFile = routesFile(dir, upstream.url, serviceUrl, 'canary');
    const shadowFile = routesFile(dir, upstream.url, serviceUrl, 'shadow');

    const launch = async (target: Target): Promise<Running | null> => {
      if (target === 'direct') return { target, url: upstream.url, proc: null };
      if (target === 'nginx') {
        const n = await startNginx(dir, upPort);
        return n && { target, url: n.url, proc: n.proc };
      }
      if (target === 'http-proxy' || target === 'node-floor') {
        const p = await port();
        const child = start(target, 0, process.execPath, [...profileFlags(target), '-r', registerTs, self, '--role', target, '--port', String(p), '--upstream', upstream.url]);
        await waitLine(child, 'READY');
        return { target, url: `http://127.0.0.1:${p}`, proc: { name: target, child, pids: () => [child.pid!], stop: () => stopChild(child) } };
      }
      const g = await startGatewayProc(target, target === 'shadow' ? shadowFile : canaryFile, dbUrl!, target === 'gateway-log');
      return { target, url: g.url, proc: g.proc };
    };
    const launchAll = async (ts: Target[]): Promise<Running[]> => {
      const running: Running[] = [];
      for (const t of ts) {
        const r = await launch(t);
        if (!r) continue;
        running.push(r);
        if (r.proc) procs.push(r.proc);
      }
      return running;
    };
    const stopAll = async (running: Running[]): Promise<void> => {
      for (const r of running) {
        if (!r.proc) continue;
        await r.proc.stop();
        procs.splice(procs.indexOf(r.proc), 1);
      }
    };
    const measureRound = async (round: number, rounds: number, group: string, running: Running[]): Promise<void> => {
      const rate = args.rate ?? 2000;
      const warmup = args.warmup ?? 3;
      const duration = args.duration ?? 10;
      log(
        layout === 'sliced'
          ? `round ${round + 1}/${rounds}, sliced (${sliceMs()} ms): ${running.map((r) => r.target).join(', ')} one at a time at ${rate} req/s (${warmup} s warm-up, ${duration} s measured each, about ${Math.round(running.length * (Number(warmup) + Number(duration)))} s)`
          : `round ${round + 1}/${rounds}, ${group}: ${running.map((r) => r.target).join(', ')} at ${rate} req/s each (${warmup} s warm-up, ${duration} s measured)`,
      );
      const { results, backendUsPerReq } = await measure(group, running, backends, tokensFile, round);
      for (const [name, us] of Object.entries(backendUsPerReq)) if (Number.isFinite(us)) backendCosts[name].push(us);
      for (const r of results) {
        raw.push(r);
        log(`  ${r.target}: p50 ${fmt(r.summary.p50)} ms, p99 ${fmt(r.summary.p99)} ms, ${r.target === 'direct' ? '-' : fmt(r.cpuUsPerReq, 1)} µs CPU/req, ${r.errors} errors`);
      }
      log(`  ${Object.entries(backendUsPerReq).map(([name, us]) => `${name} ${fmt(us, 1)} µs CPU/req`).join(', ')}`);
    };

    const rounds = Math.max(1, Number(args.rounds ?? 1));
    if (layout === 'sliced') {
      // Every target up for the whole run; each round is one run of the load generator (its own
      // warm-up slices, its own shuffled order).
      const running = await launchAll(targets);
      try {
        for (let round = 0; round < rounds; round++) await measureRound(round, rounds, 'sliced', running);
      } finally {
        await stopAll(running);
      }
    } else {
      for (let round = 0; round < rounds; round++) {
        // Later rounds rotate the order, so no group (or target) always runs first on a shared machine.
        const order = groups.map((_, i) => groups[(i + round) % groups.length]);
        for (const group of order) {
          const rotated = group.targets.map((_, i) => group.targets[(i + round) % group.targets.length]);
          const running: Running[] = [];
          try {
            running.push(...(await launchAll(rotated)));
            await measureRound(round, rounds, group.name, running);
          } finally {
            await stopAll(running);
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
  report(results, backendCosts);
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

function report(results: Result[], backendCosts: Record<string, number[]>): void {
  const find = (group: string, t: Target) => results.find((r) => r.group === group && r.target === t);
  const peersGroup = (t: Target) => (layout === 'sequential' ? t : layout === 'sliced' ? 'sliced' : 'peers');
  const variantsGroup = (t: Target) => (layout === 'sequential' ? t : layout === 'sliced' ? 'sliced' : 'gateway variants');
  const direct = find(peersGroup('direct'), 'direct');
  const rows = results.map((r) => {
    const base = layout !== 'interleaved' || r.group === 'peers' ? direct : undefined;
    const added = (x: number, y: number | undefined) => (base && r.target !== 'direct' && y !== undefined ? fmt(x - y) : '-');
    return `| ${r.target} | ${layout === 'interleaved' ? r.group : '-'} | ${r.target === 'direct' ? '-' : fmt(r.cpuUsPerReq, 1)} | ${fmt(r.summary.p50)} | ${fmt(r.summary.p99)} | ${added(r.summary.p50, base?.summary.p50)} | ${added(r.summary.p99, base?.summary.p99)} | ${r.completed} | ${r.errors} |`;
  });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const backends = Object.entries(backendCosts)
    .filter(([, costs]) => costs.length)
    .map(([name, costs]) => `${name} ${fmt(median(costs), 1)} µs CPU/req`)
    .join(', ');
  const rate = args.rate ?? 2000;
  const how =
    layout === 'sliced'
      ? `sliced layout (one target at a time in ${sliceMs()} ms slices, order shuffled per cycle), ${rate} req/s to the target of each slice, open loop, ${args.duration ?? 10} s measured per target after ${args.warmup ?? 3} s warm-up`
      : `${layout} layout, ${rate} req/s per target, open loop, ${args.duration ?? 10} s measured after ${args.warmup ?? 3} s warm-up`;
  const lines = [
    `${how}, ${args.rounds ?? 1} round(s) (medians); node ${process.version}; ${os.cpus()[0]?.model ?? '?'} x${cpus}; ${backends} (of the requests each served); 1-min load average ${loadAtStart} at the start, ${loadAverage()} at the end (other work shares the machine)`,
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
  // The same ratios for the node-floor reference: what any proxy on Node's HTTP stack gets here.
  const floor = find(peersGroup('node-floor'), 'node-floor');
  const refs: string[] = [];
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
  if (floor && nginx) refs.push(`| node-floor CPU / nginx CPU | ${ratio(floor.cpuUsPerReq, nginx.cpuUsPerReq)} |`);
  if (floor && nginx) refs.push(`| node-floor added p99 / nginx added p99 | ${ratio(added99(floor), added99(nginx))} |`);
  if (floor && gw) refs.push(`| gateway CPU / node-floor CPU | ${ratio(gw.cpuUsPerReq, floor.cpuUsPerReq)} |`);
  if (floor && gw) refs.push(`| gateway added p99 / node-floor added p99 | ${ratio(added99(gw), added99(floor))} |`);
  if (refs.length) lines.push('| reference: the node-floor target | measured |', '| --- | ---: |', ...refs, '');
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

const roles: Record<string, () => void | Promise<void>> = { main, upstream: runUpstream, 'http-proxy': runHttpProxy, 'node-floor': runNodeFloor, load: runLoad };
const run = roles[role];
if (!run) {
  log(`unknown role ${role}`);
  process.exit(2);
}
Promise.resolve(run()).catch((err: Error) => {
  log(`failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
