/**
 * The carving of one context, end to end: stages (with the routes and the ownership each
 * implies), backfill and verify (recorded), the cutover of writes, the rollback, the status.
 * Generic over the CarvableContext descriptor; the CLI is a thin layer over this.
 *
 * Cutover of writes (from reads-switched only):
 *   1. a fresh verify must show no drift;
 *   2. the monolith's reverse-sync consumer should be running (checked on the Postgres
 *      transport; on Kafka the group lives in the broker and is reported as unconfirmed);
 *   3. the fenced handover of the writes to the service (handover.ts): fence both sides, drain
 *      the monolith's events into the service by position, flip the owners in both databases,
 *      then the write routes and the stage (writes-switched), then lift the fence.
 *
 * Rollback (from any stage, one command):
 *   - if the service owns writes: the fenced handover back to the monolith (drain the service's
 *     events into the monolith by position, flip), with every route of the context to the
 *     monolith and the stage backfilled as its route step. If the drain does not finish within
 *     the fence's time, the handover is undone and the service keeps its writes: nothing
 *     acknowledged is ever dropped;
 *   - otherwise every route to the monolith, stage backfilled (or created).
 * Writes are refused (503 write_fenced + Retry-After) only inside the fence window, never lost,
 * and at no moment do both sides accept a write of the context. A command killed half-way leaves
 * a handover that the next command on the context undoes (before the flip) or finishes (after).
 */
import { type ContextGuardTrip, ControlPlaneClient, type GatewayReplica, type ReplicaAgreement, replicaAgreement, type StoredOverride } from '@carve/shared-control-plane';
import { WHOLE_CONTEXT } from '@carve/shared-persistence';
import { Pool } from 'pg';
import { type BackfillOptions, type BackfillReport, type Checkpoint, readCheckpoints, runBackfill } from './backfill';
import type { CarvableContext } from './context';
import { HandoverAbortedError, type HandoverRecord, Handovers } from './handover';
import { type RampRecord, Ramps } from './ramps';
import { type RouteChange, StageStore, type StageRecord, type StageChange, type WorkspaceStageChange } from './stage-store';
import { checkTransition, ownerAt, rollbackTarget, routeSettingFor, type RouteSetting, type Stage } from './stages';
import {
  checkWorkspaceTransition,
  effectiveStage,
  listContextWorkspaces,
  normaliseWorkspaceIds,
  summariseWorkspaces,
  type WorkspaceStageRecord,
  type WorkspaceSummary,
} from './workspace-stages';
import { readSideConflicts, type SideConflicts } from './conflicts';
import { consumerLiveness, type ConsumerLiveness, measureLag, outboxPosition, type SyncLag, waitForDrain } from './sync';
import { lastVerify, runVerify, type StoredVerifyRun, type VerifyOptions, type VerifyResult } from './verify';

type CutoverVerifyOptions = Omit<VerifyOptions, 'context' | 'monolithUrl' | 'serviceUrl' | 'controlUrl' | 'workspaces'>;

/** A refused or failed carving step: one line, and what to do next. */
export class CarvingError extends Error {
  constructor(message: string, readonly hint?: string, readonly code = 'carving_refused') {
    super(message);
    this.name = 'CarvingError';
  }
}

export interface GatewayAdmin {
  /** e.g. http://127.0.0.1:9090 */
  readonly url: string;
  readonly token: string;
}

export interface CarvingOptions {
  /** Admin connection to the database that holds every schema (monolith, service, control plane). */
  readonly url: string;
  /** Override per side, when they live apart. */
  readonly monolithUrl?: string;
  readonly serviceUrl?: string;
  readonly controlUrl?: string;
  /** Who is carving (audit). */
  readonly actor: string;
  /** The gateway's admin API, to read the effective routes and mismatch counters (optional). */
  readonly gateway?: GatewayAdmin;
  /** The transport the backbone runs on (what liveness checks can see). */
  readonly transport?: 'kafka' | 'postgres';
  /** How long a handover's fence may hold before it lifts by itself, owner unchanged (default 15 s). */
  readonly fenceTtlMs?: number;
  readonly log?: (line: string) => void;
}

export interface StageResult {
  readonly context: string;
  readonly change: StageChange;
  readonly routes: RouteChange[];
}

export interface CutoverResult extends StageResult {
  readonly verify: VerifyResult;
  readonly reverseSync: ConsumerLiveness;
  /** The handover of the writes (null when they were already the service's). */
  readonly handover: HandoverRecord | null;
}

export interface RollbackResult extends StageResult {
  /** The handover of the writes back to the monolith (null when the monolith owned them). */
  readonly handover: HandoverRecord | null;
  readonly waitedMs: number;
  /** The stage rolled back from. */
  readonly from: Stage;
}

/** What a per-workspace command did to each workspace. */
export interface WorkspacesResult {
  readonly context: string;
  readonly workspaces: ReadonlyArray<{
    readonly workspaceId: string;
    readonly from: Stage;
    readonly to: Stage;
    /** The fenced handover of the workspace's writes, when they changed hands. */
    readonly handover: HandoverRecord | null;
    readonly change: WorkspaceStageChange;
  }>;
  /** The verify run of those workspaces (stage reads, cutover). */
  readonly verify: VerifyResult | null;
  readonly reverseSync?: ConsumerLiveness;
}

