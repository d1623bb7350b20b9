/**
 * Per-workspace carving: a workspace may be at another stage than its context (the internal
 * workspaces first, then a few customers, then the rest; one rolled back alone). The context's
 * stage (`carve.context_stages`) stays the default; a workspace with a row in
 * `carve.workspace_stages` is at that row's stage instead, and every gateway replica routes it by
 * the per-workspace route overrides written with the row (`carve.workspace_route_overrides`).
 * Who may write a workspace is still decided only by each side's write fence, whose row for the
 * workspace (scope = its id) beats the context-wide row; the handover scoped to the workspace
 * moves it (handover.ts).
 *
 * Per workspace, the stages are: reads (`carve stage <ctx> reads --workspace W`, from any read
 * stage of the context, after a verify of W), writes (`carve cutover <ctx> --writes --workspace
 * W`, from reads), complete (from writes), and back (`carve rollback <ctx> --workspace W`). A
 * workspace whose stage becomes its context's again loses its row: it follows the context.
 *
 * Pure functions first (the transition rules), then the queries that list a context's
 * workspaces.
 */
import type { Pool } from 'pg';
import type { CarvableContext } from './context';
import { checkTransition, ownerAt, type Owner, routeSettingFor, type Stage, stageIndex, type TransitionCheck } from './stages';

export interface WorkspaceStageRecord {
  readonly context: string;
  readonly workspaceId: string;
  readonly stage: Stage;
  readonly owner: Owner;
  readonly ownerSince: string | null;
  readonly updatedAt: string;
  readonly updatedBy: string;
  readonly reason: string;
  readonly version: number;
}

/** The stages `carve stage <ctx> <stage> --workspace W` may move a workspace to. */
export const WORKSPACE_STAGE_TARGETS: readonly Stage[] = ['reads-switched', 'complete'];

/**
 * Whether one workspace may move from `from` (its own stage, else its context's) to `to`:
 *
 * - `stage`: to reads (from any read stage: a workspace has no shadow or canary of its own, its
 *   reads move at once) or to complete (from writes-switched), as for a context otherwise;
 * - `cutover` and `rollback`: the context's rules (writes from reads-switched; back from anywhere).
 */
export function checkWorkspaceTransition(from: Stage, to: Stage, command: 'stage' | 'cutover' | 'rollback'): TransitionCheck {
  if (command === 'stage') {
    if (!WORKSPACE_STAGE_TARGETS.includes(to)) {
      return { ok: false, reason: `a workspace moves to reads or complete, not ${to}`, hint: 'shadow and canary are stages of the whole context (`carve stage <context> shadow`)' };
    }
    if (to === 'reads-switched' && ['backfilled', 'shadow', 'canary', 'reads-switched'].includes(from)) return { ok: true };
  }
  return checkTransition(from, to, command);
}

/** The side each of the context's routes sends a workspace at `stage` to. */
export function workspaceRouteSides(ctx: CarvableContext, stage: Stage): Array<{ routeId: string; side: 'monolith' | 'service' }> {
  return ctx.routes.map((r) => ({ routeId: r.id, side: routeSettingFor(stage, r.kind).mode === 'service' ? 'service' : 'monolith' }));
}

/** A workspace's stage and owner: its own row's, else its context's. */
export function effectiveStage(contextStage: Stage, row: WorkspaceStageRecord | undefined): { stage: Stage; owner: Owner } {
  const stage = row?.stage ?? contextStage;
  return { stage, owner: ownerAt(stage) };
}

/** Workspace ids as the fence and the gateway compare them: trimmed, lower-case, no duplicates, in order. */
export function normaliseWorkspaceIds(ids: readonly string[]): string[] {
  return [...new Set(ids.map((w) => w.trim().toLowerCase()).filter(Boolean))];
}

/**
 * Every workspace of the context, as the monolith (which creates them) holds them: the
 * descriptor's `workspaces.monolith` query, else the workspace ids of its verify projections.
 */
export async function listContextWorkspaces(ctx: CarvableContext, monolith: Pick<Pool, 'query'>): Promise<string[]> {
  const sql = ctx.workspaces
    ? `SELECT DISTINCT w.workspace_id::text AS id FROM (${ctx.workspaces.monolith}) w`
    : ctx.verify.map((v) => `SELECT DISTINCT x.workspace_id::text AS id FROM (${v.monolith}) x`).join(' UNION ');
  const r = await monolith.query(`SELECT id FROM (${sql}) ids ORDER BY id`);
  return r.rows.map((row) => String(row.id).toLowerCase());
}

/** How many workspaces are at each stage, and which (at most `listMax` ids per stage). */
export interface WorkspaceSummary {
  /** Every workspace of the context (null when they could not be listed). */
  readonly total: number | null;
  readonly byStage: ReadonlyArray<{ readonly stage: Stage; readonly owner: Owner; readonly count: number; readonly workspaces: readonly string[]; readonly followsContext: boolean }>;
  /** Workspaces at a stage of their own. */
  readonly overrides: readonly WorkspaceStageRecord[];
  /** Every workspace is at `complete`. */
  readonly complete: boolean;
  readonly error?: string;
}

export function summariseWorkspaces(
  contextStage: Stage,
  rows: readonly WorkspaceStageRecord[],
  all: readonly string[] | null,
  opts: { listMax?: number; error?: string } = {},
): WorkspaceSummary {
  const max = opts.listMax ?? 100;
  const own = new Map(rows.map((r) => [r.workspaceId, r]));
  const groups = new Map<Stage, { ids: string[]; count: number; followsContext: boolean }>();
  const add = (stage: Stage, id: string | null, followsContext: boolean) => {
    let g = groups.get(stage);
    if (!g) groups.set(stage, (g = { ids: [], count: 0, followsContext }));
    g.count += 1;
    g.followsContext ||= followsContext;
    if (id !== null && g.ids.length < max) g.ids.push(id);
  };
  for (const r of rows) add(r.stage, r.workspaceId, false);
  if (all) for (const id of all) if (!own.has(id)) add(contextStage, id, true);
  if (!groups.has(contextStage)) groups.set(contextStage, { ids: [], count: 0, followsContext: true });
  const byStage = [...groups.entries()]
    .sort((a, b) => stageIndex(a[0]) - stageIndex(b[0]))
    .map(([stage, g]) => ({ stage, owner: ownerAt(stage), count: g.count, workspaces: g.ids, followsContext: g.followsContext }));
  const complete = all !== null ? byStage.every((g) => g.count === 0 || g.stage === 'complete') : contextStage === 'complete' && rows.every((r) => r.stage === 'complete');
  return { total: all ? all.length : null, byStage, overrides: rows, complete, ...(opts.error ? { error: opts.error } : {}) };
}
