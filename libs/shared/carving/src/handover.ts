/**
 * The fenced handover of a context's writes from one side to the other (monolith → service at
 * `carve cutover --writes`, service → monolith at `carve rollback` from a write stage):
 *
 *   0. catch up the new owner applies what the old one committed so far, writes still flowing
 *              (bounded), so that the fenced drain below has little left;
 *   1. fence   both sides refuse every write of the context (503 write_fenced + Retry-After);
 *              fencing the old owner waits for every write that passed its fence to commit, so
 *              what it wrote is final from here on (write-fence.ts of @carve/shared-persistence);
 *   2. drain   the new owner has applied every event the old owner committed: the old outbox's
 *              position is read after the fence, and the new owner's inbox must hold every
 *              event up to it (by position, not by sleeping);
 *   3. flip    the old side gives the writes up (only while its fence still holds: checked under
 *              the row lock, on its database's clock), then the new side takes them and its
 *              fence lifts;
 *   4. route   the routes and the stage follow (the caller's `switchRoutes`);
 *   5. unfence the old side's fence lifts; it now answers 409 not_source_of_truth.
 *
 * Scope: one workspace (per-tenant carving), or the whole context. A workspace's handover fences,
 * flips and unfences only that workspace's fence rows on each side (created where missing, with
 * the side's current ownership); the other workspaces keep writing. A whole-context handover takes
 * the context-wide row and every workspace row on either side, so no workspace's row is left
 * contradicting the flip (the workspaces' own stages are cleared by its route step).
 *
 * Each step is recorded in `carve.handovers` before the next begins. The fence carries a deadline
 * (`fenceTtlMs`): a handover killed before the flip lifts by itself when it passes, with the
 * owner unchanged. `recover` (run by the next command on the context) undoes a handover that
 * had not flipped and finishes one that had: never two owners, never a fence held forever.
 */
import { randomUUID } from 'node:crypto';
import type { ControlPlaneClient } from '@carve/shared-control-plane';
import { FenceExpiredError, fenceSide, readFence, setSideOwner, unfenceSide, WHOLE_CONTEXT } from '@carve/shared-persistence';
import type { Pool } from 'pg';
import type { CarvableContext } from './context';
import type { Owner, Stage } from './stages';
import { DrainTimeoutError, outboxPosition, type SyncLag, type SyncSpec, waitForDrain } from './sync';
import { isoOrNull as iso } from '@carve/shared-kernel';

export type HandoverPhase = 'fencing' | 'draining' | 'flipping' | 'routing' | 'done' | 'undone';

export interface HandoverRecord {
  readonly id: string;
  readonly context: string;
  readonly scope: string;
  readonly command: string;
  readonly from: Owner;
  readonly to: Owner;
  readonly targetStage: Stage;
  readonly phase: HandoverPhase;
  readonly fenceDeadline: string;
  readonly drainPosition: number | null;
  readonly actor: string;
  readonly reason: string;
  readonly startedAt: string;
  readonly fencedAt: string | null;
  readonly flippedAt: string | null;
  readonly finishedAt: string | null;
  /** How long writes were refused (fence to unfence of the new owner), when finished. */
  readonly fenceMs: number | null;
  readonly error: string | null;
}

export interface HandoverSides {
  readonly control: ControlPlaneClient;
  /** Admin connection to the monolith's database (its `write_fence`). */
  readonly monolith: Pool;
  /** Admin connection to the service's database. */
  readonly service: Pool;
  /** A connection that sees both the old owner's outbox and the new owner's inbox (the drain). */
  readonly drain: Pool;
}

