/**
 * `carve move`: moves one schema of the monolith's database from one Postgres server to another
 * (Heroku Postgres to RDS) while the app keeps writing to the first (@carve/shared-carving's
 * move: capture triggers, a resumable copy from one snapshot, changes applied until the target
 * keeps up, row digests to verify).
 *
 *   carve move plan     --to URL --schema S [--from URL] [--json]
 *   carve move start    --to URL --schema S [--from URL] [--json]
 *   carve move backfill --to URL --schema S [--from URL] [--batch-size N] [--max-rows-per-second N]
 *                       [--throttle auto|off] [--max-latency-ms N] [--max-replica-lag-ms N] [--json]
 *   carve move apply    --to URL --schema S [--from URL] [--follow] [--json]
 *   carve move status   --schema S [--from URL] [--json]
 *   carve move verify   --to URL --schema S [--from URL] [--json]        exit 4 on drift
 *   carve move switch   --to URL --schema S [--from URL] [--json]        writes move to the target
 *   carve move rollback --to URL --schema S [--from URL] [--json]        writes come back, none lost
 *   carve move stop     --schema S [--from URL] [--json]
 *
 * --from defaults to DATABASE_URL (the app's database). Refusals exit 3, an unreachable server 5.
 */
import os from 'node:os';
import type { Command } from 'commander';
import { applyMove, copyMove, moveStatus, MoveError, planMove, rollbackMove, startMove, stopMove, switchMove, verifyMove } from '@carve/shared-carving';
import { assertIdentifier, redactUrl } from '@carve/shared-persistence';
import { formatCount, formatDuration, ProgressBar } from '@carve/shared-progress';
import { CliError, EXIT } from '../cli-error';
import { type CopyFlags, copyOptionsOf, heldBackNote, slowedNote, withCopyFlags } from '../copy-flags';

interface MoveFlags {
  from?: string;
  to?: string;
  schema: string;
  json?: boolean;
  follow?: boolean;
}

const out = (line = ""): void => void process.stdout.write(`${line}\n`);
const printJson = (value: unknown): void => out(JSON.stringify(value, null, 2));

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', '3D000', '28P01', '28000']);

function actor(): string {
  try {
    return `${os.userInfo().username || 'cli'} (carve move)`;
  } catch {
    return 'carve move';
  }
}

function endpoints(o: MoveFlags, needTo: boolean): { fromUrl: string; toUrl: string; schema: string; actor: string } {
  try {
    assertIdentifier(o.schema, 'schema name');
  } catch (err) {
    throw new CliError((err as Error).message, 'a schema name is lower-case letters, digits and _ (e.g. public)', EXIT.usage);
  }
  const fromUrl = o.from ?? process.env.DATABASE_URL;
  if (!fromUrl) throw new CliError('no source database', 'pass --from postgres://... or set DATABASE_URL (the app\'s database)', EXIT.usage);
  if (needTo && !o.to) throw new CliError('no target database', 'pass --to postgres://<user>@<new server>/<db>', EXIT.usage);
  if (o.to && o.to === fromUrl) throw new CliError('--to is the source database', 'point --to at the new server', EXIT.usage);
  return { fromUrl, toUrl: o.to ?? '', schema: o.schema, actor: actor() };
}

/** A MoveError as a refusal (exit 3) with its next step; a connection failure as unreachable (exit 5). */
async function guarded<T>(fn: () => Promise<T>, urls: string[]): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof MoveError) throw new CliError(`${err.message} [${err.code}]`, err.hint, EXIT.refused);
    const code = (err as { code?: string }).code;
    if (code && UNREACHABLE.has(code)) {
      throw new CliError(`cannot reach the database: ${(err as Error).message}`, `check ${urls.map(redactUrl).join(' and ')} (host, port, database, credentials)`, EXIT.unreachable);
    }
    throw err;
  }
}