export interface RouteStatus {
  readonly id: string;
  readonly kind: 'read' | 'write';
  /** What the stage implies. */
  readonly expected: RouteSetting;
  /** The control plane's override, if any. */
  readonly override: Pick<StoredOverride, 'mode' | 'percent' | 'updatedBy' | 'updatedAt' | 'reason'> | null;
  /** What the gateway applies, when it could be asked; else the override. */
  readonly effective: { readonly mode: string; readonly percent: number | null; readonly source: 'gateway' | 'control-plane' | 'unknown' };
  readonly matchesStage: boolean;
  /** Shadow comparisons of this replica since it started (gateway), when known. */
  readonly shadow: { readonly mismatches: number; readonly compared: number } | null;
  /** Mismatch samples kept in the control plane for this route. */
  readonly storedMismatches: number;
  /** How many workspaces the gateway sends to each side whatever the mode (per-workspace overrides), when it could be asked. */
  readonly workspaces: { readonly service: number; readonly monolith: number } | null;
}

export interface ContextStatus {
  readonly context: string;
  readonly registered: boolean;
  readonly description?: string;
  readonly stage: StageRecord;
  readonly routes: RouteStatus[];
  readonly gateway: { readonly reachable: boolean; readonly url?: string; readonly error?: string; readonly controlVersion?: number };
  readonly lag: { readonly forward: SyncLag | null; readonly reverse: SyncLag | null };
  readonly lastVerify: (Omit<StoredVerifyRun, 'result'> & { readonly drift: Array<{ projection: string; workspaceId: string; missing: number; extra: number; different: number }> }) | null;
  readonly checkpoints: Checkpoint[];
  /** Shadow mismatches over comparisons, over the read routes (gateway counters), when known. */
  readonly mismatchRate: number | null;
  /** The gateway replicas that reported to the control plane, and whether the live ones agree. */
  readonly replicas: ReplicasStatus;
  /** What the guard did to this context's routes (open trips), and what to do about it. */
  readonly guard: GuardStatus;
  /** A handover of the writes in progress (a command killed half-way leaves one), and the last one. */
  readonly handover: { readonly open: HandoverRecord | null; readonly last: HandoverRecord | null };
  /**
   * Open sync conflicts (an event at a version the consuming side wrote itself, kept with both
   * payloads): forward (in the service's schema), reverse (in the monolith's). Null when the
   * context is not registered here.
   */
  readonly conflicts: { readonly forward: SideConflicts | null; readonly reverse: SideConflicts | null };
  /**
   * How many workspaces are at each stage, and which: the context's stage is every workspace's
   * but those at a stage of their own (per-tenant carving). `complete` only when every one is.
   */
  readonly workspaces: WorkspaceSummary;
  /** The context's timed ramp (the last one, whatever its state), if it ever had one. */
  readonly ramp: RampRecord | null;
}

export interface ReplicasStatus {
  readonly live: ReadonlyArray<Pick<GatewayReplica, 'replicaId' | 'hostname' | 'pid' | 'tableHash' | 'controlVersion' | 'lastSeen' | 'ageMs'> & {
    /** This context's routes the replica's table does not define. */
    readonly missingRoutes: readonly string[];
  }>;
  /** Replicas that reported once but not recently (crashed, or stopped without saying so). */
  readonly stale: number;
  readonly agreement: ReplicaAgreement;
}

export interface GuardStatus {
  /** A write route of this context tripped while the service owns its writes: the guard kept it on the service. */
  readonly degraded: boolean;
  readonly trips: readonly ContextGuardTrip[];
  /** The command to run next, when there is one. */
  readonly next: string | null;
}

const adminPool = (url: string) => {
  const p = new Pool({ connectionString: url, max: 3, application_name: 'carve-carving' });
  p.on('error', () => undefined);
  return p;
};

export class Carving {
  readonly stages: StageStore;
  readonly ramps: Ramps;
  readonly handovers: Handovers;
  private readonly db: Pool;
  private readonly monolithDb: Pool;
  private readonly sidePools: Pool[] = [];

  private constructor(
    readonly cp: ControlPlaneClient,
    private readonly opts: CarvingOptions,
  ) {
    this.stages = new StageStore(cp);
    this.ramps = new Ramps(this.stages);
    this.db = adminPool(opts.url);
    const side = (url: string | undefined) => {
      if (!url || url === opts.url) return this.db;
      const p = adminPool(url);
      this.sidePools.push(p);
      return p;
    };
    this.monolithDb = side(opts.monolithUrl);
    this.handovers = new Handovers({ control: cp, monolith: this.monolithDb, service: side(opts.serviceUrl), drain: this.db });
  }

  /** Connects to the control plane (migrating it) and the admin database. */
  static async connect(opts: CarvingOptions): Promise<Carving> {
    const cp = await ControlPlaneClient.connect({ url: opts.controlUrl ?? opts.url, applicationName: 'carve-carving-control' });
    return new Carving(cp, opts);
  }

  async close(): Promise<void> {
    await Promise.all([this.cp.close(), ...[this.db, ...this.sidePools].map((p) => p.end().catch(() => undefined))]);
  }

  private get monolithUrl(): string {
    return this.opts.monolithUrl ?? this.opts.url;
  }

  private get serviceUrl(): string {
    return this.opts.serviceUrl ?? this.opts.url;
  }

  private log(line: string): void {
    this.opts.log?.(line);
  }

  stage(ctx: CarvableContext): Promise<StageRecord> {
    return this.stages.get(ctx.name);
  }

  // ---- backfill and verify -------------------------------------------------------------------

