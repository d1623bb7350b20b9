import {
  assembleTable,
  findRoute,
  formatPath,
  matcherOf,
  withMode,
  type Route,
  type RouteOverride,
  type RouteTable,
  type RouteTableError,
  type WorkspaceOverride,
} from './route-table';
import { ROUTE_MODES, type RouteMode } from './route-table.schema';

/**
 * Problems with one override against a table (paths relative to the override: `routeId`,
 * `mode`, `percent`); empty when it can be applied. The admin API checks with this before it
 * stores an override.
 *
 * - the route must exist;
 * - mode is monolith, shadow, canary or service;
 * - percent is a number from 0 to 100, and only with mode canary;
 * - mode canary without percent keeps the file's percent, so the file's route must be a canary.
 */
export function validateOverride(table: RouteTable, override: RouteOverride): RouteTableError[] {
  const errors: RouteTableError[] = [];
  const o = override as Partial<Record<keyof RouteOverride, unknown>>;
  // Stryker disable next-line ConditionalExpression: findRoute finds no route for an id that is not a string
  const route = typeof o.routeId === 'string' ? findRoute(table, o.routeId) : undefined;
  if (typeof o.routeId !== 'string') errors.push({ path: 'routeId', message: 'must be a string' });
  else if (!route) errors.push({ path: 'routeId', message: `names no route: "${o.routeId}"` });
  if (!ROUTE_MODES.includes(o.mode as RouteMode)) {
    errors.push({ path: 'mode', message: `must be one of ${ROUTE_MODES.join(', ')}, got ${JSON.stringify(o.mode)}` });
  }
  if (o.percent !== undefined) {
    // Stryker disable next-line ConditionalExpression: Number.isFinite of anything but a number is false, so dropping the typeof refuses the same overrides
    if (typeof o.percent !== 'number' || !Number.isFinite(o.percent) || o.percent < 0 || o.percent > 100) {
      errors.push({ path: 'percent', message: `must be a number between 0 and 100, got ${JSON.stringify(o.percent)}` });
    } else if (o.mode !== 'canary') {
      errors.push({ path: 'percent', message: `is only for mode canary, not ${String(o.mode)}` });
    }
  } else if (o.mode === 'canary' && route && route.doc.mode !== 'canary') {
    errors.push({ path: 'percent', message: `is required: route "${route.id}" is not a canary in the file, so there is no percent to keep` });
  }
  return errors;
}

/** Problems with one per-workspace override against a table (empty when it can be applied). */
export function validateWorkspaceOverride(table: RouteTable, override: WorkspaceOverride): RouteTableError[] {
  const errors: RouteTableError[] = [];
  const o = override as Partial<Record<keyof WorkspaceOverride, unknown>>;
  if (typeof o.routeId !== 'string') errors.push({ path: 'routeId', message: 'must be a string' });
  else if (!findRoute(table, o.routeId)) errors.push({ path: 'routeId', message: `names no route: "${o.routeId}"` });
  if (typeof o.workspaceId !== 'string' || o.workspaceId.trim() === '') errors.push({ path: 'workspaceId', message: 'must be a non-empty string' });
  if (o.side !== 'monolith' && o.side !== 'service') errors.push({ path: 'side', message: `must be monolith or service, got ${JSON.stringify(o.side)}` });
  return errors;
}

export interface AppliedOverrides {
  /** The table with every valid override in force. */
  readonly table: RouteTable;
  /** Overrides that were skipped, and why (`overrides[1].routeId: names no route: "x"`). */
  readonly problems: readonly RouteTableError[];
}

/**
 * A new table where the control plane's overrides beat the file's mode and percent, and its
 * per-workspace overrides sit on top of both (a listed workspace goes to its side whatever the
 * route's mode; workspace ids compare lower-cased).
 *
 * Overrides replace rather than stack: they are applied to the file's routes, so applying `[]`
 * restores the file, and an override removed from the control plane stops counting. An invalid
 * override (unknown route id, bad mode or percent) is skipped and reported; the others still
 * apply, so one stale row cannot stop every replica from taking the rest. When two overrides
 * name one route, the later wins (and the earlier is reported). Matching is unaffected, so the
 * compiled matcher is shared with the given table.
 */
export function applyOverrides(table: RouteTable, overrides: readonly RouteOverride[], workspaceOverrides: readonly WorkspaceOverride[] = []): AppliedOverrides {
  const problems: RouteTableError[] = [];
  const perRoute = new Map<string, Map<string, 'monolith' | 'service'>>();
  const keptWorkspaces: WorkspaceOverride[] = [];
  workspaceOverrides.forEach((o, i) => {
    const errors = validateWorkspaceOverride(table, o);
    if (errors.length > 0) {
      for (const e of errors) problems.push({ path: formatPath(['workspaceOverrides', i, e.path]), message: e.message });
      return;
    }
    let sides = perRoute.get(o.routeId);
    if (!sides) perRoute.set(o.routeId, (sides = new Map()));
    sides.set(o.workspaceId.toLowerCase(), o.side);
    keptWorkspaces.push(o);
  });
  const chosen = new Map<string, { override: RouteOverride; at: number }>();
  overrides.forEach((override, i) => {
    const errors = validateOverride(table, override);
    if (errors.length > 0) {
      for (const e of errors) problems.push({ path: formatPath(['overrides', i, e.path]), message: e.message });
      return;
    }
    const earlier = chosen.get(override.routeId);
    if (earlier) {
      problems.push({ path: formatPath(['overrides', earlier.at]), message: `replaced by overrides[${i}] for the same route "${override.routeId}"` });
    }
    chosen.set(override.routeId, { override, at: i });
  });

  const routes: Route[] = table.routes.map((route) => {
    const o = chosen.get(route.id)?.override;
    const workspaces = perRoute.get(route.id);
    if (o) {
      // Stryker disable next-line ConditionalExpression: withMode ignores a percent for any mode but canary
      const percent = o.mode === 'canary' ? (o.percent ?? route.doc.percent) : undefined;
      return withMode(route, o.mode, percent, true, workspaces);
    }
    // Stryker disable next-line ConditionalExpression: a copy of a route without overrides has the same content as the route
    return route.overridden || workspaces || route.workspaces ? withMode(route, route.doc.mode, route.doc.percent, false, workspaces) : route;
  });
  const applied = [...chosen.values()].sort((a, b) => a.at - b.at).map(({ override }) => override);
  return { table: assembleTable(table.doc, routes, matcherOf(table), applied, keptWorkspaces), problems };
}
