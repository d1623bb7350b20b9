/**
 * Compiling a checked route table: each route with its defaults filled in (compare, guard, body
 * limit, stickiness, effective percent), frozen, and the table around them with its matcher.
 */
import { DEFAULT_MAX_DIFFERENCES } from './compare';
import { RouteMatcher } from './matcher';
import { type PathPattern } from './path-pattern';
import { type RouteMode, type RouteTableDoc } from './route-table.schema';
import { type Prepared, specificityOf } from './route-table.checks';
import { parseDuration } from './window';

import { type CompareOptions, DEFAULT_UPSTREAM_BODY_LIMIT, type GuardOptions, MATCHER, type Route, type RouteOverride, type RouteTable, type StickyBy, type Upstream, type WorkspaceOverride } from './route-table.model';

function parseStickyBy(text: string): StickyBy {
  if (text === 'tenant' || text === 'user' || text === 'none') return { kind: text };
  return { kind: 'header', name: text.slice('header:'.length).toLowerCase() };
}

function effectivePercent(mode: RouteMode, percent: number | undefined): number {
  if (mode === 'canary') return percent ?? 0;
  return mode === 'service' ? 100 : 0;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function compileRoute(p: Prepared & { pattern: PathPattern }, table: RouteTableDoc): Route {
  const r = p.doc;
  const compare: CompareOptions = {
    sample: r.compare?.sample ?? 1,
    noiseSample: r.compare?.noiseSample ?? 0,
    ignore: [...(r.compare?.ignore ?? [])],
    sortArraysBy: { ...(r.compare?.sortArraysBy ?? {}) },
    ...(r.compare?.timestampToleranceMs !== undefined ? { timestampToleranceMs: r.compare.timestampToleranceMs } : {}),
    maxDifferences: r.compare?.maxDifferences ?? DEFAULT_MAX_DIFFERENCES,
  };
  const window = r.guard?.window ?? '30s';
  const guard: GuardOptions | undefined = r.guard && {
    maxErrorRate: r.guard.maxErrorRate,
    ...(r.guard.maxMismatchRate !== undefined ? { maxMismatchRate: r.guard.maxMismatchRate } : {}),
    window,
    windowMs: parseDuration(window) as number,
    minRequests: r.guard.minRequests ?? 20,
  };
  return {
    id: r.id,
    ...(r.description !== undefined ? { description: r.description } : {}),
    index: p.index,
    methods: [...p.methods],
    path: r.match.path,
    headers: p.headers,
    query: p.query,
    target: r.target,
    monolith: table.default,
    mode: r.mode,
    percent: effectivePercent(r.mode, r.percent),
    stickyBy: parseStickyBy(r.stickyBy ?? 'tenant'),
    cohort: r.cohort ?? r.target,
    allow: [...(r.allow ?? [])],
    deny: [...(r.deny ?? [])],
    fallback: r.fallback ?? true,
    compare,
    ...(guard ? { guard } : {}),
    bodyLimitBytes:
      r.bodyLimitBytes ??
      Math.min(table.upstreams[r.target]?.bodyLimitBytes ?? DEFAULT_UPSTREAM_BODY_LIMIT, table.upstreams[table.default]?.bodyLimitBytes ?? DEFAULT_UPSTREAM_BODY_LIMIT),
    ...(r.limits ? { limits: { ...r.limits } } : {}),
    websocket: r.websocket ?? false,
    specificity: specificityOf(p),
    overridden: false,
    doc: r,
  };
}

/** @internal Builds a frozen table around routes sharing one matcher. */
export function assembleTable(
  doc: RouteTableDoc,
  routes: Route[],
  matcher: RouteMatcher,
  overrides: readonly RouteOverride[],
  workspaceOverrides: readonly WorkspaceOverride[] = [],
): RouteTable {
  const upstreams: Record<string, Upstream> = {};
  for (const [name, u] of Object.entries(doc.upstreams)) upstreams[name] = { name, ...u };
  const table = {
    upstreams,
    default: doc.default,
    routes,
    overrides: overrides.map((o) => ({ ...o })),
    ...(workspaceOverrides.length ? { workspaceOverrides: workspaceOverrides.map((o) => ({ ...o })) } : {}),
    doc,
  };
  Object.defineProperty(table, MATCHER, { value: matcher, enumerable: false });
  return deepFreeze(table);
}

/** @internal A route with another mode and percent (used by applyOverrides). */
export function withMode(
  route: Route,
  mode: RouteMode,
  percent: number | undefined,
  overridden: boolean,
  workspaces?: ReadonlyMap<string, 'monolith' | 'service'>,
): Route {
  const { workspaces: _old, ...rest } = route;
  return deepFreeze({ ...rest, mode, percent: effectivePercent(mode, percent), overridden, ...(workspaces?.size ? { workspaces } : {}) });
}