  /**
   * Backfills (resuming from the checkpoints), then, when every source is complete, marks the
   * context backfilled. With `workspaces`: only their rows, in a pass of its own (no checkpoint,
   * no stage change), refused for a workspace whose writes the service owns.
   */
  async backfill(
    ctx: CarvableContext,
    opts: Omit<BackfillOptions, 'context' | 'sourceUrl' | 'targetUrl'> & { reason?: string } = {},
  ): Promise<{ report: BackfillReport; stage: StageRecord }> {
    const current = await this.stages.get(ctx.name);
    const own = await this.stages.workspaceStages(ctx.name);
    if (opts.workspaces) {
      const ids = await this.knownWorkspaces(ctx, opts.workspaces);
      const byId = new Map(own.map((w) => [w.workspaceId, w]));
      const owned = ids.filter((w) => effectiveStage(current.stage, byId.get(w)).owner === 'service');
      if (owned.length) throw serviceOwnsError(ctx, owned);
      const report = await runBackfill({ ...opts, workspaces: ids, context: ctx, sourceUrl: this.monolithUrl, targetUrl: this.serviceUrl });
      return { report, stage: current };
    }
    const check = checkTransition(current.stage, 'backfilled', 'backfill');
    if (!check.ok) throw new CarvingError(check.reason!, check.hint);
    const owned = own.filter((w) => w.owner === 'service').map((w) => w.workspaceId);
    if (owned.length) throw serviceOwnsError(ctx, owned);
    const report = await runBackfill({ ...opts, context: ctx, sourceUrl: this.monolithUrl, targetUrl: this.serviceUrl });
    let stage = await this.stages.get(ctx.name);
    if (report.complete && stage.stage === 'created') {
      const change = await this.stages.withContextLock(ctx.name, () =>
        this.stages.set(ctx.name, { stage: 'backfilled' }, { actor: this.opts.actor, reason: opts.reason ?? `backfill complete (${report.rows} rows this run)`, action: 'stage.backfilled', expected: 'created' }),
      );
      stage = change.after;
    }
    return { report, stage };
  }

  /** Runs verify and records it (carve.verify_runs); a recheck first lets both syncs catch up to where the sides are. */
  verify(ctx: CarvableContext, opts: Omit<VerifyOptions, 'context' | 'monolithUrl' | 'serviceUrl' | 'controlUrl'> = {}): Promise<VerifyResult> {
    return runVerify({
      actor: this.opts.actor,
      settle: () => this.settleSyncs(ctx),
      ...opts,
      context: ctx,
      monolithUrl: this.monolithUrl,
      serviceUrl: this.serviceUrl,
      controlUrl: this.opts.controlUrl ?? this.opts.url,
    });
  }

  /**
   * Waits (at most 10 s each) until forward and reverse sync have applied every event their
   * producer had committed when called: positions, not a fixed delay. A sync that cannot be
   * measured (a side not migrated) or does not catch up in time is left as it is: verify then
   * reports what still differs.
   */
  private async settleSyncs(ctx: CarvableContext): Promise<void> {
    await Promise.all(
      [ctx.forwardSync, ctx.reverseSync].map(async (spec) => {
        try {
          const upTo = await outboxPosition(this.db, spec);
          await waitForDrain(this.db, spec, { upTo, timeoutMs: 10_000, pollMs: 50 });
        } catch {
          // not measurable or not caught up: the recheck compares what is there
        }
      }),
    );
  }

  // ---- stages ------------------------------------------------------------------------------------

  /** `carve stage <context> shadow | canary --percent P | reads | complete`. */
  async moveTo(ctx: CarvableContext, to: Stage, opts: { percent?: number; reason: string; ackGuardTrip?: boolean }): Promise<StageResult> {
    if (to === 'canary') {
      const p = opts.percent;
      if (p === undefined || !Number.isFinite(p) || p < 0 || p > 100) {
        throw new CarvingError('a canary needs --percent, a number from 0 to 100', `e.g. \`carve stage ${ctx.name} canary --percent 10\``);
      }
    } else if (opts.percent !== undefined) {
      throw new CarvingError('--percent is only for the canary stage');
    }
    return this.stages.withContextLock(ctx.name, async () => {
      const current = await this.stages.get(ctx.name);
      const check = checkTransition(current.stage, to, 'stage');
      if (!check.ok) throw new CarvingError(`${ctx.name} cannot go from ${current.stage} to ${to}: ${check.reason}`, check.hint?.replace(/<context>/g, ctx.name));
      if (current.stage === 'backfilled' && to !== 'backfilled') await this.requireCleanVerify(ctx, current);
      const own = await this.stages.workspaceStages(ctx.name);
      if (to === 'complete') {
        const held = own.filter((w) => w.owner === 'monolith');
        if (held.length) throw workspaceOverridesError(ctx, held, 'complete', `roll them forward first (\`carve cutover ${ctx.name} --writes --workspace ${held.map((w) => w.workspaceId).join(',')}\`)`);
      }
      const { routes, change } = await this.stages.moveRoutesAndStage(ctx, to, { percent: opts.percent, actor: this.opts.actor, reason: opts.reason, ackGuardTrip: opts.ackGuardTrip, expected: current.stage });
      // The whole context is complete: the workspaces already cut over on their own follow it.
      if (to === 'complete' && own.length) await this.clearWorkspaceStages(ctx, own, opts.reason);
      this.log(`${ctx.name}: ${current.stage} → ${to}${to === 'canary' ? ` (${opts.percent}%)` : ''}`);
      return { context: ctx.name, change, routes };
    });
  }

  /**
   * `carve stage <context> canary --ramp 1,5,25,50 --every 10m`: the first step now, as
   * `moveTo(canary, steps[0])` (every check of it), then the ramp recorded in the control plane;
   * every gateway replica's scheduler applies the next steps when due (`Ramps.tick`).
   */
  async startRamp(ctx: CarvableContext, opts: { steps: readonly number[]; everyMs: number; reason: string; ackGuardTrip?: boolean }): Promise<StageResult & { ramp: RampRecord }> {
    await this.ramps.requireNone(ctx.name);
    const first = await this.moveTo(ctx, 'canary', { percent: opts.steps[0], reason: `ramp step 1/${opts.steps.length} (${opts.steps[0]}%): ${opts.reason}`, ackGuardTrip: opts.ackGuardTrip });
    const ramp = await this.ramps.create(ctx.name, opts.steps, opts.everyMs, { actor: this.opts.actor, reason: opts.reason });
    return { ...first, ramp };
  }

