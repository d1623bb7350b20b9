/**
 * The carving of one context, end to end: stages (with the routes and the ownership each
 * implies), backfill and verify (recorded), the cutover of writes, the rollback, the status.
 * Generic over the CarvableContext descriptor; the CLI is a thin layer over this.
 *
 * Cutover of writes (from reads-switched only):
 *   1. a fresh verify must show no drift;
 *   2. the monolith's reverse-sync consumer should be running (checked on the Postgres
 *      transport; on Kafka the group lives in the broker and is reported as unconfirmed);
 *   3. stage writes-switched: the service owns writes (it reads the stage, cached ~1 s);
 *   4. after `ownershipPropagationMs`, the write routes go to the service.
 *
 * Rollback (from any stage, one command):
 *   1. if the service owned writes: the stage steps down to reads-switched, so the service
 *      stops accepting writes (409 not_source_of_truth) while routes are unchanged;
 *   2. after `ownershipPropagationMs`, wait (bounded) until every event of the service's outbox
 *      is in the monolith's inbox (reverse sync caught up). On timeout the service gets its
 *      writes back (stage writes-switched again) and the rollback fails with what to do: nothing
 *      acknowledged is ever dropped;
 *   3. every route of the context to the monolith (overrides), stage backfilled (or created).
 * Writes are refused for the seconds step 2 takes, never lost, and the monolith never accepts a
 * write on data the service changed before that change has reached it.
 */
import { ControlPlaneClient, type StoredOverride } from '@carve/shared-control-plane';
import { Pool } from 'pg';
import { type BackfillOptions, type BackfillReport, type Checkpoint, readCheckpoints, runBackfill } from './backfill';
import type { CarvableContext } from './context';
import { type RouteChange, StageStore, type StageRecord, type StageChange } from './stage-store';
import { checkTransition, routeSettingFor, type RouteSetting, type Stage } from './stages';
import { consumerLiveness, type ConsumerLiveness, DrainTimeoutError, measureLag, type SyncLag, waitForDrain } from './sync';
import { lastVerify, runVerify, type StoredVerifyRun, type VerifyOptions, type VerifyResult } from './verify';

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
  /** How long the service may take to notice an ownership change (its stage cache; default 2000 ms). */
  readonly ownershipPropagationMs?: number;
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
}