export interface HandoverPlan {
  readonly ctx: CarvableContext;
  readonly to: Owner;
  readonly command: 'cutover' | 'rollback';
  readonly targetStage: Stage;
  readonly actor: string;
  readonly reason: string;
  /** The scope: the whole context (default) or one workspace id. */
  readonly scope?: string;
  /** How long the fence may hold before it lifts by itself (default 15 s). */
  readonly fenceTtlMs?: number;
  /** How long the drain may take (default: the fence's time less a margin for the flip). */
  readonly drainTimeoutMs?: number;
  /** How long to wait, before fencing, for the new owner to catch up (default 5 s). */
  readonly catchUpMs?: number;
  /** Step 4: the routes and the stage follow the new owner. */
  readonly switchRoutes: (h: HandoverRecord) => Promise<void>;
  readonly log?: (line: string) => void;
  readonly onPoll?: (lag: SyncLag) => void;
}

/** A handover that could not finish and was undone: the owner is unchanged. */
export class HandoverAbortedError extends Error {
  constructor(
    message: string,
    readonly record: HandoverRecord,
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'HandoverAbortedError';
  }
}

const DEFAULT_FENCE_TTL_MS = 15_000;
/** Left of the fence's time for the flip after the drain. */
const FLIP_MARGIN_MS = 2_000;


function toRecord(r: any): HandoverRecord {
  return {
    id: r.id,
    context: r.context,
    scope: r.scope,
    command: r.command,
    from: r.from_owner,
    to: r.to_owner,
    targetStage: r.target_stage,
    phase: r.phase,
    fenceDeadline: iso(r.fence_deadline)!,
    drainPosition: r.drain_position === null ? null : Number(r.drain_position),
    actor: r.actor,
    reason: r.reason,
    startedAt: iso(r.started_at)!,
    fencedAt: iso(r.fenced_at),
    flippedAt: iso(r.flipped_at),
    finishedAt: iso(r.finished_at),
    fenceMs: r.fence_ms === null ? null : Number(r.fence_ms),
    error: r.error ?? null,
  };
}

/** The schema of each side's write fence for a context. */
export const fenceSchemas = (ctx: CarvableContext) => ({ monolith: ctx.forwardSync.outboxSchema, service: ctx.schema });

/** What carries the old owner's events to the new owner. */
const drainSpec = (ctx: CarvableContext, to: Owner): SyncSpec => (to === 'service' ? ctx.forwardSync : ctx.reverseSync);

export class Handovers {
  constructor(private readonly sides: HandoverSides) {}

  private get cp(): Pool {
    return this.sides.control.pool;
  }

  private side(owner: Owner): Pool {
    return owner === 'monolith' ? this.sides.monolith : this.sides.service;
  }

  /** The open handover of a context (and scope), if any. */
  async open(context: string, scope = WHOLE_CONTEXT): Promise<HandoverRecord | null> {
    const r = await this.cp.query(`SELECT * FROM carve.handovers WHERE context = $1 AND scope = $2 AND phase NOT IN ('done', 'undone')`, [context, scope]);
    return r.rows[0] ? toRecord(r.rows[0]) : null;
  }

  /** Every open handover of a context, whatever its scope (oldest first). */
  async openAll(context: string): Promise<HandoverRecord[]> {
    const r = await this.cp.query(`SELECT * FROM carve.handovers WHERE context = $1 AND phase NOT IN ('done', 'undone') ORDER BY started_at`, [context]);
    return r.rows.map(toRecord);
  }

  /**
   * The fence rows a handover of `scope` moves on both sides: the workspace's, or for the whole
   * context the context-wide row and every workspace row either side holds.
   */
  private async scopesOf(ctx: CarvableContext, scope: string): Promise<string[]> {
    if (scope !== WHOLE_CONTEXT) return [scope];
    const schemas = fenceSchemas(ctx);
    const rows = await Promise.all([readFence(this.sides.monolith, schemas.monolith, ctx.name), readFence(this.sides.service, schemas.service, ctx.name)]);
    return [...new Set([WHOLE_CONTEXT, ...rows.flat().map((r) => r.scope)])];
  }