export function registerMove(program: Command): void {
  const move = program
    .command('move')
    .description("move a schema of the monolith's database to another Postgres server while the app keeps writing (plan, start, backfill, apply, status, verify, stop)");
  const withCommon = (c: Command, needTo: boolean) =>
    c
      .requiredOption('--schema <name>', 'the schema to move, e.g. public')
      .option('--from <url>', "the source database (default DATABASE_URL, the app's database)")
      .option('--to <url>', needTo ? 'the target database (the new server)' : 'the target database (not needed here)')
      .option('--json', 'print the result as JSON');

  withCommon(move.command('plan').description('what would be copied, what blocks the move, and how long the copy should take (from a sample)'), true).action(async (o: MoveFlags) => {
    const t = endpoints(o, true);
    const plan = await guarded(() => planMove(t), [t.fromUrl, t.toUrl]);
    if (o.json) return printJson(plan);
    out(`move of schema ${plan.schema}: ${plan.source.server} (Postgres ${plan.source.version}) -> ${plan.target.server} (Postgres ${plan.target.version})`);
    for (const tb of plan.tables) out(`  ${tb.name.padEnd(32)} ${formatCount(tb.rows).padStart(10)} rows  ${(tb.bytes / 1048576).toFixed(1).padStart(8)} MB${tb.primaryKey ? '' : '  (no primary key)'}`);
    if (plan.sequences.length) out(`  sequences: ${plan.sequences.map((s) => s.name).join(', ')} (set on the target at the switch)`);
    if (plan.estimate) out(`  copy estimate: ${formatCount(plan.estimate.rowsPerSecond)} rows/s from a ${formatCount(plan.estimate.sampleRows)}-row sample: about ${formatDuration(plan.estimate.seconds * 1000)}`);
    if (plan.blockers.length) {
      for (const b of plan.blockers) out(`  blocked: ${b.message} [${b.code}]\n    next: ${b.next}`);
      process.exitCode = EXIT.refused;
      return;
    }
    out(`next: \`carve move start --schema ${plan.schema} --to <url>\``);
  });

  withCommon(move.command('start').description('install the capture of changes on the source (refused while the plan has blockers)'), true).action(async (o: MoveFlags) => {
    const t = endpoints(o, true);
    const state = await guarded(() => startMove(t), [t.fromUrl, t.toUrl]);
    if (o.json) return printJson(state);
    out(`capturing the changes of ${t.schema} on ${redactUrl(t.fromUrl)} for ${state.target}`);
    out(`next: \`carve move backfill --schema ${t.schema} --to <url>\``);
  });

  withCopyFlags(withCommon(move.command('backfill').description('copy every table from one snapshot of the source, throttled by load; resumes where a stopped run left off'), true), 'the source or the target')
    .action(async (o: MoveFlags & CopyFlags) => {
      const copy = copyOptionsOf(o);
      const t = endpoints(o, true);
      const bars = new Map<string, ProgressBar>();
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const report = await guarded(
          () =>
            copyMove(t, {
              ...copy,
              signal: abort.signal,
              onProgress: (p) => {
                const label = `copy ${p.table}`.padEnd(28);
                let bar = bars.get(p.table);
                if (!bar) bars.set(p.table, (bar = new ProgressBar(label, p.total)));
                if (p.done) bar.finish(p.rowsDone);
                else bar.update(p.rowsDone, p.total, `${label}${slowedNote(p.throttle)}`);
              },
            }),
          [t.fromUrl, t.toUrl],
        );
        const status = await guarded(() => moveStatus(t), [t.fromUrl]);
        const finished = status.state?.phase === 'copied';
        if (o.json) return printJson({ ...report, phase: status.state?.phase, backlog: status.backlog });
        for (const tb of report.tables) out(tb.skipped ? `${tb.name}: copied before` : `${tb.name}: ${formatCount(tb.rows)} rows${tb.waiting ? `, ${formatCount(tb.waiting)} waiting for their parents (the apply writes them)` : ''}`);
        out(`${formatCount(report.rows)} rows in ${formatDuration(report.ms)}${heldBackNote(report.throttledMs, report.slowedBy)}; ${formatCount(status.backlog)} changes captured meanwhile`);
        if (!finished) {
          out(`stopped before the end: run \`carve move backfill --schema ${t.schema} --to <url>\` again to resume`);
          process.exitCode = EXIT.failed;
          return;
        }
        out(`next: \`carve move apply --schema ${t.schema} --to <url> --follow\``);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  withCommon(move.command('apply').description('apply the captured changes to the target until none are left (--follow: until stopped)'), true)
    .option('--follow', 'keep applying new changes until Ctrl-C / SIGTERM')
    .action(async (o: MoveFlags) => {
      const t = endpoints(o, true);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const bar = new ProgressBar('apply'.padEnd(28), undefined, { unit: 'changes' });
        let applied = 0;
        const r = await guarded(
          () =>
            applyMove(t, {
              follow: o.follow,
              signal: abort.signal,
              onPass: (p, backlog) => {
                applied += p.changes;
                bar.update(applied, applied + backlog, `apply (backlog ${formatCount(backlog)})`.padEnd(28));
              },
            }),
          [t.fromUrl, t.toUrl],
        );
        bar.finish(applied);
        const status = await guarded(() => moveStatus(t), [t.fromUrl]);
        if (o.json) return printJson({ ...r, backlog: status.backlog, lagMs: status.lagMs });
        out(`${formatCount(r.changes)} changes applied (${formatCount(r.upserted)} rows written, ${formatCount(r.deleted)} deleted); backlog ${formatCount(status.backlog)}`);
        if (r.waiting) out(`${formatCount(r.waiting)} rows wait for parents that are not on the target: \`carve move verify\` shows which tables`);
        out(`next: \`carve move verify --schema ${t.schema} --to <url>\``);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });

  withCommon(move.command('status').description('the phase, copy progress, changes not applied yet and their age'), false).action(async (o: MoveFlags) => {
    const t = endpoints(o, false);
    const s = await guarded(() => moveStatus(t), [t.fromUrl]);
    if (o.json) return printJson(s);
    if (!s.state) {
      out(`no move of ${t.schema} on ${redactUrl(t.fromUrl)}`);
      return;
    }
    out(`move of ${t.schema} to ${s.state.target}: ${s.state.phase} (started ${s.state.startedAt})`);
    for (const tb of s.tables) out(`  ${tb.name.padEnd(32)} ${formatCount(tb.rowsCopied).padStart(10)} rows copied${tb.finished ? '' : ' (copy not finished)'}`);
    out(`  backlog: ${formatCount(s.backlog)} changes, oldest ${formatDuration(s.lagMs)} old`);
  });

  withCommon(move.command('verify').description(`compare every row of every table on both sides (row digests); exits ${EXIT.drift} on drift`), true).action(async (o: MoveFlags) => {
    const t = endpoints(o, true);
    const v = await guarded(() => verifyMove(t), [t.fromUrl, t.toUrl]);
    if (!v.ok) process.exitCode = EXIT.drift;
    if (o.json) return printJson(v);
    for (const tb of v.tables) out(`  ${tb.name.padEnd(32)} ${formatCount(tb.sourceRows).padStart(10)} / ${formatCount(tb.targetRows).padEnd(10)} ${tb.equal ? 'equal' : 'DRIFT'}`);
    if (v.ok) out(`no drift in ${t.schema}${v.backlog ? ` (${formatCount(v.backlog)} changes arrived while it ran)` : ''}`);
    else out(`drift in ${v.tables.filter((x) => !x.equal).map((x) => x.name).join(', ')}${v.backlog ? `: ${formatCount(v.backlog)} changes not applied yet, run \`carve move apply\` and verify again` : ': apply, then verify again; drift that stays is a bug to report'}`);
  });

  for (const dir of ['switch', 'rollback'] as const) {
    const what =
      dir === 'switch'
        ? 'fence the source, drain the changes, set the sequences, verify, and make the target the database the app writes to (the source stays fenced)'
        : 'the switch backwards: fence the target, drain its changes into the source, and make the source the database the app writes to again';
    withCommon(move.command(dir).description(what), true)
      .option('--verify <what>', 'the check inside the fence: touched (the rows the drain wrote; default) or full (every row: a longer fence)', 'touched')
      .action(async (o: MoveFlags & { verify: string }) => {
      if (o.verify !== 'touched' && o.verify !== 'full') throw new CliError(`--verify is touched or full, not ${o.verify}`, 'verify the whole schema before the switch with `carve move verify`', EXIT.usage);
      const t = endpoints(o, true);
      const step = (s: string) => process.stderr.write(`${dir}: ${s}\n`);
      const r = await guarded(() => (dir === 'switch' ? switchMove : rollbackMove)(t, { onStep: step, verify: o.verify as 'touched' | 'full' }), [t.fromUrl, t.toUrl]);
      if (o.json) return printJson(r);
      out(`${dir === 'switch' ? 'switched' : 'rolled back'}: ${r.primary} takes the writes of ${t.schema}; writes were fenced for ${formatDuration(r.fenceMs)} (${formatCount(r.drained)} changes drained, ${r.sequences.length} sequences set)`);
      out(
        dir === 'switch'
          ? `next: point every app replica at the target (a replica still on the source gets 503 write_fenced and reads the pointer; or restart it with the new DATABASE_URL); \`carve move rollback\` goes back without losing a write`
          : `next: the app writes to the source again; \`carve move apply\` keeps the target up to date for another switch, or \`carve move stop\``,
      );
    });
  }

  withCommon(move.command('stop').description('end the move: the capture leaves the source; after a switch (the end of the rollback window, needs --to) the reverse capture leaves the target too'), false).action(async (o: MoveFlags) => {
    const t = endpoints(o, false);
    const phase = await guarded(() => stopMove({ ...t, ...(o.to ? { toUrl: o.to } : {}) }), o.to ? [t.fromUrl, o.to] : [t.fromUrl]);
    if (o.json) return printJson({ schema: t.schema, phase });
    out(
      phase === 'finished'
        ? `the move of ${t.schema} is finished: no capture left on either side; the source stays fenced and the pointer names the target`
        : `the capture of ${t.schema} is removed from ${redactUrl(t.fromUrl)}`,
    );
  });
}