  /** Leaving `backfilled` needs a whole-context verify without drift, run after the backfill. */
  private async requireCleanVerify(ctx: CarvableContext, current: StageRecord): Promise<void> {
    const last = await lastVerify(this.cp.pool, ctx.name, { wholeContext: true });
    const since = current.updatedAt ? Date.parse(current.updatedAt) : 0;
    if (!last || Date.parse(last.startedAt) < since) {
      throw new CarvingError(`${ctx.name} has not been verified since it was backfilled`, `run \`carve verify ${ctx.name}\` (it must show no drift)`);
    }
    if (!last.ok) {
      throw new CarvingError(`the last verify of ${ctx.name} found drift in ${last.drifted} workspace(s)`, `fix it (\`carve backfill ${ctx.name} --restart\` re-copies), then \`carve verify ${ctx.name}\` again`);
    }
  }

  // ---- cutover -------------------------------------------------------------------------------------

  /**
   * The whole context's writes to the service. Workspaces at a stage of their own: those whose
   * writes the service already owns, or whose stage is the context's, follow it; one held on the
   * monolith (rolled back alone, or left behind) is refused (`workspace_overrides`) unless
   * `includeOverrides`, which moves it too. Either way the handover flips every workspace's fence
   * row with the context's, and its route step removes the workspaces' own stages: no row is left
   * contradicting the flip.
   */
  async cutoverWrites(
    ctx: CarvableContext,
    opts: { reason: string; includeOverrides?: boolean; verify?: CutoverVerifyOptions },
  ): Promise<CutoverResult> {
    return this.stages.withContextLock(ctx.name, async () => {
      await this.recoverHandover(ctx);
      const current = await this.stages.get(ctx.name);
      const check = checkTransition(current.stage, 'writes-switched', 'cutover');
      if (!check.ok) throw new CarvingError(`${ctx.name}: ${check.reason}`, check.hint?.replace(/<context>/g, ctx.name));
      const own = await this.stages.workspaceStages(ctx.name);
      const held = own.filter((w) => w.owner === 'monolith' && w.stage !== current.stage);
      if (held.length && !opts.includeOverrides) {
        throw workspaceOverridesError(ctx, held, 'writes-switched', `add --include-overrides to move them with the context, or cut the rest over workspace by workspace (\`carve cutover ${ctx.name} --writes --workspace W\`)`);
      }
      // Every live gateway replica must serve the routes, and no guard trip may be undone: refused before the verify and the fence.
      await this.stages.checkRoutes(ctx, 'writes-switched');
      this.log(`${ctx.name}: verifying before the cutover of writes`);
      const verify = await this.verifyOrRefuse(ctx, opts.verify, 'writes stay with the monolith');
      const reverseSync = await this.requireReverseSync(ctx);
      if (current.stage === 'writes-switched' && !own.some((w) => w.owner === 'monolith')) {
        // Already cut over: the routes are set again, nothing changes hands.
        const routes = await this.stages.applyRoutes(ctx, 'writes-switched', { actor: this.opts.actor, reason: opts.reason });
        const change = await this.stages.set(ctx.name, { stage: 'writes-switched' }, { actor: this.opts.actor, reason: opts.reason, action: 'stage.cutover-writes', expected: current.stage, details: { verifyRun: verify.runId } });
        if (own.length) await this.clearWorkspaceStages(ctx, own, opts.reason);
        return { context: ctx.name, change, routes, verify, reverseSync, handover: null };
      }
      let switched: { change: StageChange; routes: RouteChange[] } | undefined;
      const handover = await this.runHandover(ctx, {
        to: 'service',
        command: 'cutover',
        targetStage: 'writes-switched',
        reason: opts.reason,
        onRoutes: async () => {
          const change = await this.stages.set(ctx.name, { stage: 'writes-switched' }, { actor: this.opts.actor, reason: opts.reason, action: 'stage.cutover-writes', expected: current.stage, details: { verifyRun: verify.runId } });
          const routes = await this.stages.applyRoutes(ctx, 'writes-switched', { actor: this.opts.actor, reason: opts.reason });
          await this.clearWorkspaceStages(ctx, await this.stages.workspaceStages(ctx.name), opts.reason);
          switched = { change, routes };
        },
      });
      this.log(`${ctx.name}: writes cut over to ${ctx.service} (writes refused for ${Math.round(handover.fenceMs ?? 0)} ms)`);
      return { context: ctx.name, ...switched!, verify, reverseSync, handover };
    });
  }

  /** A verify (of `workspaces`, else the whole context) that must find no drift, else CarvingError `drift`. */
  private async verifyOrRefuse(ctx: CarvableContext, opts: CutoverVerifyOptions | undefined, consequence: string, workspaces?: readonly string[]): Promise<VerifyResult> {
    const verify = await this.verify(ctx, { ...(opts ?? {}), ...(workspaces ? { workspaces } : {}) });
    if (verify.ok) return verify;
    const only = workspaces ? ` ${workspaces.map((w) => `--workspace ${w}`).join(' ')}` : '';
    throw new CarvingError(
      `${ctx.name}: verify found drift in ${verify.driftedWorkspaces} workspace(s); ${consequence}`,
      `see \`npx carve verify ${ctx.name}${only}\`; fix the drift (re-run \`npx carve backfill ${ctx.name} --restart\`) and try again`,
      'drift',
    );
  }

