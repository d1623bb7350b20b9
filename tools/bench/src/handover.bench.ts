/**
 * The fence window of the fenced handover: how long the writes of a context are refused while
 * `carve cutover --writes` and `carve rollback` move them between the monolith and the service,
 * under a steady write load through the gateway.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:handover -w @carve/bench
 *   (options: --rates 50,200 --cycles 8 --notes 600 --workspaces 3)
 *
 * 1. A fresh database on DATABASE_URL's server (else embedded Postgres): the monolith's seed (the
 *    real seed process) and the insights schema; the monolith (reverse sync on), the insights
 *    service and the gateway as processes on the embedded Postgres transport; insights backfilled.
 * 2. Per rate: a writer PATCHes notes through the gateway at that many writes a second, open
 *    loop (each write due at its time; a write refused with 503 write_fenced or 409
 *    not_source_of_truth is sent again 20 ms later, as a client honouring Retry-After would, only
 *    sooner). Meanwhile `--cycles` times: verify, shadow, canary 100, reads, cutover, 1 s of
 *    writes on the service, rollback (the library, as the CLI calls it).
 * 3. Reported per rate and command: the fence window the handover recorded (fence to unfence,
 *    `carve.handovers.fence_ms`; p50, p99, max over the cycles: with few cycles p99 is the
 *    largest but one), and what a writer saw: the latency of its writes from due time to
 *    acknowledgement, retries included, for the writes due inside a handover.
 */
import os from 'node:os';
import { insightsCarving } from '@carve/insights-carving';
import { createDatabase, dropDatabase, resolveDatabase } from '@carve/shared-persistence';
import { type InsightsStack, seededNotes, seedInsights, startInsightsStack } from './insights-stack';
import { parseArgs, summarize } from './stats';
import { setTimeout as sleep } from 'node:timers/promises';

const args = parseArgs(process.argv.slice(2));
const log = (m: string) => process.stderr.write(`${m}\n`);
const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : '-');

interface Write {
  due: number;
  done: number;
  /** 200, or what failed it (`<status> <code>`). */
  outcome: string;
  refusals: number;
}

