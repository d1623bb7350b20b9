/**
 * `carve move`, measured: the copy rate beside `pg_dump | pg_restore` of the same schema, the
 * capture's cost on the app's write latency, and the fence window of the switch under writes.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:move -w @carve/bench
 *   (options: --rows 500000 --rounds 2 --rate 200 --window 10 --switches 6)
 *
 * pg_dump/pg_restore come from PATH and must not be older than the server (Debian's 15 here, so
 * DATABASE_URL is the machine's Postgres 15). Three databases on that server: the source, the
 * target of `carve move`, the target of the dump; each target holds the schema, empty.
 *
 * 1. Copy, `--rounds` times, alternating: `pg_dump -Fc --data-only -n app | pg_restore
 *    --data-only` into the dump's target, and the move's backfill (the library the CLI runs:
 *    start, copy from one snapshot, 10,000-row batches) into the move's target; rows/s of each,
 *    the targets emptied between rounds.
 * 2. Capture overhead: an app writing at `--rate` writes/s (open loop; half single-row UPDATEs,
 *    half INSERTs) through 8 connections, alternating windows of `--window` s without and with
 *    the capture triggers; p50/p99 of the write latency in each.
 * 3. Fence window: the same writers following the move's pointer (a write refused with CV503 is
 *    sent again 10 ms later to the database the pointer names), `--switches` switches and
 *    rollbacks; the fence each recorded, and the latency of the writes due while one ran.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyMove, copyMove, readMovePointer, rollbackMove, startMove, stopMove, switchMove } from '@carve/shared-carving';
import { createDatabase, dropDatabase, resolveDatabase } from '@carve/shared-persistence';
import { Pool } from 'pg';
import { nowMs, parseArgs, summarize } from './stats';

const args = parseArgs(process.argv.slice(2));
const ROWS = Number(args.rows ?? 500_000);
const ROUNDS = Number(args.rounds ?? 2);
const RATE = Number(args.rate ?? 200);
const WINDOW_S = Number(args.window ?? 10);
const SWITCHES = Number(args.switches ?? 6);
const log = (m: string) => process.stderr.write(`${m}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 1)} ms`;

const DDL = `
  CREATE SCHEMA app;
  CREATE TABLE app.accounts (id bigserial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE app.items (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES app.accounts(id),
    label text NOT NULL,
    qty int NOT NULL DEFAULT 0,
    attrs jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX items_account ON app.items (account_id);
  CREATE INDEX items_updated ON app.items (updated_at);
`;

function run(cmd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/** Writes at RATE/s, open loop, until stopped; each sample: due time, latency (ms, due to ack), refused or not. */
function writer(pickPool: () => Pool, onRefused?: () => Promise<void>) {
  const samples: Array<{ due: number; ms: number; refused: boolean }> = [];
  const pending = new Set<Promise<void>>();
  let stop = false;
  const one = async (due: number, n: number) => {
    let refused = false;
    for (;;) {
      try {
        if (n % 2 === 0) await pickPool().query('UPDATE app.items SET qty = qty + 1, updated_at = now() WHERE id = $1', [1 + ((n * 7919) % ROWS)]);
        else await pickPool().query(`INSERT INTO app.items (account_id, label) VALUES ($1, 'written')`, [1 + (n % 1000)]);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'CV503' || !onRefused) throw err;
        refused = true;
        await onRefused();
        await sleep(10);
      }
    }
    samples.push({ due, ms: nowMs() - due, refused });
  };
  const loop = (async () => {
    const start = nowMs();
    for (let n = 0; !stop; n++) {
      const due = start + (n * 1000) / RATE;
      const wait = due - nowMs();
      if (wait > 0) await sleep(wait);
      const p = one(due, n).finally(() => pending.delete(p));
      pending.add(p);
    }
  })();
  return {
    samples,
    async stop() {
      stop = true;
      await loop;
      await Promise.all(pending);
    },
  };
}