  /** The newest handovers of a context, newest first. */
  async recent(context: string, limit = 5): Promise<HandoverRecord[]> {
    const r = await this.cp.query(`SELECT * FROM carve.handovers WHERE context = $1 ORDER BY started_at DESC LIMIT $2`, [context, limit]);
    return r.rows.map(toRecord);
  }

  private async advance(id: string, phase: HandoverPhase, set: Record<string, unknown> = {}): Promise<HandoverRecord> {
    const cols = Object.keys(set);
    const r = await this.cp.query(
      `UPDATE carve.handovers SET phase = $2${cols.map((c, i) => `, ${c} = $${i + 3}`).join('')} WHERE id = $1 RETURNING *`,
      [id, phase, ...cols.map((c) => set[c])],
    );
    return toRecord(r.rows[0]);
  }

  /**
   * Runs a handover to the end, or undoes it (HandoverAbortedError, the owner unchanged) when
   * the drain does not finish in time or the fence expired before the flip. The caller holds the
   * context's lock and has recovered any open handover first.
   */
  async run(plan: HandoverPlan): Promise<HandoverRecord> {
    const { ctx } = plan;
    const scope = plan.scope ?? WHOLE_CONTEXT;
    const from: Owner = plan.to === 'service' ? 'monolith' : 'service';
    const ttl = plan.fenceTtlMs ?? DEFAULT_FENCE_TTL_MS;
    const schemas = fenceSchemas(ctx);
    const spec = drainSpec(ctx, plan.to);
    // 0. Catch up before fencing (writes still flow): the new owner applies what the old one had
    //    committed so far, so the fenced drain has only the last moments left. Bounded; a sync
    //    that does not catch up here is waited for under the fence, or the handover is undone.
    try {
      await waitForDrain(this.sides.drain, spec, { upTo: await outboxPosition(this.sides.drain, spec), timeoutMs: plan.catchUpMs ?? 5_000, pollMs: 20 });
    } catch {
      // not caught up (or not measurable) yet: the fenced drain below waits, or undoes the handover
    }
    const id = randomUUID();
    const log = plan.log ?? (() => undefined);
    let h = toRecord(
      (
        await this.cp.query(
          `INSERT INTO carve.handovers (id, context, scope, command, from_owner, to_owner, target_stage, phase, fence_deadline, actor, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'fencing', clock_timestamp() + make_interval(secs => $8::double precision / 1000), $9, $10) RETURNING *`,
          [id, ctx.name, scope, plan.command, from, plan.to, plan.targetStage, ttl, plan.actor, plan.reason],
        )
      ).rows[0],
    );
    const started = Date.now();
    try {
      const scopes = await this.scopesOf(ctx, scope);
      // 1. Fence: the new side first (it must not take writes yet), then the old owner.
      await fenceSide(this.side(plan.to), schemas[plan.to], { context: ctx.name, scopes, ttlMs: ttl, handoverId: id, ownerIfNew: false });
      await fenceSide(this.side(from), schemas[from], { context: ctx.name, scopes, ttlMs: ttl, handoverId: id, ownerIfNew: true, lockTimeoutMs: ttl / 2 });
      const fencedAt = Date.now();
      log(`${ctx.name}: writes fenced on both sides (${fencedAt - started} ms); draining ${from} → ${plan.to}`);
      // 2. Drain by position.
      const position = await outboxPosition(this.sides.drain, spec);
      h = await this.advance(id, 'draining', { fenced_at: new Date(fencedAt), drain_position: position });
      const drainTimeout = plan.drainTimeoutMs ?? Math.max(500, ttl - FLIP_MARGIN_MS - (Date.now() - started));
      await waitForDrain(this.sides.drain, spec, { upTo: position, timeoutMs: drainTimeout, pollMs: 10, onPoll: plan.onPoll });
      // 3. Flip: the old side gives up (only under its fence), then the new side takes over.
      h = await this.advance(id, 'flipping', { drained_at: new Date() });
      await setSideOwner(this.side(from), schemas[from], { context: ctx.name, scopes, owner: false, handoverId: id, requireFence: true, keepFenced: true });
    } catch (err) {
      // A failure in the flip other than an expired fence may come after the old side's flip
      // committed: undoing then could leave neither side the owner. The handover stays open and
      // the next command decides from the old side's row (recover).
      if (h.phase === 'flipping' && !(err instanceof FenceExpiredError)) throw err;
      const undone = await this.undo(h, ctx, (err as Error).message);
      const why =
        err instanceof DrainTimeoutError
          ? `the drain did not finish: ${err.message}`
          : err instanceof FenceExpiredError
            ? err.message
            : `it failed: ${(err as Error).message}`;
      const what = scope === WHOLE_CONTEXT ? `${ctx.name}'s writes` : `the writes of workspace ${scope} of ${ctx.name}`;
      throw new HandoverAbortedError(`the handover of ${what} to the ${plan.to} was undone (${why}); the ${from} still owns them`, undone, err);
    }
    return this.finish(h, ctx, plan.switchRoutes, started);
  }

