/**
 * The table in force: the file's routes with the control plane's overrides and per-workspace
 * overrides applied (@carve/shared-routing `applyOverrides`). It changes when the file reloads, when the control
 * plane's version moves (every replica LISTENs), and at once when this replica itself made a
 * change (so its own admin API answers with the new state without waiting for the NOTIFY).
 */
import { applyOverrides, type Route, type RouteOverride, type RouteTable, type RouteTableError, type WorkspaceOverride } from '@carve/shared-routing';
import type { StoredOverride, StoredWorkspaceOverride } from '@carve/shared-control-plane';

export interface RouteChange {
  readonly id: string;
  readonly before: { mode: string; percent: number } | null;
  readonly after: { mode: string; percent: number; overridden: boolean } | null;
}

export type AppliedListener = (table: RouteTable, changes: readonly RouteChange[]) => void;

export class RoutingState {
  private file: RouteTable;
  private overrides: StoredOverride[] = [];
  private workspaceOverrides: readonly WorkspaceOverride[] = [];
  private effective: RouteTable;
  private problems: readonly RouteTableError[] = [];
  private version = -1;
  private readonly listeners = new Set<AppliedListener>();

  constructor(file: RouteTable) {
    this.file = file;
    this.effective = file;
  }

  /** The table requests are routed with. */
  get table(): RouteTable {
    return this.effective;
  }

  get fileTable(): RouteTable {
    return this.file;
  }

  get controlVersion(): number {
    return this.version;
  }

  /** Overrides the table could not apply (unknown route, percent on a non-canary, ...). */
  get overrideProblems(): readonly RouteTableError[] {
    return this.problems;
  }

  overrideOf(routeId: string): StoredOverride | undefined {
    return this.overrides.find((o) => o.routeId === routeId);
  }

  allOverrides(): readonly StoredOverride[] {
    return this.overrides;
  }

  onApplied(listener: AppliedListener): void {
    this.listeners.add(listener);
  }

  setFile(table: RouteTable): void {
    this.file = table;
    this.recompute();
  }

  /** A snapshot from the control plane; older than what this replica already applied is ignored. */
  setOverrides(overrides: readonly StoredOverride[], version: number, workspaceOverrides: readonly StoredWorkspaceOverride[] = []): void {
    if (version < this.version) return;
    this.version = version;
    this.overrides = [...overrides];
    this.workspaceOverrides = workspaceOverrides.map((o) => ({ routeId: o.routeId, workspaceId: o.workspaceId, side: o.side }));
    this.recompute();
  }

  /** A change this replica just committed (version from the control plane). */
  applyLocal(routeId: string, override: StoredOverride | null, version: number): void {
    if (version <= this.version) return;
    this.version = version;
    this.overrides = this.overrides.filter((o) => o.routeId !== routeId);
    if (override) this.overrides.push(override);
    this.recompute();
  }

  /**
   * An override this replica applies for itself because the control plane could not record it
   * (the guard's rollback while the database is down). The next snapshot with a newer version
   * replaces it.
   */
  applyEmergency(override: StoredOverride): void {
    this.overrides = this.overrides.filter((o) => o.routeId !== override.routeId);
    this.overrides.push(override);
    this.recompute();
  }

  private recompute(): void {
    const before = this.effective;
    const list: RouteOverride[] = this.overrides.map((o) => ({
      routeId: o.routeId,
      mode: o.mode,
      ...(o.percent !== null ? { percent: o.percent } : {}),
    }));
    const { table, problems } = applyOverrides(this.file, list, this.workspaceOverrides);
    this.effective = table;
    this.problems = problems;
    const changes = diff(before, table);
    for (const l of this.listeners) l(table, changes);
  }
}

function diff(a: RouteTable, b: RouteTable): RouteChange[] {
  const old = new Map<string, Route>(a.routes.map((r) => [r.id, r]));
  const out: RouteChange[] = [];
  for (const r of b.routes) {
    const o = old.get(r.id);
    old.delete(r.id);
    if (!o || o.mode !== r.mode || o.percent !== r.percent || o.target !== r.target) {
      out.push({
        id: r.id,
        before: o ? { mode: o.mode, percent: o.percent } : null,
        after: { mode: r.mode, percent: r.percent, overridden: r.overridden },
      });
    }
  }
  for (const o of old.values()) out.push({ id: o.id, before: { mode: o.mode, percent: o.percent }, after: null });
  return out;
}