async function main(): Promise<void> {
  const db = await resolveDatabase();
  const stamp = Date.now().toString(36);
  const names = { src: `bench_move_src_${stamp}`, move: `bench_move_dst_${stamp}`, dump: `bench_move_dump_${stamp}` };
  const [srcUrl, moveUrl, dumpUrl] = [await createDatabase(db.url, names.src), await createDatabase(db.url, names.move), await createDatabase(db.url, names.dump)];
  const pools = { src: new Pool({ connectionString: srcUrl, max: 8 }), move: new Pool({ connectionString: moveUrl, max: 8 }), dump: new Pool({ connectionString: dumpUrl, max: 2 }) };
  const t = { fromUrl: srcUrl, toUrl: moveUrl, schema: 'app', actor: 'move.bench' };
  const report: string[] = [];
  try {
    for (const p of Object.values(pools)) await p.query(DDL);
    log(`seeding ${fmt(ROWS)} items`);
    await pools.src.query(`INSERT INTO app.accounts (name) SELECT 'account ' || g FROM generate_series(1, 1000) g`);
    await pools.src.query(`INSERT INTO app.items (account_id, label, qty, attrs) SELECT 1 + g % 1000, 'item ' || g, g % 97, jsonb_build_object('color', 'c' || (g % 13), 'size', g % 7) FROM generate_series(1, $1) g`, [ROWS]);
    await pools.src.query('VACUUM ANALYZE app.items');
    const rows = ROWS + 1000;

    // 1. Copy rate.
    const empty = async (p: Pool) => p.query('TRUNCATE app.items, app.accounts');
    const copy: Array<{ dump: number; move: number }> = [];
    for (let r = 1; r <= ROUNDS; r++) {
      await empty(pools.dump);
      let t0 = nowMs();
      await run(`pg_dump -Fc --data-only -n app '${srcUrl}' | pg_restore --data-only -d '${dumpUrl}'`);
      const dump = rows / ((nowMs() - t0) / 1000);
      await empty(pools.move);
      t0 = nowMs();
      await startMove(t);
      await copyMove(t, { batchSize: 10_000 });
      const moved = rows / ((nowMs() - t0) / 1000);
      await stopMove(t);
      copy.push({ dump, move: moved });
      log(`copy round ${r}: pg_dump | pg_restore ${fmt(dump)} rows/s, carve move backfill ${fmt(moved)} rows/s`);
    }
    report.push('| round | pg_dump \\| pg_restore (rows/s) | carve move backfill (rows/s) | ratio |', '| ---: | ---: | ---: | ---: |');
    copy.forEach((c, i) => report.push(`| ${i + 1} | ${fmt(c.dump)} | ${fmt(c.move)} | ${(c.move / c.dump).toFixed(2)} |`));

    // 2. Capture overhead: windows without and with the triggers, alternating.
    const windows: Record<'without' | 'with', number[]> = { without: [], with: [] };
    for (let i = 0; i < 2; i++) {
      for (const kind of ['without', 'with'] as const) {
        if (kind === 'with') {
          await empty(pools.move);
          await startMove(t);
        }
        const w = writer(() => pools.src);
        await sleep(WINDOW_S * 1000);
        await w.stop();
        windows[kind].push(...w.samples.map((s) => s.ms));
        if (kind === 'with') await stopMove(t);
        log(`capture ${kind}: ${w.samples.length} writes`);
      }
    }
    const [wo, wi] = [summarize(windows.without), summarize(windows.with)];
    report.push('', `| ${RATE} writes/s | p50 | p99 | writes |`, '| --- | ---: | ---: | ---: |');
    report.push(`| without capture | ${ms(wo.p50)} | ${ms(wo.p99)} | ${wo.count} |`, `| with capture triggers | ${ms(wi.p50)} | ${ms(wi.p99)} | ${wi.count} |`);
    report.push(`capture overhead: p50 ${(wi.p50 / wo.p50).toFixed(2)}x, p99 ${(wi.p99 / wo.p99).toFixed(2)}x`);

    // 3. Fence window: switches and rollbacks under writers following the pointer.
    await empty(pools.move);
    await startMove(t);
    await copyMove(t, { batchSize: 10_000 });
    await applyMove(t);
    let current = pools.src;
    const w = writer(
      () => current,
      async () => {
        current = (await readMovePointer(pools.src, 'app')) === 'target' ? pools.move : pools.src;
      },
    );
    const fences: number[] = [];
    const spans: Array<[number, number]> = [];
    for (let i = 0; i < SWITCHES; i++) {
      await sleep(2000);
      if (i % 2 === 0) await applyMove(t); // before a switch: the backlog the switch would drain
      const t0 = nowMs();
      const steps: string[] = [];
      const onStep = (s: string) => steps.push(`${s} +${Math.round(nowMs() - t0)}`);
      const r = i % 2 === 0 ? await switchMove(t, { onStep }) : await rollbackMove(t, { onStep });
      log(`  steps: ${steps.join(', ')}, done +${Math.round(nowMs() - t0)}`);
      spans.push([t0, nowMs()]);
      fences.push(r.fenceMs);
      log(`${i % 2 === 0 ? 'switch' : 'rollback'} ${i + 1}: fence ${ms(r.fenceMs)}, ${r.drained} drained`);
    }
    await sleep(2000);
    await w.stop();
    const during = w.samples.filter((s) => spans.some(([a, b]) => s.due >= a && s.due <= b)).map((s) => s.ms);
    const f = summarize(fences);
    const d = summarize(during);
    const all = summarize(w.samples.map((s) => s.ms));
    report.push('', `| fence window, ${RATE} writes/s | p50 | p99 | max | count |`, '| --- | ---: | ---: | ---: | ---: |');
    report.push(`| fence (switch or rollback, as recorded) | ${ms(f.p50)} | ${ms(f.p99)} | ${ms(f.max)} | ${f.count} |`);
    report.push(`| write latency, writes due during a switch/rollback | ${ms(d.p50)} | ${ms(d.p99)} | ${ms(d.max)} | ${d.count} |`);
    report.push(`| write latency, all writes of the run | ${ms(all.p50)} | ${ms(all.p99)} | ${ms(all.max)} | ${all.count} |`);
    report.push(`refused and retried: ${w.samples.filter((s) => s.refused).length} writes`);
    process.stdout.write(`${report.join('\n')}\n`);
  } finally {
    for (const p of Object.values(pools)) await p.end().catch(() => undefined);
    await stopMove(t).catch(() => undefined);
    for (const n of Object.values(names)) await dropDatabase(db.url, n, { graceMs: 2000 }).catch(() => undefined);
    await db.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
