/**
 * Carving a context out of the monolith (docs/runbooks/carving-a-context.md):
 *
 *   carve backfill <context> [--max-rows-per-second N] [--batch-size N] [--restart]
 *   carve verify <context> [--workspace W]... [--json]
 *   carve stage <context> shadow | canary --percent P | reads | complete [--reason R]
 *   carve cutover <context> --writes [--reason R]
 *   carve rollback <context> [--reason R] [--timeout S] [--force]
 *   carve status [<context>] [--json]
 *
 * DATABASE_URL is the admin connection (every schema, the control plane); without it, the
 * embedded Postgres. The gateway's admin API (CARVE_ADMIN_URL, CARVE_ADMIN_TOKEN, as `carve
 * routes`) is asked for the effective routes and shadow counters when it answers. Actor:
 * --actor, else CARVE_ACTOR, else the user name. The machinery is @carve/shared-carving; the
 * contexts are the descriptors registered with it (../carving/contexts.ts).
 */
import os from 'node:os';
import type { Command } from 'commander';
import {
  BackfillBusyError,
  type CarvableContext,
  Carving,
  CarvingError,
  ContextBusyError,
  type ContextStatus,
  parseStageArg,
  type RouteChange,
  type VerifyResult,
} from '@carve/shared-carving';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { transportKindFromEnv } from '@carve/shared-messaging';
import { formatCount, formatDuration, ProgressBar } from '@carve/shared-progress';
import { resolveDatabase } from '@carve/shared-persistence';
import { knownContexts, lookupContext } from '../carving/contexts';
import { CliError } from '../cli-error';

interface Common {
  actor?: string;
  databaseUrl?: string;
}

const actorOf = (o: Common) => o.actor ?? process.env.CARVE_ACTOR ?? safeUser();

