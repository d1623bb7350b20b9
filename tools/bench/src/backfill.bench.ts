/**
 * `carve backfill insights` against a psql COPY pipe of the same rows, and what a running
 * backfill does to the latency of the product, side by side in one run.
 *
 *   npm run bench:backfill -w @carve/bench -- --notes 1000000
 *   (options: --workspaces 20 --rounds 2 --rate 100 --batch-size N --fixed-rate auto|off|N --adaptive on|off --window 40 --slice 3)
 *
 * 1. A fresh database (on DATABASE_URL's server, else embedded Postgres); `carve seed
 *    --workspaces 20 --notes N` (the real CLI, a child process); the insights schema migrated.
 * 2. Throughput, nothing else running, `--rounds` times: the peer, `psql -c "\copy legacy.notes
 *    TO STDOUT" | psql -c "\copy bench.notes FROM STDIN"` into a table created LIKE legacy.notes
 *    INCLUDING ALL (same columns, checks and indexes; no foreign keys), then `carve backfill
 *    insights --throttle off` from scratch (the real CLI): rows/s of its notes source (goal: at
 *    least 0.75x).
 * 3. Latency: the monolith and the gateway as processes (notes routes on the monolith, as at
 *    stages created/backfilled); a load generator (its own process, pinned to its own CPU with
 *    taskset when there are two) sends GET /notes/:id at a fixed rate, open loop, through the
 *    gateway and straight to the monolith; p50/p99 from the time each request was due. A backfill
 *    from scratch runs in slices: `--slice` seconds running, `--slice` seconds paused (SIGSTOP),
 *    for `--window` seconds, so the running and the paused phases are measured interleaved, under
 *    the same background load of a shared machine (the first 300 ms after each switch are not
 *    counted). Once unthrottled (`--throttle off`), once at a fixed `--max-rows-per-second`
 *    (`--fixed-rate`, default a quarter of the unthrottled rate), once with the load-adaptive
 *    throttle (`--throttle auto`, the CLI's default; `--adaptive off` leaves it out). Goal: p99
 *    through the gateway while the backfill runs at most 1.5x the p99 while it is paused; also
 *    the p99 the gateway adds (through it minus straight).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { migrateInsights } from '@carve/insights-data-access';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createDatabase, dropDatabase, resolveDatabase } from '@carve/shared-persistence';
import { Client } from 'pg';
import { parseArgs, type Summary, summarize } from './stats';
import { setTimeout as sleep } from 'node:timers/promises';

const root = path.resolve(__dirname, '..', '..', '..');
const REGISTER = path.join(root, 'tools/scripts/register-ts.js');
const CARVE = path.join(root, 'tools/carve/bin/carve.js');
const args = parseArgs(process.argv.slice(2));
const log = (m: string) => process.stderr.write(`${m}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const WARMUP_S = 5;
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} ms` : '-');

// ---------------------------------------------------------------------------------------------
// The load generator (this file with --role load): fixed rate, open loop, until SIGTERM.
// ---------------------------------------------------------------------------------------------

/** Latencies per target, per phase (`idle`: the backfill paused or not running; `busy`: running). */
interface LoadResult {
  [target: string]: Record<'idle' | 'busy', { summary: Summary; errors: number; statusErrors: number }>;
}

/**
 * Requests due from SIGUSR1 on are measured, until SIGTERM; SIGUSR2 switches the phase they are
 * counted in (idle ↔ busy; it starts idle). Requests due in the first `--settle` ms after a
 * switch are not counted (what was in flight belongs to neither phase).
 */
