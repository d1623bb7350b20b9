/**
 * The strangler gateway against its peers, measured side by side in one run (docs/benchmarks.md,
 * "Gateway"). On a 2-core machine shared with other work: the upstreams and the
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
 *   gateway-traced the same as gateway with OpenTelemetry tracing on at 10% sampling
 *                 (OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1; the
 *                 load sends no traceparent, so a tenth of the requests start a sampled trace and
 *                 every request carries a traceparent upstream), spans exported by OTLP/HTTP
 *                 in batches of 64 (so that in the sliced layout the exports fall in its own
 *                 slices) to a receiver in the orchestrator process; the spans and traces it
 *                 received are in the report
 *   gateway-2w    the same as gateway with CARVE_GATEWAY_WORKERS=2: a primary and two workers
 *                 on one port; its CPU is the primary's and the workers' (their PIDs from
 *                 the primary's children in /proc). Pinned to CPU 0 like the others in the
 *                 open-loop layouts (its CPU per request beside gateway's); its throughput
 *                 beside gateway's is what the max layout measures
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
 *                 and stopped per round; CPU from /proc/<pid>/stat (utime +
 *                 stime) over the measured window. Latency tails move minute to minute on a
 *                 shared machine, so targets measured minutes apart compare poorly.
 *   interleaved   the targets of a group run at the same time and the load generator sends
 *                 request i to target i mod k: every target sees the same moment of a shared
 *                 machine, but they take CPU 0 from each other. Groups: direct, nginx,
 *                 http-proxy, gateway (the peers); then gateway, gateway-log, gateway-traced,
 *                 shadow (the gateway's own variants). Use a lower --rate (it is per target); CPU per request
 *                 rises at low rates (less work per event-loop turn), so compare CPU figures
 *                 only within one layout and rate.
 *   max           the most each target answers: the slices of the sliced layout (every target
 *                 up for the whole run, one loaded at a time, order shuffled per cycle, CPU per
 *                 slice), but closed loop: --connections (64) connections each sending its next
 *                 request when the last one is answered, for the whole slice (--slice-ms; use
 *                 1000 or more, so a slice is more than its ramp). req/s is a target's requests
 *                 over its measured slices. The gateway targets are NOT pinned (they may use
 *                 both CPUs, beside the load generator on CPU 1 and the upstreams on CPU 0),
 *                 so that gateway-2w can use a second core; the report gives req/s and
 *                 gateway-2w / gateway. --rate is not used. The load generator and the
 *                 upstreams share the 2 cores with the gateway: on this machine they bound
 *                 the figure, not the gateway alone.
 *
 * Usage:
 *   npm run bench:gateway -w @carve/bench -- [--rate 2000] [--duration 10] [--warmup 3]
 *       [--rounds 3] [--layout sliced|sequential|interleaved|max] [--slice-ms 500] [--drain-ms 5]
 *       [--connections 64 (max)]
 *       [--targets direct,nginx,http-proxy,node-floor,gateway,gateway-2w,gateway-log,gateway-traced,shadow] [--json] [--cpu-prof DIR]
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
 *
 * This file is the orchestrator (measurement, rounds, report) and starts itself with `--role` for
 * each child process: the roles are in gateway/roles.ts, starting, pinning and timing processes in
 * gateway/processes.ts, what both sides share in gateway/common.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createDatabase, dropDatabase, resolveDatabase } from '@carve/shared-persistence';
import { type OtlpReceiver, startOtlpReceiver } from '@carve/shared-testing';
import type { Summary } from './stats';
import { ALL_TARGETS, args, log, type Target, TENANTS, TRACED_RATIO } from './gateway/common';
import { COUNT_PATH, runHttpProxy, runLoad, runNodeFloor, runUpstream } from './gateway/roles';
import { CLK_TCK, cpuNs, cpus, cpuTicks, hasTaskset, port, type Proc, profileFlags, registerTs, routesFile, start, startGatewayProc, startNginx, stopChild, waitLine } from './gateway/processes';

const role = args.role ?? 'main';
/** This file: the child processes run it with `--role`. */
const self = __filename;
const fmt = (n: number, digits = 3) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

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

