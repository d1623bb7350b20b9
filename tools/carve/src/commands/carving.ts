/**
 * Carving a context out of the monolith (docs/runbooks/carving-a-context.md):
 *
 *   carve backfill <context> [--max-rows-per-second N] [--batch-size N] [--restart | --workspace W[,W2] | --cohort NAME]
 *   carve verify <context> [--workspace W]... [--json]
 *   carve stage <context> shadow | canary --percent P | reads | complete [--reason R]
 *   carve stage <context> canary --ramp 1,5,25,50 --every 10m [--reason R]
 *   carve ramp <context> [status | pause | resume | stop] [--reason R] [--json]
 *   carve stage <context> reads | complete --workspace W[,W2] | --cohort NAME
 *   carve cutover <context> --writes [--workspace W[,W2] | --cohort NAME | --include-overrides] [--reason R]
 *   carve rollback <context> [--workspace W[,W2] | --cohort NAME] [--reason R] [--timeout S]
 *   carve status [<context>] [--json]
 *   carve cohort set <name> <W1,W2,...> | list | delete <name>
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
  formatRampInterval,
  parseRampInterval,
  parseRampSteps,
  parseStageArg,
  RampError,
  type RampRecord,
  type RouteChange,
  RouteRefusedError,
  COHORT_NAME,
  deleteCohort,
  getCohort,
  listCohorts,
  normaliseWorkspaceIds,
  setCohort,
  type VerifyResult,
  type WorkspacesResult,
} from '@carve/shared-carving';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { transportKindFromEnv } from '@carve/shared-messaging';
import { formatCount, formatDuration, ProgressBar } from '@carve/shared-progress';
import { resolveDatabase } from '@carve/shared-persistence';
import { knownContexts, lookupContext } from '../carving/contexts';
import { CliError, EXIT } from '../cli-error';
import { type CopyFlags, copyOptionsOf, heldBackNote, slowedNote, whole, withCopyFlags } from '../copy-flags';

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
    EXIT.usage,
  );
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface Selection {
  workspace?: string[];
  cohort?: string;
}

/** Adds --workspace and --cohort: a per-workspace move instead of the whole context's. */
const selecting = (cmd: Command) =>
  cmd
    .option('--workspace <ids>', 'only these workspaces (comma-separated, repeatable): the others stay where the context is', collect)
    .option('--cohort <name>', 'only the workspaces of this cohort (`carve cohort list`)');

const perWorkspace = (o: Selection) => o.workspace !== undefined || o.cohort !== undefined;

/** The --workspace ids (comma-separated, repeatable), checked before anything connects. */
function listedWorkspaces(o: Selection): string[] {
  const listed = normaliseWorkspaceIds((o.workspace ?? []).flatMap((w) => w.split(',')));
  if (o.workspace !== undefined && listed.length === 0) throw new CliError('--workspace needs at least one workspace id', 'e.g. --workspace 3f2a...,9c1b...', EXIT.usage);
  return listed;
}

/** The workspaces a command names (--workspace, --cohort: their union), or null for the whole context. */
async function selectedWorkspaces(carving: Carving, o: Selection): Promise<string[] | null> {
  if (!perWorkspace(o)) return null;
  const listed = listedWorkspaces(o);
  if (o.cohort === undefined) return listed;
  const cohort = await getCohort(carving.cp.pool, o.cohort);
  if (!cohort) throw new CliError(`no cohort "${o.cohort}"`, 'see `carve cohort list`; make one with `carve cohort set <name> W1,W2`', EXIT.usage);
  return normaliseWorkspaceIds([...listed, ...cohort.workspaces]);
}

const routeSides = (routes: ReadonlyArray<{ routeId: string; side: string }>) => routes.map((r) => `${r.routeId} → ${r.side}`).join(', ');

function printWorkspaces(r: WorkspacesResult): void {
  for (const w of r.workspaces) {
    const follows = w.change.followsContext ? " (the context's stage: it follows the context again)" : '';
    const fenced = w.handover ? `; fenced handover: its writes refused for ${fenceWindow(w.handover.fenceMs ?? 0)}` : '';
    out(`  workspace ${w.workspaceId}: ${w.from} → ${w.to}${follows}${fenced}; routes ${routeSides(w.change.routes)}`);
  }
  out('  every gateway replica routes them so within 2 s');
}