  /** From the flip on: the new side takes the writes, routes follow, the old side's fence lifts. */
  private async finish(h: HandoverRecord, ctx: CarvableContext, switchRoutes: (h: HandoverRecord) => Promise<void>, started?: number): Promise<HandoverRecord> {
    const schemas = fenceSchemas(ctx);
    const scopes = await this.scopesOf(ctx, h.scope);
    await setSideOwner(this.side(h.to), schemas[h.to], { context: ctx.name, scopes, owner: true, handoverId: h.id });
    h = await this.advance(h.id, 'routing', { flipped_at: new Date() });
    await switchRoutes(h);
    await unfenceSide(this.side(h.from), schemas[h.from], { context: ctx.name, handoverId: h.id });
    const fencedAt = h.fencedAt ? Date.parse(h.fencedAt) : (started ?? Date.now());
    return this.advance(h.id, 'done', { finished_at: new Date(), fence_ms: Date.now() - fencedAt });
  }

  /** Lifts a handover's fence on both sides with the owners as they were, and marks it undone. */
  private async undo(h: HandoverRecord, ctx: CarvableContext, error: string): Promise<HandoverRecord> {
    const schemas = fenceSchemas(ctx);
    await unfenceSide(this.side(h.to), schemas[h.to], { context: ctx.name, handoverId: h.id }).catch(() => undefined);
    await unfenceSide(this.side(h.from), schemas[h.from], { context: ctx.name, handoverId: h.id }).catch(() => undefined);
    return this.advance(h.id, 'undone', { finished_at: new Date(), error });
  }

  /**
   * Brings an open handover of the context to an end: one that had not flipped is undone (the
   * old owner keeps the writes), one whose old side had given them up is finished. Returns what
   * was done, or null when nothing was open.
   */
  async recover(ctx: CarvableContext, switchRoutes: (h: HandoverRecord) => Promise<void>, scope = WHOLE_CONTEXT): Promise<{ record: HandoverRecord; action: 'undone' | 'finished' } | null> {
    const h = await this.open(ctx.name, scope);
    if (!h) return null;
    if (h.phase === 'fencing' || h.phase === 'draining') {
      return { record: await this.undo(h, ctx, 'interrupted before the flip; undone by the next command'), action: 'undone' };
    }
    const schemas = fenceSchemas(ctx);
    const oldRows = await readFence(this.side(h.from), schemas[h.from], ctx.name);
    const oldRow = oldRows.find((r) => r.scope === h.scope);
    const oldGaveUp = oldRow !== undefined && !oldRow.owner;
    if (h.phase === 'flipping' && !oldGaveUp) {
      return { record: await this.undo(h, ctx, 'interrupted before the old owner gave the writes up; undone by the next command'), action: 'undone' };
    }
    return { record: await this.finish(h, ctx, switchRoutes), action: 'finished' };
  }
}