async function runLoad(): Promise<void> {
  const { Pool } = await import('undici');
  const plan: Array<{ path: string; token: string }> = JSON.parse(fs.readFileSync(args.plan, 'utf8'));
  type Bucket = { latencies: number[]; errors: number; statusErrors: number };
  const bucket = (): Bucket => ({ latencies: [], errors: 0, statusErrors: 0 });
  const targets = args.urls.split(',').map((pair) => {
    const [name, url] = pair.split('=');
    return { name, pool: new Pool(new URL(url).origin, { connections: 32, pipelining: 1, keepAliveTimeout: 60_000 }), idle: bucket(), busy: bucket() };
  });
  const rate = Number(args.rate); // per target
  const settleMs = Number(args.settle ?? 300);
  const intervalMs = 1000 / (rate * targets.length);
  const t0 = performance.now();
  let stopping = false;
  let measureFrom = Infinity;
  let phase: 'idle' | 'busy' = 'idle';
  let switchedAt = -Infinity;
  let inFlight = 0;
  let n = 0;
  process.on('SIGUSR1', () => (measureFrom = performance.now()));
  process.on('SIGUSR2', () => {
    phase = phase === 'idle' ? 'busy' : 'idle';
    switchedAt = performance.now();
  });
  process.on('SIGTERM', () => (stopping = true));
  process.stdout.write('LOAD-READY\n');
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      while (!stopping && t0 + n * intervalMs <= now) {
        const due = t0 + n * intervalMs;
        const t = targets[n % targets.length];
        const p = plan[Math.floor(n / targets.length) % plan.length];
        const b = due >= measureFrom && due >= switchedAt + settleMs ? t[phase] : null;
        n += 1;
        inFlight += 1;
        t.pool
          .request({ path: p.path, method: 'GET', headers: { authorization: `Bearer ${p.token}`, accept: 'application/json' } })
          .then(async (res) => {
            await res.body.dump();
            if (!b) return;
            if (res.statusCode !== 200) b.statusErrors++;
            b.latencies.push(performance.now() - due);
          })
          .catch(() => {
            if (b) b.errors++;
          })
          .finally(() => (inFlight -= 1));
      }
      if (stopping) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const deadline = Date.now() + 5000;
  while (inFlight > 0 && Date.now() < deadline) await sleep(5);
  const out: LoadResult = {};
  for (const t of targets) {
    out[t.name] = {
      idle: { summary: summarize(t.idle.latencies), errors: t.idle.errors, statusErrors: t.idle.statusErrors },
      busy: { summary: summarize(t.busy.latencies), errors: t.busy.errors, statusErrors: t.busy.statusErrors },
    };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await Promise.all(targets.map((t) => t.pool.close()));
}

// ---------------------------------------------------------------------------------------------
// The orchestrator
// ---------------------------------------------------------------------------------------------

const hasTaskset = spawnSync('taskset', ['--version']).status === 0 && os.cpus().length >= 2;
const pinned = (cpu: number, cmd: string, argv: string[]): [string, string[]] => (hasTaskset ? ['taskset', ['-c', String(cpu), cmd, ...argv]] : [cmd, argv]);

function start(name: string, argv: string[], env: NodeJS.ProcessEnv, cpu?: number): { child: ChildProcess; out: string[] } {
  const [cmd, a] = cpu === undefined ? [process.execPath, argv] : pinned(cpu, process.execPath, argv);
  const child = spawn(cmd, a, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const keep = (d: Buffer) => out.push(...d.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code, signal) => {
    if (code && code !== 0) log(`${name} exited with ${code ?? signal}:\n  ${out.slice(-10).join('\n  ')}`);
  });
  return { child, out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  process.kill(child.pid!, 'SIGTERM');
  const t = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

function run(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitHttp(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.status === 200, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs} ms`);
    await sleep(200);
  }
}

/**
 * One load window: the generator starts and warms up (WARMUP_S, not measured); `before()` runs
 * (e.g. a backfill booting); then requests are measured until `during(toggle)` resolves, where
 * `toggle()` switches the phase the requests are counted in (idle ↔ busy).
 */
async function loadWindow(
  urls: string,
  planFile: string,
  rate: number,
  during: (toggle: () => void) => Promise<void>,
  before: () => Promise<void> = async () => undefined,
): Promise<LoadResult> {
  const load = start('load', ['-r', REGISTER, __filename, '--role', 'load', '--urls', urls, '--plan', planFile, '--rate', String(rate)], {}, 1);
  const deadline = Date.now() + 60_000;
  while (!load.out.includes('LOAD-READY')) {
    if (Date.now() > deadline || load.child.exitCode !== null) throw new Error(`the load generator did not start:\n${load.out.slice(-10).join('\n')}`);
    await sleep(20);
  }
  await sleep(WARMUP_S * 1000);
  await before();
  process.kill(load.child.pid!, 'SIGUSR1');
  await during(() => process.kill(load.child.pid!, 'SIGUSR2'));
  const exited = new Promise((r) => load.child.once('exit', r));
  process.kill(load.child.pid!, 'SIGTERM');
  await exited;
  const line = [...load.out].reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the load generator printed no result:\n${load.out.slice(-10).join('\n')}`);
  return JSON.parse(line);
}

/**
 * Runs a started backfill in alternating slices: `sliceS` seconds running (phase busy), then
 * `sliceS` seconds paused with SIGSTOP (phase idle), until it exits or `maxS` have passed.
 * Idle and busy are measured interleaved, under the same background load of the machine.
 */
async function interleave(child: ChildProcess, exited: Promise<void>, toggle: () => void, sliceS: number, maxS: number): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  const until = Date.now() + maxS * 1000;
  let busy = false;
  process.kill(child.pid!, 'SIGSTOP');
  try {
    while (!done && Date.now() < until) {
      busy = !busy;
      process.kill(child.pid!, busy ? 'SIGCONT' : 'SIGSTOP');
      toggle();
      await Promise.race([sleep(sliceS * 1000), exited]);
    }
  } finally {
    if (!done) process.kill(child.pid!, 'SIGCONT');
  }
  if (busy) toggle(); // end in the idle phase
}

/** Empties the service's side and forgets the carving of insights (a backfill from scratch again). */
async function resetInsights(c: Client): Promise<void> {
  await c.query('TRUNCATE insights.notes, insights.customers, insights.note_features, insights.feature_titles, insights.workspaces, insights.tombstones');
  const cp = await c.query(`SELECT to_regclass('carve.backfill_checkpoints') AS t`);
  if (cp.rows[0].t) {
    await c.query(`DELETE FROM carve.backfill_checkpoints WHERE context = 'insights'`);
    await c.query(`DELETE FROM carve.context_stages WHERE context = 'insights'`);
  }
  await c.query('VACUUM ANALYZE insights.notes, insights.customers, insights.note_features');
  await c.query('CHECKPOINT');
}

/** `carve backfill insights [extra]` as a child process; the notes source's rows and rows/s from its summary. */
async function backfill(url: string, extra: string[], env: NodeJS.ProcessEnv = {}): Promise<{ rows: number; rate: number; links: number }> {
  const r = await run(process.execPath, [CARVE, 'backfill', 'insights', ...extra], { DATABASE_URL: url, CARVE_ADMIN_URL: 'http://127.0.0.1:1', ...env });
  if (r.code !== 0) throw new Error(`carve backfill failed:\n${r.stderr.slice(-2000)}`);
  const m = /^notes: ([\d,]+) rows in \S+ \(([\d,]+) rows\/s\)/m.exec(r.stdout);
  if (!m) throw new Error(`no notes line in the backfill's output:\n${r.stdout}`);
  const links = /^note-features: ([\d,]+) rows/m.exec(r.stdout);
  const num = (x: string) => Number(x.replace(/,/g, ''));
  return { rows: num(m[1]), rate: num(m[2]), links: links ? num(links[1]) : 0 };
}

async function psqlPipe(url: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench; CREATE TABLE bench.notes (LIKE legacy.notes INCLUDING ALL)');
    await c.query('CHECKPOINT');
    const t0 = performance.now();
    const pipe = await run('bash', ['-c', `set -o pipefail; psql "$U" -qc '\\copy legacy.notes TO STDOUT' | psql "$U" -qc '\\copy bench.notes FROM STDIN'`], { U: url });
    if (pipe.code !== 0) throw new Error(`the psql pipe failed: ${pipe.stderr}`);
    const ms = performance.now() - t0;
    await c.query('DROP SCHEMA bench CASCADE');
    return ms;
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const notes = Number(args.notes ?? 1_000_000);
  const workspaces = Number(args.workspaces ?? 20);
  const rate = Number(args.rate ?? 100); // per target (gateway, direct)
  const rounds = Number(args.rounds ?? 2);
  const batch = args['batch-size'] ? ['--batch-size', args['batch-size']] : [];
  if (spawnSync('psql', ['--version']).status !== 0) throw new Error('psql is not on PATH (Debian: apt-get install postgresql-client); it is the peer this benchmark compares against');
  if (!hasTaskset) log('warning: no taskset or a single CPU: the load generator is not pinned; latencies are noisier');
  const load0 = os.loadavg()[0];

  const db = await resolveDatabase({ log: { info: log, warn: log } });
  const name = `carve_bench_backfill_${Date.now()}`;
  const url = await createDatabase(db.url, name);
  const procs: ChildProcess[] = [];
  const c = new Client({ connectionString: url });
  try {
    log(`== carve seed --workspaces ${workspaces} --notes ${notes}`);
    const seeded = await run(process.execPath, [CARVE, 'seed', '--workspaces', String(workspaces), '--notes', String(notes)], { DATABASE_URL: url });
    if (seeded.code !== 0) throw new Error(`carve seed failed:\n${seeded.stderr.slice(-2000)}`);
    await migrateInsights(url);
    await c.connect();
    const { rows: [{ bytes }] } = await c.query("SELECT pg_size_pretty(avg(pg_column_size(n.*))::bigint) AS bytes FROM (SELECT * FROM legacy.notes LIMIT 10000) n");
    await c.query('VACUUM ANALYZE legacy.notes, legacy.note_features');
    await c.query('SELECT count(*), sum(length(content)) FROM legacy.notes'); // a warm cache for both

    // 1. Throughput, nothing else running: the pipe and the backfill alternately, `rounds` times.
    const rates: Array<{ pipe: number; backfill: number }> = [];
    let links = 0;
    for (let i = 1; i <= rounds; i++) {
      log(`== round ${i}: psql \\copy legacy.notes TO STDOUT | psql \\copy bench.notes FROM STDIN (${fmt(notes)} rows, ~${bytes}/row)`);
      const pipeRate = (notes * 1000) / (await psqlPipe(url));
      await resetInsights(c);
      log(`== round ${i}: carve backfill insights --throttle off ${batch.join(' ')}`);
      const b = await backfill(url, ['--throttle', 'off', ...batch]);
      links = b.links;
      rates.push({ pipe: pipeRate, backfill: b.rate });
    }

    // 2. Latency: the monolith and the gateway (notes routes on the monolith), a fixed-rate load.
    const [monolithPort, gatewayPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-bench-backfill-'));
    const routes = fs.readFileSync(path.join(root, 'apps/gateway/routes/dev.yaml'), 'utf8').replace('http://127.0.0.1:3000', `http://127.0.0.1:${monolithPort}`).replace(/^# yaml-language-server.*$/m, '');
    fs.writeFileSync(path.join(dir, 'routes.yaml'), routes);
    const common = { DATABASE_URL: url, LOG_LEVEL: 'warn', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET, CARVE_TRANSPORT: 'postgres', KAFKA_BROKERS: '' };
    procs.push(start('monolith', ['-r', REGISTER, 'apps/legacy-monolith/src/main.ts'], { ...common, PORT: String(monolithPort) }, 0).child);
    procs.push(
      start('gateway', ['-r', REGISTER, 'apps/gateway/src/main.ts'], {
        ...common, PORT: String(gatewayPort), CARVE_ADMIN_PORT: String(adminPort), CARVE_ADMIN_TOKEN: DEV_ADMIN_TOKEN, CARVE_ROUTES_FILE: path.join(dir, 'routes.yaml'), CARVE_ACCESS_LOG: 'false',
      }, 0).child,
    );
    await Promise.all([waitHttp(`http://127.0.0.1:${monolithPort}/readyz`), waitHttp(`http://127.0.0.1:${gatewayPort}/healthz`)]);
    const sample = (await c.query('SELECT n.id, n.workspace_id, (SELECT m.id FROM legacy.members m WHERE m.workspace_id = n.workspace_id LIMIT 1) AS member FROM legacy.notes n TABLESAMPLE SYSTEM (1) LIMIT 2000')).rows;
    const tokens = new Map<string, string>();
    const plan = sample.map((r) => {
      if (!tokens.has(r.workspace_id)) tokens.set(r.workspace_id, signToken({ sub: r.member, tid: r.workspace_id, role: 'viewer' }, DEV_JWT_SECRET));
      return { path: `/api/v1/workspaces/${r.workspace_id}/notes/${r.id}`, token: tokens.get(r.workspace_id)! };
    });
    const planFile = path.join(dir, 'plan.json');
    fs.writeFileSync(planFile, JSON.stringify(plan));
    const urls = `gateway=http://127.0.0.1:${gatewayPort},direct=http://127.0.0.1:${monolithPort}`;

    /**
     * A backfill as a child process whose start-up (node and the TypeScript hook compiling the CLI)
     * is over before the load window opens: the window measures the copying, not the CLI booting.
     */
    const startBackfill = async (extra: string[]) => {
      const b = start('backfill', [CARVE, 'backfill', 'insights', ...extra], { DATABASE_URL: url, CARVE_ADMIN_URL: `http://127.0.0.1:${adminPort}` });
      const exited = new Promise<void>((res) => b.child.once('exit', () => res()));
      const deadline = Date.now() + 60_000;
      while (!b.out.some((l) => l.startsWith('backfill ')) && b.child.exitCode === null && Date.now() < deadline) await sleep(50);
      return { ...b, exited };
    };
    const rowsDone = async () => Number((await c.query(`SELECT coalesce(sum(rows_done), 0)::bigint AS n FROM carve.backfill_checkpoints WHERE context = 'insights'`)).rows[0].n);

    /** A backfill from scratch, interleaved with pauses (SIGSTOP) in `slice`-second steps, under the load. */
    const interleavedWindow = async (label: string, extra: string[], maxS: number) => {
      await resetInsights(c);
      log(`== ${label}: GET /notes/:id at ${rate} req/s through the gateway and ${rate} req/s straight to the monolith; the backfill runs and pauses every ${slice} s`);
      let b!: Awaited<ReturnType<typeof startBackfill>>;
      let busyMs = 0;
      let before = 0;
      const load = await loadWindow(
        urls,
        planFile,
        rate,
        async (toggle) => {
          const t0 = performance.now();
          await interleave(b.child, b.exited, toggle, slice, maxS);
          busyMs = (performance.now() - t0) / 2; // half of the time it ran
          await stop(b.child); // resumable: the batch in flight rolls back, the checkpoint says where it was
        },
        async () => {
          b = await startBackfill(extra);
          before = await rowsDone();
        },
      );
      return { load, rowsPerSecond: ((await rowsDone()) - before) / (busyMs / 1000) };
    };
    const slice = Number(args.slice ?? 3);
    const window = Number(args.window ?? 40);
    const unthrottled = await interleavedWindow('latency, unthrottled backfill', ['--throttle', 'off', ...batch], window);
    const fixedArg = args['fixed-rate'] ?? 'auto';
    const best = Math.max(...rates.map((r) => r.backfill));
    const limit = fixedArg === 'auto' ? Math.max(1000, Math.round(best / 4 / 1000) * 1000) : Number(fixedArg);
    const throttled = fixedArg === 'off' ? undefined : { limit, ...(await interleavedWindow(`latency, backfill at --max-rows-per-second ${limit}`, ['--throttle', 'off', '--max-rows-per-second', String(limit), ...batch], window)) };
    const adaptive = args.adaptive === 'off' ? undefined : await interleavedWindow('latency, backfill with --throttle auto (load-adaptive)', ['--throttle', 'auto', ...batch], window);

    const load1 = os.loadavg()[0];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log('');
    console.log('| round | psql \\copy pipe (notes rows/s) | carve backfill insights, notes source (rows/s) | ratio |');
    console.log('| ---: | ---: | ---: | ---: |');
    rates.forEach((r, i) => console.log(`| ${i + 1} | ${fmt(r.pipe)} | ${fmt(r.backfill)} | ${(r.backfill / r.pipe).toFixed(2)} |`));
    console.log('');
    console.log(`ratio backfill / psql pipe (mean of ${rounds} rounds): ${(mean(rates.map((r) => r.backfill)) / mean(rates.map((r) => r.pipe))).toFixed(2)}  (goal >= 0.75)`);
    console.log(`(${fmt(notes)} notes, ~${bytes}/row, into LIKE legacy.notes INCLUDING ALL for the pipe; the backfill's notes source writes insights.customers + insights.notes; it also copied ${fmt(links)} links)`);
    console.log('');
    console.log(`| GET /notes/:id, ${rate} req/s each, open loop | phase | p50 | p99 | requests | errors |`);
    console.log('| --- | --- | ---: | ---: | ---: | ---: |');
    const windows: Array<[string, LoadResult]> = [[`unthrottled backfill (${fmt(unthrottled.rowsPerSecond)} rows/s while running)`, unthrottled.load]];
    if (throttled) windows.push([`backfill at --max-rows-per-second ${fmt(throttled.limit)} (${fmt(throttled.rowsPerSecond)} rows/s while running)`, throttled.load]);
    if (adaptive) windows.push([`backfill with --throttle auto (${fmt(adaptive.rowsPerSecond)} rows/s while running)`, adaptive.load]);
    for (const [label, r] of windows) {
      for (const phase of ['idle', 'busy'] as const) {
        for (const t of ['gateway', 'direct'] as const) {
          const st = r[t][phase].summary;
          console.log(`| ${label}, ${t === 'gateway' ? 'through the gateway' : 'straight to the monolith'} | ${phase === 'idle' ? 'paused' : 'running'} | ${ms(st.p50)} | ${ms(st.p99)} | ${st.count} | ${r[t][phase].errors + r[t][phase].statusErrors} |`);
        }
      }
    }
    const ratio = (r: LoadResult) => r.gateway.busy.summary.p99 / r.gateway.idle.summary.p99;
    const added = (r: LoadResult, ph: 'idle' | 'busy') => r.gateway[ph].summary.p99 - r.direct[ph].summary.p99;
    console.log('');
    console.log(
      `p99 through the gateway, running / paused: ${ratio(unthrottled.load).toFixed(2)} unthrottled` +
        `${throttled ? `, ${ratio(throttled.load).toFixed(2)} at --max-rows-per-second ${fmt(throttled.limit)}` : ''}` +
        `${adaptive ? `, ${ratio(adaptive.load).toFixed(2)} with --throttle auto` : ''}  (goal <= 1.5)`,
    );
    console.log(
      `added by the gateway (p99 through it - p99 straight), paused / running: unthrottled ${ms(added(unthrottled.load, 'idle'))} / ${ms(added(unthrottled.load, 'busy'))}` +
        (throttled ? `; fixed rate ${ms(added(throttled.load, 'idle'))} / ${ms(added(throttled.load, 'busy'))}` : '') +
        (adaptive ? `; --throttle auto ${ms(added(adaptive.load, 'idle'))} / ${ms(added(adaptive.load, 'busy'))}` : ''),
    );
    console.log(`machine: ${os.cpus().length} CPU, ${os.cpus()[0]?.model ?? '?'}; load average ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end; load generator ${hasTaskset ? 'pinned to CPU 1, monolith and gateway to CPU 0' : 'not pinned'}`);
  } finally {
    for (const p of procs) await stop(p).catch(() => undefined);
    await c.end().catch(() => undefined);
    await dropDatabase(db.url, name).catch((err: Error) => log(`could not drop ${name}: ${err.message}`));
    await db.stop();
  }
}

(args.role === 'load' ? runLoad() : main()).catch((err) => {
  process.stderr.write(`backfill benchmark failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