/** Opens the machinery on DATABASE_URL (or --database-url, or the embedded Postgres) and always closes it. */
async function withCarving<T>(o: Common, fn: (carving: Carving) => Promise<T>, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<T> {
  const db = o.databaseUrl ? { url: o.databaseUrl, stop: async () => undefined } : await resolveDatabase();
  let carving: Carving | undefined;
  try {
    try {
      carving = await Carving.connect({
        url: db.url,
        actor: actorOf(o),
        transport: transportKindFromEnv(),
        gateway: { url: process.env.CARVE_ADMIN_URL ?? 'http://127.0.0.1:9090', token: process.env.CARVE_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN },
        fenceTtlMs: process.env.CARVE_FENCE_TTL_MS ? Number(process.env.CARVE_FENCE_TTL_MS) : undefined,
        log,
      });
    } catch (err) {
      throw new CliError(`cannot reach the control plane: ${(err as Error).message}`, 'is DATABASE_URL right and the database up? (`npx carve dev` starts the embedded one)', EXIT.unreachable);
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
  if (err instanceof CarvingError) {
    const exit = err.code === 'workspace_overrides' ? EXIT.overrides : err.code === 'usage' ? EXIT.usage : EXIT.refused;
    return new CliError(err.message, err.hint, exit);
  }
  if (err instanceof RouteRefusedError) return new CliError(`${err.message} [${err.code}]`, err.hint, EXIT.refused);
  if (err instanceof ContextBusyError) return new CliError(err.message, 'wait for it to finish (or find who runs it: `carve status`), then try again', EXIT.refused);
  if (err instanceof RampError) return new CliError(err.message, err.hint, err.code === 'bad_ramp' ? EXIT.usage : EXIT.refused);
  if (err instanceof BackfillBusyError) return new CliError(err.message, 'wait for it to finish; a killed run resumes from its checkpoint when started again', EXIT.refused);
  const code = (err as { code?: string }).code;
  if (code === '42P01' || code === '3F000') {
    return new CliError(`a table is missing: ${(err as Error).message}`, 'are both schemas migrated? (the monolith migrates at boot; the service: `carve db provision <schema>` then its migrations)');
  }
  return err;
}

const ago = (iso: string | null) => (iso ? `${formatDuration(Date.now() - Date.parse(iso))} ago` : '-');
const out = (line = '') => process.stdout.write(`${line}\n`);
const printJson = (value: unknown) => out(JSON.stringify(value, null, 2));
/** The machinery's log lines (stderr), without the one a command prints itself as its result (stdout). */
const logExcept = (own: RegExp) => (line: string) => {
  if (!own.test(line)) process.stderr.write(`${line}\n`);
};

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

/** A fence window: milliseconds, where a rounded `0s` would hide it. */
const fenceWindow = (ms: number) => (ms < 10_000 ? `${Math.round(ms)} ms` : formatDuration(ms));

function printStatus(s: ContextStatus): void {
  const st = s.stage;
  out(`${s.context}${s.registered ? '' : ' (no descriptor loaded)'}: ${st.stage}${st.stage === 'canary' ? ` ${st.canaryPercent}%` : ''}   writes owned by ${st.owner}` +
    (st.updatedAt ? `   since ${st.updatedAt} (${ago(st.updatedAt)}) by ${st.updatedBy}: ${st.reason}` : ''));
  if (!s.registered) return;
  const w = s.workspaces;
  const groups = w.byStage
    .filter((g) => g.count > 0 || g.followsContext)
    .map((g) => `${g.count} at ${g.stage}${g.followsContext ? " (the context's)" : ` (${g.workspaces.slice(0, 10).join(', ')}${g.count > 10 ? ', ...' : ''})`}`);
  out(`  workspaces  ${w.total ?? '?'} in all: ${groups.join(', ')}; ${w.complete ? 'every one complete' : 'not complete'}${w.error ? ` (could not list them: ${w.error})` : ''}`);
  const h = s.handover;
  if (h.open) {
    out(`  handover    IN PROGRESS: ${h.open.command}${h.open.scope === '*' ? '' : ` of workspace ${h.open.scope}`} to the ${h.open.to}, phase ${h.open.phase}, started ${ago(h.open.startedAt)} by ${h.open.actor}; the fence lifts by itself at ${h.open.fenceDeadline}`);
    out(`              next: \`npx carve ${h.open.command === 'cutover' ? `cutover ${s.context} --writes` : `rollback ${s.context}`}\` ends it (undone before the flip, finished after)`);
  } else if (h.last) {
    out(`  handover    last: ${h.last.command}${h.last.scope === '*' ? '' : ` of workspace ${h.last.scope}`} to the ${h.last.to} ${h.last.phase}${h.last.fenceMs !== null ? `, writes refused for ${fenceWindow(h.last.fenceMs)}` : ''}, ${ago(h.last.finishedAt ?? h.last.startedAt)}${h.last.error ? ` (${h.last.error})` : ''}`);
  }
  out(`  gateway     ${s.gateway.reachable ? `reachable at ${s.gateway.url} (control plane version ${s.gateway.controlVersion})` : `not reachable (${s.gateway.error}); showing the control plane's overrides`}`);
  for (const r of s.routes) {
    const eff = r.effective.mode === 'canary' ? `canary ${r.effective.percent}%` : r.effective.mode;
    const exp = r.expected.mode === 'canary' ? `canary ${r.expected.percent}%` : r.expected.mode;
    const shadow = r.shadow ? `  shadow mismatches ${r.shadow.mismatches}/${r.shadow.compared}` : '';
    const ws = r.workspaces && r.workspaces.service + r.workspaces.monolith > 0 ? `  per workspace: ${r.workspaces.service} → service, ${r.workspaces.monolith} → monolith` : '';
    out(`  route       ${r.id.padEnd(16)} ${r.kind.padEnd(5)} ${eff.padEnd(12)} ${r.matchesStage ? '' : `(stage says ${exp}!) `}[${r.effective.source}]${shadow}${ws}${r.storedMismatches ? `  ${r.storedMismatches} sample(s) stored` : ''}`);
  }
  const rep = s.replicas;
  const agree = rep.agreement;
  out(`  replicas    ${agree.live} live${rep.stale ? `, ${rep.stale} not seen lately` : ''}${agree.live > 1 ? (agree.agree ? ', serving the same route table' : `, NOT serving the same route table (${agree.tableHashes.join(', ')})`) : ''}${agree.live > 1 && !agree.sameControlVersion ? `; control versions ${agree.controlVersions.join(', ')}` : ''}`);
  for (const r of rep.live) {
    out(`              ${r.replicaId} on ${r.hostname} (pid ${r.pid}): table ${r.tableHash}, control version ${r.controlVersion}, seen ${formatDuration(r.ageMs)} ago${r.missingRoutes.length ? `; does NOT serve ${r.missingRoutes.join(', ')}` : ''}`);
  }
  const g = s.guard;
  if (g.degraded) out(`  guard       DEGRADED: the guard kept a write route on ${s.context}'s service, which owns the writes (it never moves them to the monolith)`);
  for (const t of g.trips) {
    out(`  guard       ${t.routeId} ${t.action === 'degraded' ? 'failing on the service' : 'rolled back to the monolith'} at stage ${t.stage}, ${t.trips} trip(s), last ${ago(t.lastAt)}: ${t.reason}`);
  }
  if (g.next) out(`  next        ${g.next}`);
  if (s.ramp) out(`  ramp        ${describeRamp(s.ramp)}`);
  const lag = (what: string, l: ContextStatus['lag']['forward']) => {
    if (!l) return;
    if (l.error) return out(`  ${what.padEnd(11)} unknown: ${l.error}`);
    out(`  ${what.padEnd(11)} ${l.from} → ${l.to} (${l.group}): ${l.pending} pending, ${l.unpublished} unpublished${l.pending ? `, oldest ${formatDuration(l.oldestPendingMs)}` : ''}`);
  };
  lag('sync fwd', s.lag.forward);
  lag('sync rev', s.lag.reverse);
  if (s.registered) {
    const sides = [['service', s.conflicts.forward], ['monolith', s.conflicts.reverse]] as const;
    const open = sides.reduce((n, [, x]) => n + (x?.open ?? 0), 0);
    const unread = sides.filter(([, x]) => x?.error).map(([side, x]) => `${side} unknown: ${x!.error}`);
    const where = sides.filter(([, x]) => x?.open).map(([side, x]) => `${x!.open} on the ${side} (${x!.schema}.sync_conflicts)`);
    out(`  conflicts   ${open ? `${open} OPEN: ${where.join(', ')}; see docs/runbooks/sync-conflicts.md` : 'none open'}${unread.length ? `; ${unread.join('; ')}` : ''}`);
    for (const [side, x] of sides) {
      for (const k of x?.oldest ?? []) {
        out(`              ${side} #${k.id}: ${k.aggregateType} ${k.aggregateId} v${k.aggregateVersion} written by ${k.localOrigin} and by ${k.eventOrigin} (${k.eventType}), ${ago(new Date(k.detectedAt).toISOString())}`);
      }
    }
  }
  const v = s.lastVerify;
  out(`  verify      ${v ? `${v.ok ? 'no drift' : `DRIFT in ${v.drifted} workspace(s)`} over ${v.workspaces} workspace(s)${v.scope ? ` (only ${v.scope})` : ''}, ${ago(v.finishedAt)} (run #${v.id} by ${v.actor ?? '?'})` : 'never run'}`);
  for (const d of v?.drift.slice(0, 5) ?? []) out(`              ${d.projection} in ${d.workspaceId}: ${d.missing} missing, ${d.extra} extra, ${d.different} different`);
  out(`  mismatches  ${s.mismatchRate === null ? 'rate unknown (gateway not reachable)' : `${(s.mismatchRate * 100).toFixed(2)}% of shadow comparisons (this gateway replica)`}`);
  const cps = s.checkpoints;
  out(`  backfill    ${cps.length ? cps.map((c) => `${c.source} ${c.finishedAt ? '✓' : '…'} ${formatCount(c.rowsDone)}`).join(', ') : 'not run'}`);
}

/** One line: where the ramp is, what comes next and when, or why it paused. */
function describeRamp(r: RampRecord): string {
  const steps = r.steps.map((p, i) => (i === r.step ? `[${p}]` : `${p}`)).join(',');
  const at = `step ${r.step + 1} of ${r.steps.length} (${r.percent}%), steps ${steps}% every ${formatRampInterval(r.everyMs)}`;
  const next = r.next ? `; next ${r.next.percent}%${r.next.at ? ` at ${r.next.at} (in ${formatDuration(Math.max(0, Date.parse(r.next.at) - Date.now()))})` : ''}` : '';
  const why = r.pausedWhy ? `; ${r.pausedWhy}` : '';
  return `${r.state.toUpperCase()} ${at}${next}${why} (started by ${r.actor}: ${r.reason})`;
}

/** `carve stage <context> canary --ramp 1,5,25,50 --every 10m`. */
async function startRamp(ctx: CarvableContext, to: string, opts: Common & Selection & { percent?: string; ramp?: string; every?: string; reason?: string; ackGuardTrip?: boolean; json?: boolean }): Promise<void> {
  if (to !== 'canary') throw new CliError('--ramp and --every are for the canary stage', `e.g. \`carve stage ${ctx.name} canary --ramp 1,5,25,50 --every 10m\``, EXIT.usage);
  if (opts.ramp === undefined || opts.every === undefined) throw new CliError('a ramp needs both --ramp and --every', `e.g. \`carve stage ${ctx.name} canary --ramp 1,5,25,50 --every 10m\``, EXIT.usage);
  if (opts.percent !== undefined || perWorkspace(opts)) throw new CliError('--ramp takes no --percent, --workspace or --cohort: it ramps the whole context', undefined, EXIT.usage);
  let steps: number[];
  let everyMs: number;
  try {
    steps = parseRampSteps(opts.ramp);
    everyMs = parseRampInterval(opts.every);
  } catch (err) {
    throw toCliError(err);
  }
  await withCarving(opts, async (carving) => {
    const r = await carving.startRamp(ctx, { steps, everyMs, reason: opts.reason ?? `carve stage canary --ramp ${opts.ramp} --every ${opts.every}`, ackGuardTrip: opts.ackGuardTrip });
    if (opts.json) return printJson(r);
    out(`${ctx.name}: ${r.change.before.stage} → canary (${steps[0]}%), ramp ${steps.join(',')}% every ${formatRampInterval(everyMs)}`);
    printRoutes(r.routes);
    out(`  ramp        ${describeRamp(r.ramp)}`);
    out(`next: the gateways raise the percent on schedule (a guard trip pauses it); \`carve ramp ${ctx.name}\` shows it, \`carve ramp ${ctx.name} pause|resume|stop\` steers it`);
  }, logExcept(new RegExp(`^${ctx.name}: \\S+ → `)));
}

export function registerCarving(program: Command): void {
  const common = (cmd: Command) =>
    cmd.option('--actor <name>', 'who (kept in the audit; default CARVE_ACTOR, else your user name)').option('--database-url <url>', 'admin connection (default DATABASE_URL, else the embedded Postgres)');

  common(
    program
      .command('ramp <context> [action]')
      .description('a timed canary ramp (started by `carve stage <context> canary --ramp ... --every ...`): status (default), pause, resume or stop')
      .option('--reason <text>', 'why (kept in the audit)')
      .option('--json', 'print the ramp as JSON'),
  ).action(async (name: string, action: string | undefined, opts: Common & { reason?: string; json?: boolean }) => {
    const ctx = contextOr404(name);
    const act = action ?? 'status';
    if (!['status', 'pause', 'resume', 'stop'].includes(act)) throw new CliError(`unknown ramp action "${act}"`, 'use status, pause, resume or stop', EXIT.usage);
    await withCarving(opts, async (carving) => {
      const who = { actor: actorOf(opts), reason: opts.reason ?? `carve ramp ${act}` };
      const ramp =
        act === 'pause' ? await carving.ramps.pause(ctx.name, who)
        : act === 'resume' ? await carving.ramps.resume(ctx.name, who)
        : act === 'stop' ? await carving.ramps.stop(ctx.name, who)
        : await carving.ramps.get(ctx.name);
      if (!ramp) throw new RampError(`${ctx.name} has no ramp`, 'no_ramp', `start one: \`carve stage ${ctx.name} canary --ramp 1,5,25,50 --every 10m\``);
      if (opts.json) return printJson(ramp);
      out(`${ctx.name}: ramp ${describeRamp(ramp)}`);
    });
  });

  selecting(
    common(
      withCopyFlags(
        program
          .command('backfill <context>')
          .description("copy what exists in the monolith into the context's service (or only some workspaces': --workspace, --cohort), in batches, while forward sync runs (resumable, idempotent)"),
        "the monolith's or the service's database",
      )
        .option('--restart', 'forget the checkpoints and copy everything again')
        .option('--source <name>', 'only this source (repeatable)', collect)
        .option('--json', 'print the report and the stage as JSON'),
    ),
  ).action(async (name: string, opts: Common & Selection & CopyFlags & { restart?: boolean; source?: string[]; json?: boolean }) => {
    const ctx = contextOr404(name);
    const copy = copyOptionsOf(opts);
    if (perWorkspace(opts)) {
      listedWorkspaces(opts);
      if (opts.restart) throw new CliError('--restart is for the whole context: a backfill of some workspaces always copies them from the start', 'drop --restart', EXIT.usage);
    }
    await withCarving(opts, async (carving) => {
      const bars = new Map<string, ProgressBar>();
      const ws = await selectedWorkspaces(carving, opts);
      const { report, stage } = await carving.backfill(ctx, {
        ...(ws ? { workspaces: ws } : {}),
        ...copy,
        restart: opts.restart,
        sources: opts.source,
        onProgress: (p) => {
          const label = `backfill ${p.source}`.padEnd(24);
          let bar = bars.get(p.source);
          if (!bar) bars.set(p.source, (bar = new ProgressBar(label, p.total)));
          if (p.done) bar.finish(p.rowsDone);
          else bar.update(p.rowsDone, p.total, `${label}${slowedNote(p.throttle)}`);
        },
      });
      if (opts.json) return printJson({ context: ctx.name, report, stage });
      for (const s of report.sources) {
        out(s.skipped
          ? `${s.name}: already complete (${formatCount(s.resumedAfterRows)} rows); --restart copies again`
          : `${s.name}: ${formatCount(s.rows)} rows in ${formatDuration(s.ms)} (${formatCount(s.ms ? (s.rows * 1000) / s.ms : 0)} rows/s), ${formatCount(s.rowsWritten)} written${s.resumedAfterRows ? `, resumed after ${formatCount(s.resumedAfterRows)}` : ''}${s.conflictRetries ? `, ${s.conflictRetries} batch(es) written again after losing a deadlock to forward sync` : ''}${heldBackNote(s.throttledMs, s.slowedBy)}`);
      }
      if (ws) {
        out(`${ctx.name}: backfill of ${ws.length} workspace(s) ${report.complete ? 'complete' : 'incomplete'}; stage ${stage.stage} (unchanged)`);
        if (report.complete) out(`next: \`carve verify ${ctx.name} ${ws.map((w) => `--workspace ${w}`).join(' ')}\``);
        return;
      }
      out(`${ctx.name}: ${report.complete ? 'backfill complete' : 'backfill incomplete'}; stage ${stage.stage}`);
      if (report.complete) out(`next: \`carve verify ${ctx.name}\`, then \`carve stage ${ctx.name} shadow\``);
    });
  });

  common(
    program
      .command('verify <context>')
      .description(`compare the monolith and the service per workspace over a canonical projection; exits ${EXIT.drift} on drift`)
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
          if (!bar) bars.set(p.projection, (bar = new ProgressBar(`verify ${p.projection}`.padEnd(24), p.workspaces, { unit: 'workspaces' })));
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
        EXIT.drift,
      );
    }
  });

  selecting(
    common(
      program
        .command('stage <context> <stage>')
        .description('move a context to shadow | canary --percent P | reads | complete, or only some workspaces (--workspace, --cohort) to reads | complete: the gateway routes follow (audited)')
        .option('--percent <p>', 'canary percent, 0 to 100')
        .option('--ramp <percents>', 'canary: a timed ramp, e.g. 1,5,25,50: the first now, the next every --every (applied by the gateways; `carve ramp <context>`)')
        .option('--every <interval>', 'with --ramp: time between steps, e.g. 30s, 10m, 1h')
        .option('--ack-guard-trip', 'send a read route the guard rolled back to the service again (say so once its cause is found)')
        .option('--reason <text>', 'why (kept in the audit)')
        .option('--json', 'print the stage change and the routes as JSON'),
    ),
  ).action(async (name: string, stageArg: string, opts: Common & Selection & { percent?: string; ramp?: string; every?: string; reason?: string; ackGuardTrip?: boolean; json?: boolean }) => {
    const ctx = contextOr404(name);
    const to = parseStageArg(stageArg);
    if (!to) throw new CliError(`unknown stage "${stageArg}"`, 'use shadow, canary --percent P, reads or complete (writes move with `carve cutover`; back with `carve rollback`)', EXIT.usage);
    if (opts.ramp !== undefined || opts.every !== undefined) return startRamp(ctx, to, opts);
    let percent: number | undefined;
    if (opts.percent !== undefined) {
      percent = Number(opts.percent);
      if (!Number.isFinite(percent)) throw new CliError(`--percent must be a number from 0 to 100, got "${opts.percent}"`, undefined, EXIT.usage);
    }
    if (perWorkspace(opts)) {
      listedWorkspaces(opts);
      if (percent !== undefined) throw new CliError('--percent is for the whole context: a workspace has no canary of its own', `\`carve stage ${ctx.name} reads --workspace W\``, EXIT.usage);
    }
    await withCarving(opts, async (carving) => {
      const ws = await selectedWorkspaces(carving, opts);
      if (ws) {
        const r = await carving.moveWorkspaces(ctx, ws, to, { reason: opts.reason ?? `carve stage ${stageArg} --workspace` });
        if (opts.json) return printJson(r);
        out(`${ctx.name}: ${ws.length} workspace(s) → ${to}${r.verify ? ` (verify run #${r.verify.runId} of them: no drift)` : ''}`);
        printWorkspaces(r);
        if (to === 'reads-switched') out(`next: \`carve cutover ${ctx.name} --writes --workspace ${ws.join(',')}\` when ready (it verifies them first)`);
        return;
      }
      const r = await carving.moveTo(ctx, to, { percent, reason: opts.reason ?? `carve stage ${stageArg}`, ackGuardTrip: opts.ackGuardTrip });
      if (opts.json) return printJson(r);
      out(`${ctx.name}: ${r.change.before.stage} → ${r.change.after.stage}${to === 'canary' ? ` (${percent}%)` : ''}`);
      printRoutes(r.routes);
      const next: Record<string, string> = {
        shadow: `watch \`carve status ${ctx.name}\` (mismatch rate), then \`carve stage ${ctx.name} canary --percent 10\``,
        canary: `raise --percent while errors and mismatches stay low, then \`carve stage ${ctx.name} reads\``,
        'reads-switched': `\`carve cutover ${ctx.name} --writes\` when ready (it verifies first)`,
        complete: 'the service owns the context; the reverse sync may be retired',
      };
      if (next[to]) out(`next: ${next[to]}`);
    }, logExcept(new RegExp(`^${ctx.name}: \\S+ → `)));
  });

  selecting(
    common(
      program
        .command('cutover <context>')
        .description('make the service the source of truth (writes) of the context, or of some workspaces (--workspace, --cohort), after a fresh verify; the monolith follows by reverse sync')
        .option('--writes', 'cut the writes over (required: say it)')
        .option('--include-overrides', 'the whole context: move workspaces held on the monolith at a stage of their own too (else refused, exit 6)')
        .option('--reason <text>', 'why (kept in the audit)')
        .option('--json', 'print the result (verify run, handover, routes) as JSON'),
    ),
  ).action(async (name: string, opts: Common & Selection & { writes?: boolean; includeOverrides?: boolean; reason?: string; json?: boolean }) => {
    const ctx = contextOr404(name);
    if (!opts.writes) throw new CliError('say what to cut over', `\`carve cutover ${ctx.name} --writes\``, EXIT.usage);
    const verifyProgress = { onProgress: (p: { phase: string; workspacesDone: number; workspaces: number; projection: string }) => p.phase === 'checksum' && p.workspacesDone === p.workspaces && process.stderr.write(`verified ${p.projection}: ${p.workspaces} workspace(s)\n`) };
    if (perWorkspace(opts)) {
      listedWorkspaces(opts);
      if (opts.includeOverrides) throw new CliError('--include-overrides is for a whole-context cutover', 'drop it, or drop --workspace/--cohort', EXIT.usage);
    }
    await withCarving(opts, async (carving) => {
      const ws = await selectedWorkspaces(carving, opts);
      if (ws) {
        const r = await carving.cutoverWorkspaces(ctx, ws, { reason: opts.reason ?? 'carve cutover --writes --workspace', verify: verifyProgress });
        if (opts.json) return printJson(r);
        out(`${ctx.name}: writes of ${ws.length} workspace(s) cut over; ${ctx.service} is their source of truth (verify run #${r.verify?.runId} of them: no drift)`);
        printWorkspaces(r);
        out(`next: soak, watch \`carve status ${ctx.name}\`; \`carve rollback ${ctx.name} --workspace ${ws.join(',')}\` if not`);
        return;
      }
      const r = await carving.cutoverWrites(ctx, {
        reason: opts.reason ?? 'carve cutover --writes',
        includeOverrides: opts.includeOverrides,
        verify: verifyProgress,
      });
      if (opts.json) return printJson(r);
      out(`${ctx.name}: writes cut over; ${ctx.service} is the source of truth (verify run #${r.verify.runId}: no drift)`);
      if (r.handover) out(`  fenced handover: writes refused for ${fenceWindow(r.handover.fenceMs ?? 0)} while the service caught up`);
      out(`  reverse sync (${ctx.reverseSync.group}): ${r.reverseSync === 'live' ? 'running' : 'cannot be seen from Postgres (Kafka): make sure the monolith runs with CARVE_REVERSE_SYNC=true'}`);
      printRoutes(r.routes);
      out(`next: soak, watch \`carve status ${ctx.name}\` (reverse lag); \`carve stage ${ctx.name} complete\` when done, \`carve rollback ${ctx.name}\` if not`);
    });
  });

  selecting(
    common(
      program
        .command('rollback <context>')
        .description('routes and ownership back to the monolith in one step, from any stage, losing no acknowledged write: the whole context (every workspace) or some workspaces (--workspace, --cohort)')
        .option('--reason <text>', 'why (kept in the audit)', 'rollback')
        .option('--timeout <seconds>', 'how long writes may stay fenced while the reverse sync catches up; past it the rollback is undone (default 10)', whole('--timeout'))
        .option('--json', 'print the result (from, stage change, handover, routes) as JSON'),
    ),
  ).action(async (name: string, opts: Common & Selection & { reason: string; timeout?: number; json?: boolean }) => {
    const ctx = contextOr404(name);
    listedWorkspaces(opts);
    await withCarving(opts, async (carving) => {
      let last = -1;
      const drain = {
        drainTimeoutMs: (opts.timeout ?? 10) * 1000,
        onPoll: (l: { pending: number; from: string }) => {
          if (l.pending !== last) process.stderr.write(`reverse sync: ${l.pending} event(s) of ${l.from} not yet in the monolith\n`);
          last = l.pending;
        },
      };
      const ws = await selectedWorkspaces(carving, opts);
      if (ws) {
        const r = await carving.rollbackWorkspaces(ctx, ws, { reason: opts.reason, ...drain });
        if (opts.json) return printJson(r);
        out(`${ctx.name}: ${ws.length} workspace(s) rolled back; the monolith serves and owns them again, the other workspaces are untouched`);
        printWorkspaces(r);
        out(`next: \`carve verify ${ctx.name} ${ws.map((w) => `--workspace ${w}`).join(' ')}\`; find the cause before carving them again`);
        return;
      }
      const r = await carving.rollback(ctx, { reason: opts.reason, ...drain });
      if (opts.json) return printJson(r);
      out(`${ctx.name}: rolled back from ${r.from} to ${r.change.after.stage} in ${formatDuration(r.waitedMs)}; the monolith serves and owns everything again`);
      if (r.handover) out(`  fenced handover: the reverse sync caught up; writes refused for ${fenceWindow(r.handover.fenceMs ?? 0)}`);
      printRoutes(r.routes);
      out(`next: \`carve verify ${ctx.name}\` to check the monolith holds everything; find the cause before carving again`);
    }, logExcept(new RegExp(`^${ctx.name}: rolled back from `)));
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

  const cohort = program.command('cohort').description('named lists of workspaces (internal, wave-1, ...) that stage, cutover and rollback take as --cohort NAME');
  common(
    cohort
      .command('set <name> <workspaces>')
      .description('create or replace a cohort: a comma-separated list of workspace ids')
      .option('--reason <text>', 'why (kept in the audit)')
      .option('--json', 'print the cohort as JSON'),
  ).action(async (cohortName: string, list: string, opts: Common & { reason?: string; json?: boolean }) => {
    if (!COHORT_NAME.test(cohortName)) throw new CliError(`a cohort name is lower-case kebab-case, got "${cohortName}"`, 'e.g. `carve cohort set internal W1,W2`', EXIT.usage);
    const workspaces = normaliseWorkspaceIds(list.split(','));
    if (workspaces.length === 0) throw new CliError('a cohort needs at least one workspace id', `\`carve cohort set ${cohortName} W1,W2\``, EXIT.usage);
    await withCarving(opts, async (carving) => {
      const r = await setCohort(carving.cp.pool, cohortName, workspaces, { actor: actorOf(opts), reason: opts.reason ?? 'carve cohort set' });
      if (opts.json) return printJson(r.after);
      out(`cohort ${cohortName}: ${workspaces.length} workspace(s)${r.before ? ` (was ${r.before.workspaces.length})` : ' (new)'}: ${workspaces.join(', ')}`);
      out(`next: \`carve stage <context> reads --cohort ${cohortName}\``);
    });
  });
  common(cohort.command('list').description('every cohort and its workspaces').option('--json', 'print JSON')).action(async (opts: Common & { json?: boolean }) => {
    await withCarving(opts, async (carving) => {
      const all = await listCohorts(carving.cp.pool);
      if (opts.json) return printJson(all);
      if (all.length === 0) return out('no cohort yet: `carve cohort set <name> W1,W2`');
      for (const c of all) out(`${c.name.padEnd(16)} ${String(c.workspaces.length).padStart(4)} workspace(s): ${c.workspaces.join(', ')}   (${ago(c.updatedAt)} by ${c.updatedBy}: ${c.reason})`);
    });
  });
  common(
    cohort.command('delete <name>').description('forget a cohort (the workspaces stay where they are)').option('--reason <text>', 'why (kept in the audit)').option('--json', 'print JSON'),
  ).action(async (cohortName: string, opts: Common & { reason?: string; json?: boolean }) => {
    await withCarving(opts, async (carving) => {
      const deleted = await deleteCohort(carving.cp.pool, cohortName, { actor: actorOf(opts), reason: opts.reason ?? 'carve cohort delete' });
      if (opts.json) return printJson({ name: cohortName, deleted });
      if (!deleted) throw new CliError(`no cohort "${cohortName}"`, 'see `carve cohort list`', EXIT.usage);
      out(`cohort ${cohortName} deleted`);
    });
  });
}