  /** The monolith's reverse-sync consumer must be running (on Kafka it cannot be seen: said, not refused). */
  private async requireReverseSync(ctx: CarvableContext): Promise<ConsumerLiveness> {
    const reverseSync = await consumerLiveness(this.db, ctx.reverseSync.group, this.opts.transport ?? 'postgres');
    if (reverseSync === 'not-running') {
      throw new CarvingError(
        `the monolith's reverse-sync consumer (${ctx.reverseSync.group}) is not running: the service's writes would not reach the monolith`,
        'start the monolith with CARVE_REVERSE_SYNC=true (and the handlers of this context), then try again',
        'reverse_sync_down',
      );
    }
    if (reverseSync === 'unknown') this.log(`${ctx.name}: cannot see the reverse-sync consumer ${ctx.reverseSync.group} from Postgres (Kafka); make sure the monolith runs with CARVE_REVERSE_SYNC=true`);
    return reverseSync;
  }

  /** A handover under the context's lock; an abort becomes a CarvingError that says what to do. */
  private async runHandover(
    ctx: CarvableContext,
    args: {
      to: 'service' | 'monolith';
      command: 'cutover' | 'rollback';
      targetStage: Stage;
      reason: string;
      scope?: string;
      drainTimeoutMs?: number;
      onRoutes: (h: HandoverRecord) => Promise<void>;
      onPoll?: (lag: SyncLag) => void;
    },
  ): Promise<HandoverRecord> {
    const ttl = this.opts.fenceTtlMs ?? (args.drainTimeoutMs !== undefined ? args.drainTimeoutMs + 2000 : undefined);
    try {
      return await this.handovers.run({
        ctx,
        to: args.to,
        command: args.command,
        targetStage: args.targetStage,
        actor: this.opts.actor,
        reason: args.reason,
        scope: args.scope,
        fenceTtlMs: ttl,
        drainTimeoutMs: args.drainTimeoutMs,
        switchRoutes: args.onRoutes,
        log: (l) => this.log(l),
        onPoll: args.onPoll,
      });
    } catch (err) {
      if (!(err instanceof HandoverAbortedError)) throw err;
      const spec = args.to === 'service' ? ctx.forwardSync : ctx.reverseSync;
      throw new CarvingError(
        `${err.message}. Nothing was changed`,
        `check that the consumer ${spec.group} runs and that a relay ships ${spec.outboxSchema}.outbox ` +
          `(\`npx carve relay --schema ${spec.outboxSchema}\`); look for dead letters (\`npx carve events dlq list\`); then run the command again`,
        'drain_timeout',
      );
    }
  }

  /**
   * Ends a handover a killed command left open on the context: undone before the flip, finished
   * after it (its route step is what its command would have done). Run first by every command
   * that moves the context.
   */
  async recoverHandover(ctx: CarvableContext): Promise<HandoverRecord | null> {
    let last: HandoverRecord | null = null;
    for (const open of await this.handovers.openAll(ctx.name)) {
      const done = await this.handovers.recover(
        ctx,
        async (h) => {
          const reason = `${h.command} resumed: ${h.reason}`;
          if (h.scope !== WHOLE_CONTEXT) {
            await this.stages.setWorkspaceStages(ctx, [h.scope], h.targetStage, { actor: this.opts.actor, reason, action: `stage.workspace-${h.command}-resumed` });
            return;
          }
          const before = await this.stages.get(ctx.name);
          await this.stages.set(ctx.name, { stage: h.targetStage }, { actor: this.opts.actor, reason, action: `stage.${h.command}-resumed`, details: { from: before.stage } });
          await this.stages.applyRoutes(ctx, h.targetStage, { actor: this.opts.actor, reason, action: h.command === 'rollback' ? 'route.rollback' : 'route.set' });
          await this.clearWorkspaceStages(ctx, await this.stages.workspaceStages(ctx.name), reason);
        },
        open.scope,
      );
      if (!done) continue;
      const where = done.record.scope === WHOLE_CONTEXT ? ctx.name : `${ctx.name} workspace ${done.record.scope}`;
      this.log(`${where}: a ${done.record.command} left half-way (phase ${done.record.phase === 'done' ? 'routing' : done.record.phase}) was ${done.action}`);
      last = done.record;
    }
    return last;
  }

  /** Every listed workspace follows the context again (a whole-context move took them along). */
  private async clearWorkspaceStages(ctx: CarvableContext, own: readonly WorkspaceStageRecord[], reason: string): Promise<void> {
    if (own.length === 0) return;
    await this.stages.setWorkspaceStages(ctx, own.map((w) => w.workspaceId), null, { actor: this.opts.actor, reason, action: 'stage.workspaces-follow-context' });
  }

  // ---- rollback --------------------------------------------------------------------------------------

  async rollback(ctx: CarvableContext, opts: { reason: string; drainTimeoutMs?: number; onPoll?: (lag: SyncLag) => void }): Promise<RollbackResult> {
    return this.stages.withContextLock(ctx.name, async () => {
      await this.recoverHandover(ctx);
      const current = await this.stages.get(ctx.name);
      const from = current.stage;
      const target = rollbackTarget(from);
      const started = Date.now();
      let switched: { change: StageChange; routes: RouteChange[] } | undefined;
      const moveBack = async () => {
        const routes = await this.stages.applyRoutes(ctx, target, { actor: this.opts.actor, reason: `rollback: ${opts.reason}`, action: 'route.rollback' });
        const change = await this.stages.set(ctx.name, { stage: target }, { actor: this.opts.actor, reason: opts.reason, action: 'stage.rollback', details: { from } });
        switched = { change, routes };
      };
      let handover: HandoverRecord | null = null;
      // Every workspace comes back with the context, those cut over on their own too.
      const own = await this.stages.workspaceStages(ctx.name);
      const moveBackAll = async () => {
        await moveBack();
        await this.clearWorkspaceStages(ctx, await this.stages.workspaceStages(ctx.name), `rollback: ${opts.reason}`);
      };
      if (current.owner === 'service' || own.some((w) => w.owner === 'service')) {
        this.log(`${ctx.name}: handing the writes back to the monolith`);
        handover = await this.runHandover(ctx, { to: 'monolith', command: 'rollback', targetStage: target, reason: opts.reason, drainTimeoutMs: opts.drainTimeoutMs, onRoutes: moveBackAll, onPoll: opts.onPoll });
      } else {
        await moveBackAll();
      }
      this.log(`${ctx.name}: rolled back from ${from} to ${target}`);
      return { context: ctx.name, change: { ...switched!.change, before: current }, routes: switched!.routes, handover, waitedMs: Date.now() - started, from };
    });
  }