function safeUser(): string {
  try {
    return os.userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

function contextOr404(name: string): CarvableContext {
  const ctx = lookupContext(name);
  if (ctx) return ctx;
  const known = knownContexts().map((c) => c.name);
  throw new CliError(
    `no carvable context "${name}"`,
    known.length ? `known contexts: ${known.join(', ')}` : 'a context registers its descriptor from libs/<context>/carving (see docs/runbooks/carving-a-context.md)',
  );
}

const whole = (flag: string, min = 1) => (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} needs a whole number of at least ${min}, got "${v}"`);
  return n;
};

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Opens the machinery on DATABASE_URL (or --database-url, or the embedded Postgres) and always closes it. */
async function withCarving<T>(o: Common, fn: (carving: Carving) => Promise<T>): Promise<T> {
  const db = o.databaseUrl ? { url: o.databaseUrl, stop: async () => undefined } : await resolveDatabase();
  let carving: Carving | undefined;
  try {
    try {
      carving = await Carving.connect({
        url: db.url,
        actor: actorOf(o),
        transport: transportKindFromEnv(),
        gateway: { url: process.env.CARVE_ADMIN_URL ?? 'http://127.0.0.1:9090', token: process.env.CARVE_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN },
        ownershipPropagationMs: process.env.CARVE_OWNERSHIP_PROPAGATION_MS ? Number(process.env.CARVE_OWNERSHIP_PROPAGATION_MS) : undefined,
        log: (line) => process.stderr.write(`${line}\n`),
      });
    } catch (err) {
      throw new CliError(`cannot reach the control plane: ${(err as Error).message}`, 'is DATABASE_URL right and the database up? (`carve dev` starts the embedded one)');
    }
    return await fn(carving);
  } catch (err) {
    throw toCliError(err);
  } finally {
    await carving?.close();
    await db.stop();
  }
}

function toCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof CarvingError) return new CliError(err.message, err.hint);
  if (err instanceof ContextBusyError) return new CliError(err.message, 'wait for it to finish (or find who runs it: `carve status`), then try again');
  if (err instanceof BackfillBusyError) return new CliError(err.message, 'wait for it to finish; a killed run resumes from its checkpoint when started again');
  const code = (err as { code?: string }).code;
  if (code === '42P01' || code === '3F000') {
    return new CliError(`a table is missing: ${(err as Error).message}`, 'are both schemas migrated? (the monolith migrates at boot; the service: `carve db provision <schema>` then its migrations)');
  }
  return err;
}

const ago = (iso: string | null) => (iso ? `${formatDuration(Date.now() - Date.parse(iso))} ago` : '-');
const out = (line = '') => process.stdout.write(`${line}\n`);

function printRoutes(routes: RouteChange[]): void {
  for (const r of routes) {
    const to = r.after.mode === 'canary' ? `canary ${r.after.percent}%` : r.after.mode;
    out(`  route ${r.routeId}: ${to}${r.version === null ? ' (already)' : ` (control plane version ${r.version})`}`);
  }
  if (routes.some((r) => r.version !== null)) out('  every gateway replica applies it within 2 s');
}

function printVerify(ctx: CarvableContext, r: VerifyResult): void {
  for (const p of r.projections) {
    const state = p.drifted.length ? `DRIFT in ${p.drifted.length} workspace(s)` : 'no drift';
    out(`${p.name.padEnd(14)} monolith ${formatCount(p.monolithRows).padStart(11)}  service ${formatCount(p.serviceRows).padStart(11)}  ${state}${p.settled ? `  (${p.settled} in flight, settled)` : ''}`);
    for (const d of p.drifted) {
      out(`  workspace ${d.workspaceId}: monolith ${d.monolith.count} rows, service ${d.service.count} rows`);
      const list = (what: string, ids: string[], n: number) => {
        if (n) out(`    ${what} (${n}): ${ids.join(' ')}${n > ids.length ? ' ...' : ''}`);
      };
      list('missing in the service', d.missing, d.counts.missing);
      list('only in the service', d.extra, d.counts.extra);
      list('different', d.different, d.counts.different);
    }
  }
  out(`${r.workspaces} workspace(s) compared in ${formatDuration(r.ms)}; ${r.ok ? 'no drift' : `drift in ${r.driftedWorkspaces} workspace(s)`} (run #${r.runId ?? '-'} of ${ctx.name})`);
}

function printStatus(s: ContextStatus): void {
  const st = s.stage;
  out(`${s.context}${s.registered ? '' : ' (no descriptor loaded)'}: ${st.stage}${st.stage === 'canary' ? ` ${st.canaryPercent}%` : ''}   writes owned by ${st.owner}` +
    (st.updatedAt ? `   since ${st.updatedAt} (${ago(st.updatedAt)}) by ${st.updatedBy}: ${st.reason}` : ''));
  if (!s.registered) return;
  out(`  gateway     ${s.gateway.reachable ? `reachable at ${s.gateway.url} (control plane version ${s.gateway.controlVersion})` : `not reachable (${s.gateway.error}); showing the control plane's overrides`}`);
  for (const r of s.routes) {
    const eff = r.effective.mode === 'canary' ? `canary ${r.effective.percent}%` : r.effective.mode;
    const exp = r.expected.mode === 'canary' ? `canary ${r.expected.percent}%` : r.expected.mode;
    const shadow = r.shadow ? `  shadow mismatches ${r.shadow.mismatches}/${r.shadow.compared}` : '';
    out(`  route       ${r.id.padEnd(16)} ${r.kind.padEnd(5)} ${eff.padEnd(12)} ${r.matchesStage ? '' : `(stage says ${exp}!) `}[${r.effective.source}]${shadow}${r.storedMismatches ? `  ${r.storedMismatches} sample(s) stored` : ''}`);
  }
  const lag = (what: string, l: ContextStatus['lag']['forward']) => {
    if (!l) return;
    if (l.error) return out(`  ${what.padEnd(11)} unknown: ${l.error}`);
    out(`  ${what.padEnd(11)} ${l.from} → ${l.to} (${l.group}): ${l.pending} pending, ${l.unpublished} unpublished${l.pending ? `, oldest ${formatDuration(l.oldestPendingMs)}` : ''}`);
  };
  lag('sync fwd', s.lag.forward);
  lag('sync rev', s.lag.reverse);
  const v = s.lastVerify;
  out(`  verify      ${v ? `${v.ok ? 'no drift' : `DRIFT in ${v.drifted} workspace(s)`} over ${v.workspaces} workspace(s)${v.scope ? ` (only ${v.scope})` : ''}, ${ago(v.finishedAt)} (run #${v.id} by ${v.actor ?? '?'})` : 'never run'}`);
  for (const d of v?.drift.slice(0, 5) ?? []) out(`              ${d.projection} in ${d.workspaceId}: ${d.missing} missing, ${d.extra} extra, ${d.different} different`);
  out(`  mismatches  ${s.mismatchRate === null ? 'rate unknown (gateway not reachable)' : `${(s.mismatchRate * 100).toFixed(2)}% of shadow comparisons (this gateway replica)`}`);
  const cps = s.checkpoints;
  out(`  backfill    ${cps.length ? cps.map((c) => `${c.source} ${c.finishedAt ? '✓' : '…'} ${formatCount(c.rowsDone)}`).join(', ') : 'not run'}`);
}

export function registerCarving(program: Command): void {
  const common = (cmd: Command) =>
    cmd.option('--actor <name>', 'who (kept in the audit; default CARVE_ACTOR, else your user name)').option('--database-url <url>', 'admin connection (default DATABASE_URL, else the embedded Postgres)');

  common(
    program
      .command('backfill <context>')
      .description("copy what exists in the monolith into the context's service, in batches, while forward sync runs (resumable, idempotent)")
      .option('--max-rows-per-second <n>', 'throttle', whole('--max-rows-per-second'))
      .option('--batch-size <n>', 'rows per batch (default 10000)', whole('--batch-size'))
      .option('--restart', 'forget the checkpoints and copy everything again')
      .option('--source <name>', 'only this source (repeatable)', collect),
  ).action(async (name: string, opts: Common & { maxRowsPerSecond?: number; batchSize?: number; restart?: boolean; source?: string[] }) => {
    const ctx = contextOr404(name);
    await withCarving(opts, async (carving) => {
      const bars = new Map<string, ProgressBar>();
      const { report, stage } = await carving.backfill(ctx, {
        batchSize: opts.batchSize,
        maxRowsPerSecond: opts.maxRowsPerSecond,
        restart: opts.restart,
        sources: opts.source,
        onProgress: (p) => {
          let bar = bars.get(p.source);
          if (!bar) bars.set(p.source, (bar = new ProgressBar(`backfill ${p.source}`.padEnd(24), p.total)));
          if (p.done) bar.finish(p.rowsDone);
          else bar.update(p.rowsDone, p.total);
        },
      });
      for (const s of report.sources) {
        out(s.skipped
          ? `${s.name}: already complete (${formatCount(s.resumedAfterRows)} rows); --restart copies again`
          : `${s.name}: ${formatCount(s.rows)} rows in ${formatDuration(s.ms)} (${formatCount(s.ms ? (s.rows * 1000) / s.ms : 0)} rows/s), ${formatCount(s.rowsWritten)} written${s.resumedAfterRows ? `, resumed after ${formatCount(s.resumedAfterRows)}` : ''}${s.conflictRetries ? `, ${s.conflictRetries} batch(es) written again after losing a deadlock to forward sync` : ''}`);
      }
      out(`${ctx.name}: ${report.complete ? 'backfill complete' : 'backfill incomplete'}; stage ${stage.stage}`);
      if (report.complete) out(`next: \`carve verify ${ctx.name}\`, then \`carve stage ${ctx.name} shadow\``);
    });
  });

  common(
    program
      .command('verify <context>')
      .description('compare the monolith and the service per workspace over a canonical projection; exits 1 on drift')
      .option('--workspace <id>', 'only this workspace (repeatable)', collect)
      .option('--json', 'print the result as JSON'),
  ).action(async (name: string, opts: Common & { workspace?: string[]; json?: boolean }) => {
    const ctx = contextOr404(name);
    const result = await withCarving(opts, async (carving) => {
      const bars = new Map<string, ProgressBar>();
      return carving.verify(ctx, {
        workspaces: opts.workspace,
        onProgress: (p) => {
          if (p.phase !== 'checksum') return;
          let bar = bars.get(p.projection);
          if (!bar) bars.set(p.projection, (bar = new ProgressBar(`verify ${p.projection} (workspaces)`.padEnd(32), p.workspaces)));
          if (p.workspacesDone >= p.workspaces) bar.finish(p.workspacesDone);
          else bar.update(p.workspacesDone);
        },
      });
    });
    if (opts.json) out(JSON.stringify(result, null, 2));
    else printVerify(ctx, result);
    if (!result.ok) {
      throw new CliError(
        `drift in ${result.driftedWorkspaces} workspace(s) of ${ctx.name}`,
        `if a backfill is still running or forward sync lags, wait and run \`carve verify ${ctx.name}\` again; else \`carve backfill ${ctx.name} --restart\` re-copies (the version guard keeps newer rows)`,
      );
    }
  });

  common(
    program
      .command('stage <context> <stage>')
      .description('move a context to shadow | canary --percent P | reads | complete: its gateway routes follow (audited)')
      .option('--percent <p>', 'canary percent, 0 to 100')
      .option('--reason <text>', 'why (kept in the audit)'),
  ).action(async (name: string, stageArg: string, opts: Common & { percent?: string; reason?: string }) => {
    const ctx = contextOr404(name);
    const to = parseStageArg(stageArg);
    if (!to) throw new CliError(`unknown stage "${stageArg}"`, 'use shadow, canary --percent P, reads or complete (writes move with `carve cutover`; back with `carve rollback`)');
    let percent: number | undefined;
    if (opts.percent !== undefined) {
      percent = Number(opts.percent);
      if (!Number.isFinite(percent)) throw new CliError(`--percent must be a number from 0 to 100, got "${opts.percent}"`);
    }
    await withCarving(opts, async (carving) => {
      const r = await carving.moveTo(ctx, to, { percent, reason: opts.reason ?? `carve stage ${stageArg}` });
      out(`${ctx.name}: ${r.change.before.stage} → ${r.change.after.stage}${to === 'canary' ? ` (${percent}%)` : ''}`);
      printRoutes(r.routes);
      const next: Record<string, string> = {
        shadow: `watch \`carve status ${ctx.name}\` (mismatch rate), then \`carve stage ${ctx.name} canary --percent 10\``,
        canary: `raise --percent while errors and mismatches stay low, then \`carve stage ${ctx.name} reads\``,
        'reads-switched': `\`carve cutover ${ctx.name} --writes\` when ready (it verifies first)`,
        complete: 'the service owns the context; the reverse sync may be retired',
      };
      if (next[to]) out(`next: ${next[to]}`);
    });
  });

  common(
    program
      .command('cutover <context>')
      .description('make the service the source of truth (writes), after a fresh verify; the monolith follows by reverse sync')
      .option('--writes', 'cut the writes over (required: say it)')
      .option('--reason <text>', 'why (kept in the audit)'),
  ).action(async (name: string, opts: Common & { writes?: boolean; reason?: string }) => {
    const ctx = contextOr404(name);
    if (!opts.writes) throw new CliError('say what to cut over', `\`carve cutover ${ctx.name} --writes\``);
    await withCarving(opts, async (carving) => {
      const r = await carving.cutoverWrites(ctx, {
        reason: opts.reason ?? 'carve cutover --writes',
        verify: { onProgress: (p) => p.phase === 'checksum' && p.workspacesDone === p.workspaces && process.stderr.write(`verified ${p.projection}: ${p.workspaces} workspace(s)\n`) },
      });
      out(`${ctx.name}: writes cut over; ${ctx.service} is the source of truth (verify run #${r.verify.runId}: no drift)`);
      out(`  reverse sync (${ctx.reverseSync.group}): ${r.reverseSync === 'live' ? 'running' : 'cannot be seen from Postgres (Kafka): make sure the monolith runs with CARVE_REVERSE_SYNC=true'}`);
      printRoutes(r.routes);
      out(`next: soak, watch \`carve status ${ctx.name}\` (reverse lag); \`carve stage ${ctx.name} complete\` when done, \`carve rollback ${ctx.name}\` if not`);
    });
  });

  common(
    program
      .command('rollback <context>')
      .description('routes and ownership back to the monolith in one step, from any stage, losing no acknowledged write')
      .option('--reason <text>', 'why (kept in the audit)', 'rollback')
      .option('--timeout <seconds>', 'how long to wait for the reverse sync to catch up (default 60)', whole('--timeout'))
      .option('--force', 'do not wait for the reverse sync (writes still pending in the service are applied late, or lost)'),
  ).action(async (name: string, opts: Common & { reason: string; timeout?: number; force?: boolean }) => {
    const ctx = contextOr404(name);
    await withCarving(opts, async (carving) => {
      let last = -1;
      const r = await carving.rollback(ctx, {
        reason: opts.reason,
        force: opts.force,
        drainTimeoutMs: (opts.timeout ?? 60) * 1000,
        onPoll: (l) => {
          if (l.pending !== last) process.stderr.write(`reverse sync: ${l.pending} event(s) of ${l.from} not yet in the monolith\n`);
          last = l.pending;
        },
      });
      out(`${ctx.name}: rolled back from ${r.from} to ${r.change.after.stage} in ${formatDuration(r.waitedMs)}; the monolith serves and owns everything again`);
      if (r.drained) out(`  reverse sync caught up: nothing of ${r.drained.from} is pending`);
      else if (opts.force) out('  --force: did not wait for the reverse sync');
      printRoutes(r.routes);
      out(`next: \`carve verify ${ctx.name}\` to check the monolith holds everything; find the cause before carving again`);
    });
  });

  common(
    program
      .command('status [context]')
      .description('stage, routes (effective mode and percent), sync lag both ways, last verify, shadow mismatch rate; every context without one')
      .option('--json', 'print JSON'),
  ).action(async (name: string | undefined, opts: Common & { json?: boolean }) => {
    const targets: Array<CarvableContext | string> = name ? [contextOr404(name)] : [];
    await withCarving(opts, async (carving) => {
      if (!name) {
        const registered = knownContexts();
        targets.push(...registered);
        for (const known of await carving.knownContexts()) if (!registered.some((c) => c.name === known)) targets.push(known);
      }
      const all: ContextStatus[] = [];
      for (const t of targets) all.push(await carving.status(t));
      if (opts.json) return out(JSON.stringify(name ? all[0] : all, null, 2));
      if (all.length === 0) return out('no carvable context is known');
      all.forEach((s, i) => {
        if (i) out();
        printStatus(s);
      });
    });
  });
}