export interface RollbackResult extends StageResult {
  /** The reverse-sync lag after the wait (nothing pending). */
  readonly drained: SyncLag | null;
  readonly waitedMs: number;
  /** The stage rolled back from. */
  readonly from: Stage;
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
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Carving {
  readonly stages: StageStore;
  private readonly db: Pool;

  private constructor(
    readonly cp: ControlPlaneClient,
    private readonly opts: CarvingOptions,
  ) {
    this.stages = new StageStore(cp);
    this.db = new Pool({ connectionString: opts.url, max: 3, application_name: 'carve-carving' });
    this.db.on('error', () => undefined);
  }

  /** Connects to the control plane (migrating it) and the admin database. */
  static async connect(opts: CarvingOptions): Promise<Carving> {
    const cp = await ControlPlaneClient.connect({ url: opts.controlUrl ?? opts.url, applicationName: 'carve-carving-control' });
    return new Carving(cp, opts);
  }

  async close(): Promise<void> {
    await Promise.all([this.cp.close(), this.db.end().catch(() => undefined)]);
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

  /** Backfills (resuming from the checkpoints), then, when every source is complete, marks the context backfilled. */
  async backfill(ctx: CarvableContext, opts: Omit<BackfillOptions, 'context' | 'sourceUrl' | 'targetUrl'> & { reason?: string } = {}): Promise<{ report: BackfillReport; stage: StageRecord }> {
    const current = await this.stages.get(ctx.name);
    const check = checkTransition(current.stage, 'backfilled', 'backfill');
    if (!check.ok) throw new CarvingError(check.reason!, check.hint);
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

  /** Runs verify and records it (carve.verify_runs). */
  verify(ctx: CarvableContext, opts: Omit<VerifyOptions, 'context' | 'monolithUrl' | 'serviceUrl' | 'controlUrl'> = {}): Promise<VerifyResult> {
    return runVerify({ actor: this.opts.actor, ...opts, context: ctx, monolithUrl: this.monolithUrl, serviceUrl: this.serviceUrl, controlUrl: this.opts.controlUrl ?? this.opts.url });
  }

  // ---- stages ------------------------------------------------------------------------------------

  /** `carve stage <context> shadow | canary --percent P | reads | complete`. */
  async moveTo(ctx: CarvableContext, to: Stage, opts: { percent?: number; reason: string }): Promise<StageResult> {
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
      const routes = await this.stages.applyRoutes(ctx, to, { percent: opts.percent, actor: this.opts.actor, reason: opts.reason });
      const change = await this.stages.set(ctx.name, { stage: to, canaryPercent: opts.percent }, { actor: this.opts.actor, reason: opts.reason, action: 'stage.set', expected: current.stage });
      this.log(`${ctx.name}: ${current.stage} → ${to}${to === 'canary' ? ` (${opts.percent}%)` : ''}`);
      return { context: ctx.name, change, routes };
    });
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

  async cutoverWrites(ctx: CarvableContext, opts: { reason: string; verify?: Omit<VerifyOptions, 'context' | 'monolithUrl' | 'serviceUrl' | 'controlUrl'> }): Promise<CutoverResult> {
    return this.stages.withContextLock(ctx.name, async () => {
      const current = await this.stages.get(ctx.name);
      const check = checkTransition(current.stage, 'writes-switched', 'cutover');
      if (!check.ok) throw new CarvingError(`${ctx.name}: ${check.reason}`, check.hint?.replace(/<context>/g, ctx.name));
      this.log(`${ctx.name}: verifying before the cutover of writes`);
      const verify = await this.verify(ctx, opts.verify ?? {});
      if (!verify.ok) {
        throw new CarvingError(
          `${ctx.name}: verify found drift in ${verify.driftedWorkspaces} workspace(s); writes stay with the monolith`,
          `see \`carve verify ${ctx.name}\`; fix the drift (re-run \`carve backfill ${ctx.name} --restart\`) and try again`,
          'drift',
        );
      }
      const reverseSync = await consumerLiveness(this.db, ctx.reverseSync.group, this.opts.transport ?? 'postgres');
      if (reverseSync === 'not-running') {
        throw new CarvingError(
          `the monolith's reverse-sync consumer (${ctx.reverseSync.group}) is not running: the service's writes would not reach the monolith`,
          'start the monolith with CARVE_REVERSE_SYNC=true (and the handlers of this context), then try again',
          'reverse_sync_down',
        );
      }
      if (reverseSync === 'unknown') this.log(`${ctx.name}: cannot see the reverse-sync consumer ${ctx.reverseSync.group} from Postgres (Kafka); make sure the monolith runs with CARVE_REVERSE_SYNC=true`);
      const change = await this.stages.set(ctx.name, { stage: 'writes-switched' }, { actor: this.opts.actor, reason: opts.reason, action: 'stage.cutover-writes', expected: current.stage, details: { verifyRun: verify.runId } });
      // The service reads its stage through a short cache: let it see that it owns writes before any arrives.
      if (current.stage !== 'writes-switched') await sleep(this.opts.ownershipPropagationMs ?? 2000);
      const routes = await this.stages.applyRoutes(ctx, 'writes-switched', { actor: this.opts.actor, reason: opts.reason });
      this.log(`${ctx.name}: writes cut over to ${ctx.service}`);
      return { context: ctx.name, change, routes, verify, reverseSync };
    });
  }

  // ---- rollback --------------------------------------------------------------------------------------

  async rollback(ctx: CarvableContext, opts: { reason: string; drainTimeoutMs?: number; force?: boolean; onPoll?: (lag: SyncLag) => void }): Promise<RollbackResult> {
    return this.stages.withContextLock(ctx.name, async () => {
      const current = await this.stages.get(ctx.name);
      const from = current.stage;
      const target: Stage = from === 'created' ? 'created' : 'backfilled';
      const started = Date.now();
      let stepped: StageChange | null = null;
      if (current.owner === 'service') {
        // 1. The service stops taking writes (reads stay on it until the monolith has everything).
        stepped = await this.stages.set(ctx.name, { stage: 'reads-switched' }, { actor: this.opts.actor, reason: `rollback: draining (${opts.reason})`, action: 'stage.rollback-drain', expected: from });
        this.log(`${ctx.name}: the service no longer takes writes; waiting for the reverse sync`);
        await sleep(this.opts.ownershipPropagationMs ?? 2000);
      }
      // 2. Every event of the service's outbox must be in the monolith (also after a crashed earlier rollback).
      let drained: SyncLag | null = null;
      if (!opts.force) {
        try {
          drained = await waitForDrain(this.db, ctx.reverseSync, { timeoutMs: opts.drainTimeoutMs ?? 60_000, onPoll: opts.onPoll });
        } catch (err) {
          // Nothing to wait for where the service's tables do not exist yet (a context never carved).
          const missing = !(err instanceof DrainTimeoutError) && /cannot measure/.test((err as Error).message);
          if (missing && current.owner === 'monolith') {
            this.log(`${ctx.name}: ${(err as Error).message}; nothing to drain`);
            return this.finishRollback(ctx, from, target, opts, stepped, null, started);
          }
          if (stepped) {
            await this.stages.set(ctx.name, { stage: from }, { actor: this.opts.actor, reason: `rollback aborted: ${(err as Error).message}`, action: 'stage.rollback-aborted' });
          }
          if (err instanceof DrainTimeoutError) {
            throw new CarvingError(
              `rollback of ${ctx.name} stopped: ${err.message}. ${stepped ? `The service owns writes again (stage ${from}); routes are unchanged` : 'Nothing was changed'}`,
              `check that the monolith runs with CARVE_REVERSE_SYNC=true and that a relay ships ${ctx.reverseSync.outboxSchema}.outbox ` +
                `(\`carve relay --schema ${ctx.reverseSync.outboxSchema}\`); look for dead letters (\`carve events dlq list\`); then run \`carve rollback ${ctx.name}\` again ` +
                '(or --force to move now and lose what is still pending)',
              'drain_timeout',
            );
          }
          throw err;
        }
      }
      return this.finishRollback(ctx, from, target, opts, stepped, drained, started);
    });
  }

  /** Rollback step 3: every route to the monolith, the stage to backfilled (or created). */
  private async finishRollback(
    ctx: CarvableContext,
    from: Stage,
    target: Stage,
    opts: { reason: string; force?: boolean },
    stepped: StageChange | null,
    drained: SyncLag | null,
    started: number,
  ): Promise<RollbackResult> {
    const routes = await this.stages.applyRoutes(ctx, target, { actor: this.opts.actor, reason: `rollback: ${opts.reason}`, action: 'route.rollback' });
    const change = await this.stages.set(ctx.name, { stage: target }, {
      actor: this.opts.actor,
      reason: opts.reason,
      action: 'stage.rollback',
      details: { from, ...(opts.force ? { forced: true } : {}) },
    });
    this.log(`${ctx.name}: rolled back from ${from} to ${target}`);
    return { context: ctx.name, change: { ...change, before: stepped?.before ?? change.before }, routes, drained, waitedMs: Date.now() - started, from };
  }

  // ---- status ---------------------------------------------------------------------------------------

  async status(ctx: CarvableContext | string): Promise<ContextStatus> {
    const name = typeof ctx === 'string' ? ctx : ctx.name;
    const desc = typeof ctx === 'string' ? undefined : ctx;
    const [stage, overrides, gw, verify, checkpoints] = await Promise.all([
      this.stages.get(name),
      this.cp.listOverrides(),
      this.gatewayRoutes(),
      lastVerify(this.cp.pool, name),
      readCheckpoints(this.cp.pool, name),
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
      });
    }
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
      mismatchRate: known ? (compared > 0 ? mism / compared : 0) : null,
    };
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

const emptyLag = (group: string): SyncLag => ({ group, from: '?', to: '?', unpublished: 0, pending: 0, oldestPendingMs: 0 });