  // ---- per workspace -----------------------------------------------------------------------------------

  /** The ids, normalised; each must be a workspace of the context (else CarvingError `unknown_workspace`). */
  private async knownWorkspaces(ctx: CarvableContext, ids: readonly string[]): Promise<string[]> {
    const list = normaliseWorkspaceIds(ids);
    if (list.length === 0) throw new CarvingError('name at least one workspace', `--workspace W[,W2] or --cohort NAME`, 'usage');
    const known = new Set(await listContextWorkspaces(ctx, this.monolithDb));
    const unknown = list.filter((w) => !known.has(w));
    if (unknown.length) {
      throw new CarvingError(`${ctx.name} has no workspace ${unknown.join(', ')}; nothing was changed`, 'check the ids (the monolith creates the workspaces; `carve cohort list` shows the cohorts)', 'unknown_workspace');
    }
    return list;
  }

  /** Each workspace's stage now (its own, else the context's); refused, nothing changed, when one may not go to `to`. */
  private async workspacesFrom(ctx: CarvableContext, ids: readonly string[], to: Stage, command: 'stage' | 'cutover'): Promise<Map<string, Stage>> {
    const current = await this.stages.get(ctx.name);
    const own = new Map((await this.stages.workspaceStages(ctx.name)).map((w) => [w.workspaceId, w]));
    const from = new Map<string, Stage>();
    const refused: string[] = [];
    let hint: string | undefined;
    for (const w of ids) {
      const f = effectiveStage(current.stage, own.get(w)).stage;
      const check = checkWorkspaceTransition(f, to, command);
      if (!check.ok) {
        refused.push(`${w} (at ${f}: ${check.reason})`);
        hint ??= check.hint?.replace(/<context>/g, ctx.name);
      }
      from.set(w, f);
    }
    if (refused.length) throw new CarvingError(`${ctx.name}: cannot move workspace ${refused.join('; ')}; nothing was changed`, hint);
    return from;
  }

  /** `carve stage <context> reads|complete --workspace W[,W2]`: those workspaces' routes follow (after a verify of them, for reads). */
  async moveWorkspaces(ctx: CarvableContext, workspaceIds: readonly string[], to: Stage, opts: { reason: string; verify?: CutoverVerifyOptions }): Promise<WorkspacesResult> {
    return this.stages.withContextLock(ctx.name, async () => {
      await this.recoverHandover(ctx);
      const ids = await this.knownWorkspaces(ctx, workspaceIds);
      const from = await this.workspacesFrom(ctx, ids, to, 'stage');
      await this.stages.checkRoutes(ctx, to);
      const verify = to === 'reads-switched' ? await this.verifyOrRefuse(ctx, opts.verify, 'their reads stay with the monolith', ids) : null;
      const change = await this.stages.setWorkspaceStages(ctx, ids, to, { actor: this.opts.actor, reason: opts.reason, action: 'stage.workspace-set', details: verify ? { verifyRun: verify.runId } : {} });
      this.log(`${ctx.name}: workspace(s) ${ids.join(', ')} → ${to}`);
      return { context: ctx.name, workspaces: ids.map((w) => ({ workspaceId: w, from: from.get(w)!, to, handover: null, change })), verify };
    });
  }

  /**
   * `carve cutover <context> --writes --workspace W[,W2]`: after a verify of those workspaces, one
   * fenced handover per workspace (only its fence rows: the others keep writing), its routes
   * following in the handover's route step.
   */
  async cutoverWorkspaces(ctx: CarvableContext, workspaceIds: readonly string[], opts: { reason: string; verify?: CutoverVerifyOptions }): Promise<WorkspacesResult> {
    return this.stages.withContextLock(ctx.name, async () => {
      await this.recoverHandover(ctx);
      const ids = await this.knownWorkspaces(ctx, workspaceIds);
      const from = await this.workspacesFrom(ctx, ids, 'writes-switched', 'cutover');
      await this.stages.checkRoutes(ctx, 'writes-switched');
      this.log(`${ctx.name}: verifying workspace(s) ${ids.join(', ')} before the cutover of their writes`);
      const verify = await this.verifyOrRefuse(ctx, opts.verify, 'their writes stay with the monolith', ids);
      const reverseSync = await this.requireReverseSync(ctx);
      const done: Array<WorkspacesResult['workspaces'][number]> = [];
      for (const w of ids) {
        const step = (h: HandoverRecord | null) =>
          this.stages.setWorkspaceStages(ctx, [w], 'writes-switched', { actor: this.opts.actor, reason: opts.reason, action: 'stage.workspace-cutover-writes', details: { verifyRun: verify.runId, handover: h?.id ?? null } });
        done.push(await this.handOverWorkspace(ctx, w, from.get(w)!, 'writes-switched', 'cutover', opts.reason, step));
      }
      return { context: ctx.name, workspaces: done, verify, reverseSync };
    });
  }

