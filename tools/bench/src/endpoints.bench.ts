/**
 * New against old: the notes endpoints on the monolith alone, on the carved insights service
 * alone and through the gateway to the service, and a note's creation before the cutover (the
 * monolith owns the writes) against after it (the service does), as CPU per request of every
 * process that does the work, Postgres included.
 *
 *   npm run bench:endpoints -w @carve/bench -- [--notes 100000] [--workspaces 10] [--rate 200]
 *       [--seconds 8] [--slice-ms 1000] [--write-rate 50] [--write-seconds 10] [--rounds 2] [--json]
 *
 * 1. A Postgres server of its own (embedded, a fresh data folder and a free port), so that its
 *    CPU is all this benchmark's: the monolith's bulk seed (`--notes` over `--workspaces`,
 *    ANALYZEd), the insights schema, and the stack as `carve dev` runs it (monolith with reverse
 *    sync, insights-service, gateway; the embedded Postgres transport), insights backfilled.
 * 2. Writes before the cutover: POST a note through the gateway (to the monolith) at
 *    `--write-rate` for `--write-seconds`, open loop; the window ends when forward sync has
 *    applied every event (the context's sync lag is 0). CPU per write is every process's CPU
 *    over the window, less what the same processes spend idle over as long (measured just
 *    before), over the writes.
 * 3. The cutover (verify, shadow, canary 100, reads, writes), then the reads: GET one note and
 *    GET a list page of 50, on three targets: the monolith directly, the service directly, the
 *    gateway (routing to the service). Open loop at `--rate`, in slices of `--slice-ms`, one
 *    target and endpoint at a time in an order shuffled per cycle, so every target samples the
 *    same minutes of the machine; a slice's CPU (each process's, from /proc schedstat) counts
 *    for its target. Reported: the CPU of the processes on the target's path (the app, the
 *    gateway when it is in front, Postgres) per request.
 * 4. Writes after the cutover: as 2., through the gateway to the service; the window ends when
 *    reverse sync has applied every event to the monolith and forward sync has passed over the
 *    monolith's events that came of it (the context's forward and reverse lag both 0).
 * 5. `--rounds` times: rollback and cutover again, reads and both kinds of writes once more;
 *    each figure is the median over the rounds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { insightsCarving } from '@carve/insights-carving';
import { createDatabase, startEmbeddedPostgres } from '@carve/shared-persistence';
import { type CarvedStack, freePorts } from '@carve/shared-testing';
import { childrenOf, CLK_TCK, cpuNs } from './gateway/processes';
import { type InsightsStack, seededNotes, seedInsights, startInsightsStack } from './insights-stack';
import { parseArgs, summarize } from './stats';

const args = parseArgs(process.argv.slice(2));
const log = (m: string) => process.stderr.write(`${m}\n`);
const num = (name: string, def: number) => {
  const v = args[name] === undefined ? def : Number(args[name]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number, got ${args[name]}`);
  return v;
};

type ProcName = 'monolith' | 'service' | 'gateway' | 'postgres';
const PROC_NAMES: readonly ProcName[] = ['monolith', 'service', 'gateway', 'postgres'];

/** CPU time (ns) of each process of the stack; Postgres is its postmaster and every child. */
function cpuOf(stack: CarvedStack, postmaster: number): Record<ProcName, number> {
  const byName = (n: string) => stack.procs.find((p) => p.name === n)!.pid;
  // A backend that exits (a pool closing an idle connection) takes its own count with it; its
  // time then shows in the postmaster's cutime + cstime (the children it reaped), in ticks.
  let pg = cpuNs(postmaster) + (reapedChildrenTicks(postmaster) * 1e9) / CLK_TCK;
  for (const pid of childrenOf(postmaster)) pg += cpuNs(pid);
  return { monolith: cpuNs(byName('legacy-monolith')), service: cpuNs(byName('insights-service')), gateway: cpuNs(byName('gateway')), postgres: pg };
}

/** cutime + cstime of a process: the CPU of its children that exited and that it waited for, in ticks. */
function reapedChildrenTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

const minus = (a: Record<ProcName, number>, b: Record<ProcName, number>) =>
  Object.fromEntries(PROC_NAMES.map((n) => [n, a[n] - b[n]])) as Record<ProcName, number>;