const LAYOUTS = ['sliced', 'sequential', 'interleaved', 'max'] as const;
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
  const sliced = layout === 'sliced' || layout === 'max';
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
      ...(layout === 'max' ? ['--closed', String(args.connections ?? 64)] : []),
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
  if (layout === 'sliced' || layout === 'max') return [{ name: 'sliced', targets }];
  if (layout === 'sequential') return targets.map((t) => ({ name: t, targets: [t] }));
  const peers = targets.filter((t) => ['direct', 'nginx', 'http-proxy', 'node-floor', 'gateway'].includes(t));
  const variants = targets.filter((t) => ['gateway', 'gateway-2w', 'gateway-log', 'gateway-traced', 'shadow'].includes(t));
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
  if ((layout === 'sliced' || layout === 'max') && !(sliceMs() > 0)) throw new Error(`--slice-ms is a number of ms above 0, not ${args['slice-ms']}`);
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
  let receiver: OtlpReceiver | undefined;
  let exported: { spans: number; traces: number } | undefined;
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
    if (targets.some((t) => t.startsWith('gateway') || t === 'shadow')) backends.push(await startBackend('service'));
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
      if (target === 'gateway-traced') {
        receiver ??= await startOtlpReceiver();
        // Batches of 64 spans (the SDK's default is 512, or every 5 s): exports follow the traffic,
        // so in the sliced layout they fall in the target's own slices (more, smaller exports:
        // if anything, the figure errs against tracing).
        const otel = {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: String(TRACED_RATIO),
          OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '64',
          OTEL_SDK_DISABLED: '',
          OTEL_TRACES_EXPORTER: '',
        };
        const g = await startGatewayProc(target, canaryFile, dbUrl!, false, otel);
        return { target, url: g.url, proc: g.proc };
      }
      // The max layout leaves the gateways unpinned: a second worker needs a second core.
      const cpu = layout === 'max' ? 'all' : 0;
      if (target === 'gateway-2w') {
        const g = await startGatewayProc(target, canaryFile, dbUrl!, false, { CARVE_GATEWAY_WORKERS: '2' }, cpu);
        return { target, url: g.url, proc: g.proc };
      }
      const g = await startGatewayProc(target, target === 'shadow' ? shadowFile : canaryFile, dbUrl!, target === 'gateway-log', {}, cpu);
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
          : layout === 'max'
            ? `round ${round + 1}/${rounds}, closed loop in slices (${sliceMs()} ms): ${running.map((r) => r.target).join(', ')} one at a time, ${args.connections ?? 64} connections (${warmup} s warm-up, ${duration} s measured each)`
            : `round ${round + 1}/${rounds}, ${group}: ${running.map((r) => r.target).join(', ')} at ${rate} req/s each (${warmup} s warm-up, ${duration} s measured)`,
      );
      const { results, backendUsPerReq } = await measure(group, running, backends, tokensFile, round);
      for (const [name, us] of Object.entries(backendUsPerReq)) if (Number.isFinite(us)) backendCosts[name].push(us);
      for (const r of results) {
        raw.push(r);
        const perSec = layout === 'max' ? `${Math.round(r.summary.count / Number(duration))} req/s, ` : '';
        log(`  ${r.target}: ${perSec}p50 ${fmt(r.summary.p50)} ms, p99 ${fmt(r.summary.p99)} ms, ${r.target === 'direct' ? '-' : fmt(r.cpuUsPerReq, 1)} µs CPU/req, ${r.errors} errors`);
      }
      log(`  ${Object.entries(backendUsPerReq).map(([name, us]) => `${name} ${fmt(us, 1)} µs CPU/req`).join(', ')}`);
    };

    const rounds = Math.max(1, Number(args.rounds ?? 1));
    if (layout === 'sliced' || layout === 'max') {
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
    // The traced gateway exports what it buffered when it stops: counted after.
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    if (receiver) {
      exported = { spans: receiver.spans.length, traces: new Set(receiver.spans.map((x) => x.traceId)).size };
      await receiver.close();
    }
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
  report(results, backendCosts, exported);
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

function report(results: Result[], backendCosts: Record<string, number[]>, exported?: { spans: number; traces: number }): void {
  if (layout === 'max') {
    reportMax(results);
    return;
  }
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
  const traced = find(variantsGroup('gateway-traced'), 'gateway-traced');
  if (traced && plain) check(`traced gateway CPU (${TRACED_RATIO * 100}% sampled) / gateway CPU (tracing off)`, traced.cpuUsPerReq / plain.cpuUsPerReq, 1.1);
  if (checks.length) lines.push('| goal | measured | limit | |', '| --- | ---: | ---: | --- |', ...checks, '');
  // What the traced gateway exported over the whole run (warm-up included), all rounds.
  if (exported) lines.push(`gateway-traced exported ${exported.spans} spans in ${exported.traces} traces to the OTLP receiver (${traced ? traced.completed : 0} measured requests)`, '');
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

/** The max layout: each target's throughput (median over the rounds), and gateway-2w over gateway. */
function reportMax(results: Result[]): void {
  const duration = Number(args.duration ?? 10);
  const perSec = (r: Result) => r.summary.count / duration;
  const lines = [
    `max layout: closed loop, ${args.connections ?? 64} connections, one target at a time in ${sliceMs()} ms slices (order shuffled per cycle), ${duration} s measured per target after ${args.warmup ?? 3} s warm-up, ${args.rounds ?? 1} round(s) (medians); gateways not pinned, load generator on CPU 1, upstreams on CPU 0; node ${process.version}; ${os.cpus()[0]?.model ?? '?'} x${cpus}; 1-min load average ${loadAtStart} at the start, ${loadAverage()} at the end`,
    '',
    '| target | req/s | CPU µs/req | p50 ms | p99 ms | requests | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.target} | ${Math.round(perSec(r))} | ${r.target === 'direct' ? '-' : fmt(r.cpuUsPerReq, 1)} | ${fmt(r.summary.p50)} | ${fmt(r.summary.p99)} | ${r.completed} | ${r.errors} |`),
    '',
  ];
  const one = results.find((r) => r.target === 'gateway');
  const two = results.find((r) => r.target === 'gateway-2w');
  if (one && two) lines.push(`gateway-2w / gateway throughput: ${(perSec(two) / perSec(one)).toFixed(2)}x`, '');
  // direct: the load generator and the upstream alone, the most any proxy could be driven to here.
  const direct = results.find((r) => r.target === 'direct');
  if (direct) for (const r of results.filter((x) => x.target !== 'direct')) lines.push(`${r.target} / direct throughput: ${(perSec(r) / perSec(direct)).toFixed(2)}x`);
  if (direct) lines.push('');
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