  /**
   * `carve rollback <context> --workspace W[,W2]`: each workspace back to the monolith (a fenced
   * handover when the service owns its writes), the other workspaces untouched.
   */
  async rollbackWorkspaces(ctx: CarvableContext, workspaceIds: readonly string[], opts: { reason: string; drainTimeoutMs?: number; onPoll?: (lag: SyncLag) => void }): Promise<WorkspacesResult> {
    return this.stages.withContextLock(ctx.name, async () => {
      await this.recoverHandover(ctx);
      const ids = await this.knownWorkspaces(ctx, workspaceIds);
      const current = await this.stages.get(ctx.name);
      const own = new Map((await this.stages.workspaceStages(ctx.name)).map((w) => [w.workspaceId, w]));
      const done: Array<WorkspacesResult['workspaces'][number]> = [];
      for (const w of ids) {
        const from = effectiveStage(current.stage, own.get(w)).stage;
        const target = rollbackTarget(from);
        const step = (h: HandoverRecord | null) =>
          this.stages.setWorkspaceStages(ctx, [w], target, { actor: this.opts.actor, reason: opts.reason, action: 'stage.workspace-rollback', details: { from, handover: h?.id ?? null } });
        done.push(await this.handOverWorkspace(ctx, w, from, target, 'rollback', opts.reason, step, opts));
      }
      return { context: ctx.name, workspaces: done, verify: null };
    });
  }

  /** One workspace to `target`: a handover of its writes when their owner changes, else only its stage and routes. */
  private async handOverWorkspace(
    ctx: CarvableContext,
    workspaceId: string,
    from: Stage,
    target: Stage,
    command: 'cutover' | 'rollback',
    reason: string,
    step: (h: HandoverRecord | null) => Promise<WorkspaceStageChange>,
    opts: { drainTimeoutMs?: number; onPoll?: (lag: SyncLag) => void } = {},
  ): Promise<WorkspacesResult['workspaces'][number]> {
    const to = ownerAt(target);
    if (ownerAt(from) === to) return { workspaceId, from, to: target, handover: null, change: await step(null) };
    let change: WorkspaceStageChange | undefined;
    const handover = await this.runHandover(ctx, {
      to,
      command,
      targetStage: target,
      reason,
      scope: workspaceId,
      drainTimeoutMs: opts.drainTimeoutMs,
      onPoll: opts.onPoll,
      onRoutes: async (h) => {
        change = await step(h);
      },
    });
    this.log(`${ctx.name} workspace ${workspaceId}: writes to the ${to} (writes refused for ${Math.round(handover.fenceMs ?? 0)} ms)`);
    return { workspaceId, from, to: target, handover, change: change! };
  }

  // ---- status ---------------------------------------------------------------------------------------

  async status(ctx: CarvableContext | string): Promise<ContextStatus> {
    const name = typeof ctx === 'string' ? ctx : ctx.name;
    const desc = typeof ctx === 'string' ? undefined : ctx;
    const [stage, overrides, gw, verify, checkpoints, replicas, trips, own, ramp] = await Promise.all([
      this.stages.get(name),
      this.cp.listOverrides(),
      this.gatewayRoutes(),
      lastVerify(this.cp.pool, name),
      readCheckpoints(this.cp.pool, name),
      this.stages.replicas(),
      this.stages.openGuardTrips(name),
      this.stages.workspaceStages(name),
      this.ramps.get(name),
    ]);
    const byId = new Map(overrides.map((o) => [o.routeId, o]));
    const routes: RouteStatus[] = [];
    let mism = 0;
    let compared = 0;
    let known = false;
    for (const r of desc?.routes ?? []) {
      const expected = routeSettingFor(stage.stage, r.kind, stage.canaryPercent);
      const o = byId.get(r.id) ?? null;
      const g = gw.routes?.find((x: any) => x.id === r.id);
      const effective = g
        ? { mode: String(g.mode), percent: typeof g.percent === 'number' ? g.percent : null, source: 'gateway' as const }
        : o
          ? { mode: o.mode, percent: o.percent, source: 'control-plane' as const }
          : { mode: 'monolith', percent: null, source: 'unknown' as const };
      const shadow = g?.mismatches ? { mismatches: Number(g.mismatches.count ?? 0), compared: Number(g.mismatches.compared ?? 0) } : null;
      if (shadow && r.kind === 'read') {
        known = true;
        mism += shadow.mismatches;
        compared += shadow.compared;
      }
      const stored = (await this.cp.mismatches({ routeId: r.id, limit: 1000 })).length;
      routes.push({
        id: r.id,
        kind: r.kind,
        expected,
        override: o ? { mode: o.mode, percent: o.percent, updatedBy: o.updatedBy, updatedAt: o.updatedAt, reason: o.reason } : null,
        effective,
        matchesStage: effective.mode === expected.mode && (expected.mode !== 'canary' || effective.percent === expected.percent),
        shadow,
        storedMismatches: stored,
        workspaces: g ? { service: g.workspaces?.service?.length ?? 0, monolith: g.workspaces?.monolith?.length ?? 0 } : null,
      });
    }
    const conflicts = desc
      ? {
          forward: await readSideConflicts(this.serviceUrl, desc.forwardSync.inboxSchema, name),
          reverse: await readSideConflicts(this.monolithUrl, desc.reverseSync.inboxSchema, name),
        }
      : { forward: null, reverse: null };
    const lag = desc
      ? {
          forward: await measureLag(this.db, desc.forwardSync).catch((e) => ({ ...emptyLag(desc.forwardSync.group), error: (e as Error).message })),
          reverse: await measureLag(this.db, desc.reverseSync).catch((e) => ({ ...emptyLag(desc.reverseSync.group), error: (e as Error).message })),
        }
      : { forward: null, reverse: null };
    return {
      context: name,
      registered: Boolean(desc),
      ...(desc?.description ? { description: desc.description } : {}),
      stage,
      routes,
      gateway: { reachable: gw.reachable, ...(this.opts.gateway ? { url: this.opts.gateway.url } : {}), ...(gw.error ? { error: gw.error } : {}), ...(gw.controlVersion !== undefined ? { controlVersion: gw.controlVersion } : {}) },
      lag,
      lastVerify: verify
        ? {
            id: verify.id,
            context: verify.context,
            startedAt: verify.startedAt,
            finishedAt: verify.finishedAt,
            ok: verify.ok,
            workspaces: verify.workspaces,
            drifted: verify.drifted,
            scope: verify.scope,
            actor: verify.actor,
            drift: (verify.result?.projections ?? []).flatMap((p) =>
              p.drifted.map((d) => ({ projection: p.name, workspaceId: d.workspaceId, missing: d.counts.missing, extra: d.counts.extra, different: d.counts.different })),
            ),
          }
        : null,
      checkpoints,
      ramp,
      mismatchRate: known ? (compared > 0 ? mism / compared : 0) : null,
      handover: await this.handoverStatus(name),
      conflicts,
      replicas: {
        live: replicas
          .filter((r) => r.live)
          .map((r) => ({
            replicaId: r.replicaId,
            hostname: r.hostname,
            pid: r.pid,
            tableHash: r.tableHash,
            controlVersion: r.controlVersion,
            lastSeen: r.lastSeen,
            ageMs: r.ageMs,
            missingRoutes: (desc?.routes ?? []).map((x) => x.id).filter((id) => !r.routeIds.includes(id)),
          })),
        stale: replicas.filter((r) => !r.live).length,
        agreement: replicaAgreement(replicas),
      },
      guard: guardStatus(name, trips),
      workspaces: await this.workspaceSummary(desc, stage.stage, own),
    };
  }