/** PATCHes notes through the gateway at `rate` a second until stopped; open loop. */
function startWriter(gatewayUrl: string, notes: Array<{ ws: string; id: string; token: string }>, rate: number) {
  const writes: Write[] = [];
  const pending = new Set<Promise<void>>();
  let stop = false;
  let paused = false;
  const interval = 1000 / rate;
  const one = async (due: number, n: number) => {
    const note = notes[n % notes.length];
    let refusals = 0;
    for (;;) {
      const res = await fetch(`${gatewayUrl}/api/v1/workspaces/${note.ws}/notes/${note.id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${note.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `bench ${n}` }),
        signal: AbortSignal.timeout(30_000),
      }).catch(() => null);
      const body = (res ? await res.json().catch(() => ({})) : {}) as { code?: string };
      const refused = res && ((res.status === 503 && body.code === 'write_fenced') || (res.status === 409 && body.code === 'not_source_of_truth'));
      if (refused && refusals < 1000) {
        refusals += 1;
        await sleep(20);
        continue;
      }
      writes.push({ due, done: performance.now(), outcome: res?.status === 200 ? '200' : `${res?.status ?? 'no answer'} ${body.code ?? ''}`.trim(), refusals });
      return;
    }
  };
  const loop = (async () => {
    let next = performance.now();
    for (let n = 0; !stop; n++) {
      if (paused) {
        await sleep(interval);
        next = performance.now();
        continue;
      }
      const p = one(next, n).finally(() => pending.delete(p));
      pending.add(p);
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    writes,
    pause: (on: boolean) => {
      paused = on;
    },
    async stop() {
      stop = true;
      await loop;
      await Promise.all(pending);
    },
  };
}

async function main(): Promise<void> {
  const rates = (args.rates ?? '50,200').split(',').map(Number);
  const cycles = Number(args.cycles ?? 8);
  const notesN = Number(args.notes ?? 600);
  const workspacesN = Number(args.workspaces ?? 3);
  const server = process.env.DATABASE_URL ? { url: process.env.DATABASE_URL, stop: async () => undefined } : await resolveDatabase();
  const name = `bench_handover_${Date.now().toString(36)}`;
  const url = await createDatabase(server.url, name);
  let running: InsightsStack | undefined;
  try {
    log(`seeding ${notesN} notes over ${workspacesN} workspaces`);
    await seedInsights(url, notesN, workspacesN);
    // The open-loop writer keeps every write due inside a fence in flight (retrying): more than the
    // gateway's default 64 per tenant at 200/s. The bench measures the fence, not that limit.
    running = await startInsightsStack('bench-handover', url, { CARVE_TENANT_CONCURRENCY: '100000' });
    const { gatewayUrl } = running.stack;
    const { carving } = running;
    const cv = carving;
    await carving.backfill(insightsCarving, { reason: 'bench' });
    const notes = await seededNotes(url, 200);

    const rows: string[] = [];
    const remarks: string[] = [];
    const undone: Record<number, number> = {};
    for (const rate of rates) {
      const writer = startWriter(gatewayUrl, notes, rate);
      const windows: Record<'cutover' | 'rollback', number[]> = { cutover: [], rollback: [] };
      const spans: Record<'cutover' | 'rollback', Array<[number, number]>> = { cutover: [], rollback: [] };
      await sleep(2000);
      let stopped: string | undefined;
      for (let i = 0; i < cycles && !stopped; i++) {
        // A cycle the machine cannot carry at this rate (the sync falls behind the writes, so
        // verify finds rows still moving, or a handover is undone) ends the rate's cycles: what
        // was measured so far is reported, with why it stopped.
        try {
          await carving.verify(insightsCarving);
          await carving.moveTo(insightsCarving, 'shadow', { reason: 'bench' });
          await carving.moveTo(insightsCarving, 'canary', { percent: 100, reason: 'bench' });
          await carving.moveTo(insightsCarving, 'reads-switched', { reason: 'bench' });
          let t = performance.now();
          const cut = await carving.cutoverWrites(insightsCarving, { reason: 'bench' });
          spans.cutover.push([t, performance.now()]);
          windows.cutover.push(cut.handover!.fenceMs!);
          await sleep(1000);
          t = performance.now();
          // A rollback whose reverse sync cannot catch up within its fence time is undone (the
          // service keeps the writes, nothing is lost): counted, then tried again with the load paused.
          const back = await carving.rollback(insightsCarving, { reason: 'bench' }).catch(async (err) => {
            if ((err as { code?: string }).code !== 'drain_timeout') throw err;
            undone[rate] = (undone[rate] ?? 0) + 1;
            log(`${rate}/s cycle ${i + 1}/${cycles}: rollback undone (${(err as Error).message.slice(0, 160)}); again with the writer paused`);
            writer.pause(true);
            try {
              return await cv.rollback(insightsCarving, { reason: 'bench, load paused' });
            } finally {
              writer.pause(false);
            }
          });
          spans.rollback.push([t, performance.now()]);
          windows.rollback.push(back.handover!.fenceMs!);
          log(`${rate}/s cycle ${i + 1}/${cycles}: cutover fence ${ms(cut.handover!.fenceMs!)}, rollback fence ${ms(back.handover!.fenceMs!)}`);
          await sleep(1000);
        } catch (err) {
          stopped = `cycle ${i + 1}: ${(err as Error).message}`;
          log(`${rate}/s stopped at ${stopped}`);
          // Back to the monolith owning the writes for the next rate, the load paused.
          writer.pause(true);
          await cv.rollback(insightsCarving, { reason: 'bench: after a stopped cycle' });
          writer.pause(false);
        }
      }
      await writer.stop();
      const failed = writer.writes.filter((w) => w.outcome !== '200');
      for (const cmd of ['cutover', 'rollback'] as const) {
        const f = summarize(windows[cmd]);
        const inside = writer.writes.filter((w) => spans[cmd].some(([a, b]) => w.due >= a && w.due <= b));
        const lat = summarize(inside.map((w) => w.done - w.due));
        rows.push(
          `| ${rate} | ${cmd} | ${f.count} | ${ms(f.p50)} | ${ms(f.p99)} | ${ms(f.max)} | ${inside.length} | ${inside.filter((w) => w.refusals > 0).length} | ${ms(lat.p50)} | ${ms(lat.p99)} | ${ms(lat.max)} |`,
        );
      }
      if (stopped) remarks.push(`at ${rate}/s the cycles stopped at ${stopped}`);
      const all = summarize(writer.writes.map((w) => w.done - w.due));
      rows.push(`| ${rate} | (every write) | | | | | ${writer.writes.length} | ${writer.writes.filter((w) => w.refusals > 0).length} | ${ms(all.p50)} | ${ms(all.p99)} | ${ms(all.max)} |`);
      if (failed.length > 0) {
        const by = new Map<string, number>();
        for (const w of failed) by.set(w.outcome, (by.get(w.outcome) ?? 0) + 1);
        remarks.push(`at ${rate}/s ${failed.length} of ${writer.writes.length} write(s) failed for another reason than a fence: ${JSON.stringify(Object.fromEntries(by))}`);
      }
    }
    console.log('');
    console.log(`fenced handover of insights' writes, ${cycles} cycles per rate, ${os.cpus().length} cores, ${new Date().toISOString()}`);
    console.log('');
    console.log('| writes/s | handover | cycles | fence p50 | fence p99 | fence max | writes due inside | refused then retried | write latency p50 | p99 | max |');
    console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) console.log(r);
    for (const r of remarks) console.log(`\n${r}`);
    for (const [rate, n] of Object.entries(undone)) {
      console.log('');
      console.log(`at ${rate}/s, ${n} rollback(s) undone: the reverse sync did not catch up within the fence time; each succeeded when tried again with the writer paused (its window is in the rows above)`);
    }
  } finally {
    await running?.stop();
    await dropDatabase(server.url, name).catch(() => undefined);
    await server.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