/** Sends `count` requests at `rate`/s, open loop; resolves when all are answered. Non-2xx answers are counted. */
async function openLoop(rate: number, durationMs: number, send: (i: number) => Promise<Response>): Promise<{ sent: number; failed: string[] }> {
  const pending: Array<Promise<void>> = [];
  const failed: string[] = [];
  const t0 = performance.now();
  const n = Math.max(1, Math.round((rate * durationMs) / 1000));
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(
      send(i).then(
        async (res) => {
          const body = await res.text();
          if (!res.ok) failed.push(`${res.status} ${body.slice(0, 120)}`);
        },
        (err: Error) => void failed.push(err.message),
      ),
    );
  }
  await Promise.all(pending);
  return { sent: n, failed };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function main(): Promise<void> {
  const notesN = num('notes', 100_000);
  const workspacesN = num('workspaces', 10);
  const rate = num('rate', 200);
  const seconds = num('seconds', 8);
  const sliceMs = num('slice-ms', 1000);
  const writeRate = num('write-rate', 50);
  const writeSeconds = num('write-seconds', 10);
  const rounds = num('rounds', 2);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-bench-endpoints-'));
  fs.chmodSync(dataDir, 0o777);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: await freePorts(1), log: { info: log, warn: log } });
  let running: InsightsStack | undefined;
  try {
    const url = await createDatabase(pg.url, 'bench_endpoints');
    log(`seeding ${notesN.toLocaleString('en-US')} notes over ${workspacesN} workspaces`);
    await seedInsights(url, notesN, workspacesN);
    // CPU per request is the figure, not behaviour under overload: no request is refused for
    // waiting on a busy machine (the per-tenant limit, the upstream queue's 1 s).
    running = await startInsightsStack('bench-endpoints', url, { CARVE_TENANT_CONCURRENCY: '100000', CARVE_UPSTREAM_QUEUE_TIMEOUT_MS: '30000' });
    const s = running.stack;
    const cv = running.carving;
    log('backfilling insights');
    await cv.backfill(insightsCarving, { reason: 'bench' });
    const notes = await seededNotes(url, 500, 'md5(n.id::text)');

    const caughtUp = async (deadlineMs: number) => {
      for (const deadline = Date.now() + deadlineMs; ; ) {
        const st = await cv.status(insightsCarving);
        const f = st.lag.forward;
        const r = st.lag.reverse;
        if (f && r && !f.error && !r.error && f.pending === 0 && r.pending === 0) return;
        if (Date.now() > deadline) throw new Error(`the syncs did not catch up within ${deadlineMs} ms (forward ${f?.pending}, reverse ${r?.pending} pending)`);
        await sleep(50);
      }
    };

    /** CPU per write (µs, idle subtracted) of each process, for POSTs through the gateway. */
    let written = 0;
    const writes = async (label: string): Promise<Record<ProcName, number>> => {
      await caughtUp(120_000);
      const idleMs = 3000;
      const i0 = cpuOf(s, pg.pid);
      await sleep(idleMs);
      const idlePerMs = minus(cpuOf(s, pg.pid), i0);
      for (const n of PROC_NAMES) idlePerMs[n] /= idleMs;
      const t0 = performance.now();
      const c0 = cpuOf(s, pg.pid);
      const r = await openLoop(writeRate, writeSeconds * 1000, (i) => {
        const note = notes[i % notes.length];
        written++;
        return fetch(`${s.gatewayUrl}/api/v1/workspaces/${note.ws}/notes`, {
          method: 'POST',
          headers: { authorization: `Bearer ${note.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ title: `bench ${label} ${written}`, content: 'A note written by the endpoints benchmark.', customer: { email: `c${written % 500}@bench.example`, name: 'Bench Customer', company: 'Bench Co' } }),
        });
      });
      await caughtUp(120_000);
      const ms = performance.now() - t0;
      const used = minus(cpuOf(s, pg.pid), c0);
      if (r.failed.length) throw new Error(`${r.failed.length} of ${r.sent} writes failed (${label}): ${r.failed.slice(0, 3).join('; ')}`);
      const out = {} as Record<ProcName, number>;
      for (const n of PROC_NAMES) out[n] = Math.max(0, used[n] - idlePerMs[n] * ms) / r.sent / 1000;
      log(`${label}: ${r.sent} writes, window ${Math.round(ms)} ms, ${PROC_NAMES.map((n) => `${n} ${out[n].toFixed(0)} µs`).join(', ')}`);
      return out;
    };

    type Target = 'monolith' | 'service' | 'gateway';
    type Endpoint = 'one' | 'list';
    const base: Record<Target, string> = { monolith: s.monolithUrl, service: s.serviceUrl, gateway: s.gatewayUrl };
    const onPath: Record<Target, readonly ProcName[]> = { monolith: ['monolith', 'postgres'], service: ['service', 'postgres'], gateway: ['gateway', 'service', 'postgres'] };
    const reads = async (round: number) => {
      const acc = new Map<string, { requests: number; cpu: Record<ProcName, number>; lat: number[] }>();
      const kinds: Array<[Target, Endpoint]> = [];
      for (const t of ['monolith', 'service', 'gateway'] as const) for (const e of ['one', 'list'] as const) kinds.push([t, e]);
      const cycles = Math.max(1, Math.round((seconds * 1000) / sliceMs));
      // Warm-up: one slice of each.
      for (const [t, e] of kinds) await openLoop(rate, sliceMs, (i) => readOnce(base[t], e, i, []));
      for (let cycle = 0; cycle < cycles; cycle++) {
        for (const [t, e] of shuffled(kinds, round * 1000 + cycle + 1)) {
          const key = `${t}/${e}`;
          const a = acc.get(key) ?? { requests: 0, cpu: { monolith: 0, service: 0, gateway: 0, postgres: 0 }, lat: [] };
          const c0 = cpuOf(s, pg.pid);
          const r = await openLoop(rate, sliceMs, (i) => readOnce(base[t], e, i, a.lat));
          await sleep(5);
          const used = minus(cpuOf(s, pg.pid), c0);
          if (r.failed.length) throw new Error(`${r.failed.length} of ${r.sent} reads failed (${key}): ${r.failed.slice(0, 3).join('; ')}`);
          a.requests += r.sent;
          for (const n of PROC_NAMES) a.cpu[n] += used[n];
          acc.set(key, a);
        }
      }
      return acc;
    };
    const readOnce = (url: string, e: Endpoint, i: number, lat: number[]) => {
      const note = notes[i % notes.length];
      const t = performance.now();
      const path = e === 'one' ? `/api/v1/workspaces/${note.ws}/notes/${note.id}` : `/api/v1/workspaces/${note.ws}/notes?limit=50`;
      return fetch(`${url}${path}`, { headers: { authorization: `Bearer ${note.token}` } }).then((res) => {
        lat.push(performance.now() - t);
        return res;
      });
    };

    const cutover = async () => {
      await caughtUp(120_000);
      await cv.verify(insightsCarving);
      await cv.moveTo(insightsCarving, 'shadow', { reason: 'bench' });
      await cv.moveTo(insightsCarving, 'canary', { percent: 100, reason: 'bench' });
      await cv.moveTo(insightsCarving, 'reads-switched', { reason: 'bench' });
      await cv.cutoverWrites(insightsCarving, { reason: 'bench' });
    };

    const before: Array<Record<ProcName, number>> = [];
    const after: Array<Record<ProcName, number>> = [];
    const readRounds: Array<Map<string, { requests: number; cpu: Record<ProcName, number>; lat: number[] }>> = [];
    for (let round = 1; round <= rounds; round++) {
      log(`round ${round}/${rounds}: writes before the cutover`);
      before.push(await writes(`before ${round}`));
      log(`round ${round}/${rounds}: cutover`);
      await cutover();
      log(`round ${round}/${rounds}: reads`);
      readRounds.push(await reads(round));
      log(`round ${round}/${rounds}: writes after the cutover`);
      after.push(await writes(`after ${round}`));
      if (round < rounds) {
        await caughtUp(120_000);
        await cv.rollback(insightsCarving, { reason: 'bench' });
      }
    }

    const median = (xs: number[]) => summarize(xs).p50;
    const us = (x: number) => (Number.isFinite(x) ? `${Math.round(x).toLocaleString('en-US')}` : '-');
    const readCpu = (t: Target, e: Endpoint, procs: readonly ProcName[]) =>
      median(readRounds.map((m) => {
        const a = m.get(`${t}/${e}`)!;
        return procs.reduce((sum, n) => sum + a.cpu[n], 0) / a.requests / 1000;
      }));
    const latency = (t: Target, e: Endpoint) => summarize(readRounds.flatMap((m) => m.get(`${t}/${e}`)!.lat));
    interface ReadFigure {
      cpuUsPerRequest: number;
      postgresUsPerRequest: number;
      appUsPerRequest: number;
      p50Ms: number;
      p99Ms: number;
    }
    const figure = (t: Target, e: Endpoint): ReadFigure => ({
      cpuUsPerRequest: readCpu(t, e, onPath[t]),
      postgresUsPerRequest: readCpu(t, e, ['postgres']),
      appUsPerRequest: readCpu(t, e, onPath[t].filter((n) => n !== 'postgres')),
      p50Ms: latency(t, e).p50,
      p99Ms: latency(t, e).p99,
    });
    const readsOf = (e: Endpoint): Record<Target, ReadFigure> => ({ monolith: figure('monolith', e), service: figure('service', e), gateway: figure('gateway', e) });
    const perProc = (rs: Array<Record<ProcName, number>>) => Object.fromEntries(PROC_NAMES.map((n) => [n, median(rs.map((b) => b[n]))])) as Record<ProcName, number>;
    const result = {
      reads: { one: readsOf('one'), list: readsOf('list') },
      writes: { before: perProc(before), after: perProc(after) },
    };
    const total = (r: Record<ProcName, number>) => PROC_NAMES.reduce((a, n) => a + r[n], 0);
    if (args.json === 'true') {
      console.log(JSON.stringify({ notes: notesN, rate, writeRate, rounds, ...result }));
      return;
    }
    const ratio = (x: number, y: number) => `x${(x / y).toFixed(2)}`;
    console.log('');
    console.log(`notes endpoints, new against old: ${notesN.toLocaleString('en-US')} notes in ${workspacesN} workspaces, reads at ${rate}/s in ${sliceMs} ms slices (${seconds} s a target and endpoint a round), writes at ${writeRate}/s for ${writeSeconds} s, medians of ${rounds} round(s); node ${process.version}; ${os.cpus().length} cores; ${new Date().toISOString()}`);
    console.log('');
    console.log('| CPU µs per request | monolith alone | carved service alone | gateway -> service |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const [e, label] of [['one', 'GET one note'], ['list', 'GET a list page of 50']] as const) {
      const r = result.reads[e];
      console.log(`| ${label}, app(s) + Postgres | ${us(r.monolith.cpuUsPerRequest)} | ${us(r.service.cpuUsPerRequest)} (${ratio(r.service.cpuUsPerRequest, r.monolith.cpuUsPerRequest)}) | ${us(r.gateway.cpuUsPerRequest)} (${ratio(r.gateway.cpuUsPerRequest, r.monolith.cpuUsPerRequest)}) |`);
      console.log(`| ${label}, Postgres only | ${us(r.monolith.postgresUsPerRequest)} | ${us(r.service.postgresUsPerRequest)} (${ratio(r.service.postgresUsPerRequest, r.monolith.postgresUsPerRequest)}) | ${us(r.gateway.postgresUsPerRequest)} |`);
    }
    console.log('');
    console.log('| CPU µs per POST of a note, through the gateway, until synced | monolith | service | gateway | Postgres | all |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [label, r] of [['before the cutover (monolith owns the writes)', result.writes.before], ['after the cutover (the service owns them)', result.writes.after]] as const) {
      console.log(`| ${label} | ${us(r.monolith)} | ${us(r.service)} | ${us(r.gateway)} | ${us(r.postgres)} | ${us(total(r))} |`);
    }
    console.log('');
    console.log(`writes after / before: ${ratio(total(result.writes.after), total(result.writes.before))} (all processes); gateway -> service / monolith alone, GET one note: ${ratio(result.reads.one.gateway.cpuUsPerRequest, result.reads.one.monolith.cpuUsPerRequest)}`);
  } finally {
    await running?.stop();
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