  private async workspaceSummary(ctx: CarvableContext | undefined, stage: Stage, own: WorkspaceStageRecord[]): Promise<WorkspaceSummary> {
    if (!ctx) return summariseWorkspaces(stage, own, null);
    try {
      return summariseWorkspaces(stage, own, await listContextWorkspaces(ctx, this.monolithDb));
    } catch (err) {
      return summariseWorkspaces(stage, own, null, { error: (err as Error).message });
    }
  }

  private async handoverStatus(context: string): Promise<ContextStatus['handover']> {
    const [open, recent] = await Promise.all([this.handovers.openAll(context), this.handovers.recent(context, 1)]);
    const last = recent[0] && (recent[0].phase === 'done' || recent[0].phase === 'undone') ? recent[0] : null;
    return { open: open[0] ?? null, last };
  }

  /** Every context the control plane knows a stage of (registered or not). */
  async knownContexts(): Promise<string[]> {
    return (await this.stages.list()).map((s) => s.context);
  }

  private async gatewayRoutes(): Promise<{ reachable: boolean; routes?: any[]; controlVersion?: number; error?: string }> {
    const gw = this.opts.gateway;
    if (!gw) return { reachable: false, error: 'no gateway admin URL configured' };
    try {
      const res = await fetch(`${gw.url.replace(/\/$/, '')}/admin/routes`, { headers: { authorization: `Bearer ${gw.token}` }, signal: AbortSignal.timeout(1500) });
      if (!res.ok) return { reachable: false, error: `admin API answered ${res.status}` };
      const body = (await res.json()) as { routes: any[]; controlVersion?: number };
      return { reachable: true, routes: body.routes, controlVersion: body.controlVersion };
    } catch (err) {
      return { reachable: false, error: (err as Error).message };
    }
  }
}

/** A backfill refused: the service owns these workspaces' writes. */
function serviceOwnsError(ctx: CarvableContext, owned: readonly string[]): CarvingError {
  return new CarvingError(
    `the service owns the writes of ${owned.length} workspace(s) of ${ctx.name} (${owned.join(', ')}): backfilling them from the monolith now could overwrite them`,
    `roll them back first (\`carve rollback ${ctx.name} --workspace ${owned.join(',')}\`) if you really need a backfill`,
  );
}

/** A whole-context move refused because workspaces at a stage of their own would be moved against it. */
function workspaceOverridesError(ctx: CarvableContext, held: readonly WorkspaceStageRecord[], to: Stage, hint: string): CarvingError {
  const list = held.map((w) => `${w.workspaceId} (${w.stage})`).join(', ');
  return new CarvingError(`${ctx.name}: ${held.length} workspace(s) are held on the monolith at a stage of their own: ${list}; the whole context cannot go to ${to} past them; nothing was changed`, hint, 'workspace_overrides');
}

/** Degraded (a service-owned write route tripped): roll back. A read route rolled back: find the cause, then acknowledge. */
function guardStatus(context: string, trips: readonly ContextGuardTrip[]): GuardStatus {
  const degraded = trips.some((t) => t.action === 'degraded');
  const reads = trips.filter((t) => t.action === 'rolled-back');
  const next = degraded
    ? `npx carve rollback ${context}`
    : reads.length
      ? `find the cause, then \`npx carve stage ${context} <stage> --ack-guard-trip\` to send ${reads.map((t) => t.routeId).join(', ')} to the service again`
      : null;
  return { degraded, trips, next };
}

const emptyLag = (group: string): SyncLag => ({ group, from: '?', to: '?', unpublished: 0, pending: 0, oldestPendingMs: 0 });


