/**
 * Parsing and checking a route table: the YAML read with positions, the schema (route-table.messages),
 * the checks across fields (modes and percents, methods, overlapping routes, compare and guard
 * settings) and the compiled, frozen table (route-table.model) with its matcher.
 */
import { LineCounter, parseDocument, type Document } from 'yaml';
import { checkCompareConfig, DEFAULT_MAX_DIFFERENCES } from './compare';
import { RouteMatcher, type MatcherEntry } from './matcher';
import {
  describeSpecificity,
  intersectPatterns,
  parsePathPattern,
  rankOf,
  type PathPattern,
  type Specificity,
} from './path-pattern';
import { HTTP_METHODS, routeTableSchema, type HttpMethod, type RouteDoc, type RouteMode, type RouteTableDoc } from './route-table.schema';
import { parseDuration } from './window';

import { ajv, didYouMean, schemaProblems, validateShape } from './route-table.messages';
import { type Locate, type Problem, type Segs, toErrors } from './route-table.errors';
import {
  type CompareOptions,
  DEFAULT_UPSTREAM_BODY_LIMIT,
  type GuardOptions,
  MATCHER,
  type Route,
  type RouteOverride,
  type RouteTable,
  type RouteTableResult,
  type StickyBy,
  type Upstream,
  type WorkspaceOverride,
} from './route-table.model';

export * from './route-table.model';
export { formatPath } from './route-table.errors';

// ---------------------------------------------------------------------------------------------
// Checks across fields, then compilation
// ---------------------------------------------------------------------------------------------

function parseStickyBy(text: string): StickyBy {
  if (text === 'tenant' || text === 'user' || text === 'none') return { kind: text };
  return { kind: 'header', name: text.slice('header:'.length).toLowerCase() };
}

function effectivePercent(mode: RouteMode, percent: number | undefined): number {
  if (mode === 'canary') return percent ?? 0;
  return mode === 'service' ? 100 : 0;
}

const UNSAFE = ['POST', 'PUT', 'PATCH', 'DELETE'];

interface Prepared {
  readonly doc: RouteDoc;
  readonly index: number;
  readonly pattern: PathPattern | undefined;
  readonly methods: readonly HttpMethod[];
  readonly headers: Record<string, string>;
  readonly query: Record<string, string>;
}

interface Checkable {
  readonly upstreams: readonly string[];
  /** Body limits of the upstreams, by name (sound entries only). */
  readonly bodyLimits?: Readonly<Record<string, number>>;
  readonly default: string;
  /** Routes whose own shape is valid, with their position in the file. */
  readonly routes: ReadonlyArray<{ readonly doc: RouteDoc; readonly index: number }>;
}

function checkTable(t: Checkable): { problems: Problem[]; warnings: Problem[]; prepared: Prepared[] } {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const names = t.upstreams;
  const has = (name: string) => names.includes(name);
  if (!has(t.default)) {
    problems.push({ segs: ['default'], message: `names no upstream: "${t.default}"${didYouMean(t.default, names)}; upstreams: ${names.join(', ')}` });
  }
  const firstIndex = new Map<string, number>();
  const prepared: Prepared[] = t.routes.map(({ doc: r, index: i }) => {
    const at = (...rest: Array<string | number>) => ['routes', i, ...rest];
    const first = firstIndex.get(r.id);
    if (first !== undefined) problems.push({ segs: at('id'), message: `duplicate route id "${r.id}" (first used by routes[${first}])` });
    else firstIndex.set(r.id, i);

    if (!has(r.target)) {
      problems.push({ segs: at('target'), message: `names no upstream: "${r.target}"${didYouMean(r.target, names)}; upstreams: ${names.join(', ')}` });
    } else if (r.target === t.default) {
      problems.push({
        segs: at('target'),
        message: `must be a service upstream, not the default upstream "${t.default}"; to keep this path on the monolith, use mode: monolith`,
      });
    }

    if (r.mode === 'canary' && r.percent === undefined) {
      problems.push({ segs: at('percent'), message: 'is required for a canary route (0 to 100)' });
    } else if (r.mode !== 'canary' && r.percent !== undefined) {
      problems.push({ segs: at('percent'), message: `is only for canary routes; this route's mode is ${r.mode}` });
    }

    const both = (r.allow ?? []).filter((id) => (r.deny ?? []).includes(id));
    if (both.length > 0) problems.push({ segs: at('deny'), message: `${both.map((b) => `"${b}"`).join(', ')} also in allow: an id is either always or never on the service` });

    if (r.bodyLimitBytes !== undefined && t.bodyLimits) {
      for (const side of [r.target, t.default]) {
        const max = has(side) ? (t.bodyLimits[side] ?? DEFAULT_UPSTREAM_BODY_LIMIT) : undefined;
        if (max !== undefined && r.bodyLimitBytes > max) {
          problems.push({ segs: at('bodyLimitBytes'), message: `is ${r.bodyLimitBytes}, more than upstream "${side}" accepts (${max}); raise upstreams.${side}.bodyLimitBytes first if it really takes more` });
          break;
        }
      }
    }

    const parsed = parsePathPattern(r.match.path);
    if (!parsed.ok) problems.push({ segs: at('match', 'path'), message: parsed.message });

    if (r.compare) for (const p of checkCompareConfig(r.compare)) problems.push({ segs: at('compare', ...p.where), message: p.message });
    if (r.guard?.window !== undefined && parseDuration(r.guard.window) === undefined) {
      problems.push({ segs: at('guard', 'window'), message: `is not a duration: "${r.guard.window}"` });
    }

    const methods = r.match.methods ?? HTTP_METHODS;
    if (r.mode === 'canary') {
      const writes = methods.filter((m) => UNSAFE.includes(m));
      if (writes.length > 0) {
        warnings.push({
          segs: at('match', 'methods'),
          message: `canary route "${r.id}" sends ${writes.join(', ')} of some tenants to the service while the monolith is the source of truth; canary only reads until writes are switched`,
        });
      }
    }
    if (r.mode === 'shadow' && !methods.some((m) => m === 'GET' || m === 'HEAD')) {
      warnings.push({ segs: at('match', 'methods'), message: `shadow route "${r.id}" takes no GET or HEAD: nothing will be shadowed (writes never are)` });
    }

    // fromEntries defines own properties, so even a header named __proto__ stays a condition.
    const headers: Record<string, string> = Object.fromEntries(Object.entries(r.match.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    if (Object.keys(headers).length !== Object.keys(r.match.headers ?? {}).length) {
      problems.push({ segs: at('match', 'headers'), message: 'names one header twice (header names are case-insensitive)' });
    }
    return { doc: r, index: i, pattern: parsed.ok ? parsed.pattern : undefined, methods, headers, query: { ...(r.match.query ?? {}) } };
  });

  problems.push(...overlapProblems(prepared));
  return { problems, warnings, prepared };
}

function specificityOf(p: Prepared & { pattern: PathPattern }): Specificity {
  return {
    literals: p.pattern.literals,
    params: p.pattern.params,
    wildcard: p.pattern.wildcard,
    conditions: Object.keys(p.headers).length + Object.keys(p.query).length,
  };
}

function compatible(a: Record<string, string>, b: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(a)) if (k in b && b[k] !== v) return false;
  return true;
}

function describeConditions(p: Prepared, q: Prepared): string {
  const h = { ...p.headers, ...q.headers };
  const qs = { ...p.query, ...q.query };
  const parts = [
    ...Object.entries(h).map(([k, v]) => `${k}: ${v}`),
    ...(Object.keys(qs).length ? [`?${Object.entries(qs).map(([k, v]) => `${k}=${v}`).join('&')}`] : []),
  ];
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** Pairs of routes of equal specificity that one request can match: the table is ambiguous. */
function overlapProblems(prepared: readonly Prepared[]): Problem[] {
  const groups = new Map<number, Array<Prepared & { pattern: PathPattern }>>();
  for (const p of prepared) {
    if (!p.pattern) continue;
    const withPattern = p as Prepared & { pattern: PathPattern };
    const rank = rankOf(specificityOf(withPattern));
    let g = groups.get(rank);
    if (!g) groups.set(rank, (g = []));
    g.push(withPattern);
  }
  const out: Problem[] = [];
  for (const group of groups.values()) {
    for (let j = 1; j < group.length; j++) {
      for (let i = 0; i < j; i++) {
        const a = group[i];
        const b = group[j];
        const common = a.methods.filter((m) => b.methods.includes(m));
        if (common.length === 0) continue;
        if (!compatible(a.headers, b.headers) || !compatible(a.query, b.query)) continue;
        const both = intersectPatterns(a.pattern, b.pattern);
        if (both === null) continue;
        out.push({
          segs: ['routes', b.index, 'match'],
          message:
            `ambiguous overlap: routes "${a.doc.id}" (routes[${a.index}]) and "${b.doc.id}" (routes[${b.index}]) both match ` +
            `${common.length === HTTP_METHODS.length ? 'any method' : common.join('|')} ${both}${describeConditions(a, b)} with equal specificity (${describeSpecificity(specificityOf(a))}); ` +
            'make one more specific (a literal segment, a header or query condition) or split their methods',
        });
      }
    }
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function compileRoute(p: Prepared & { pattern: PathPattern }, table: RouteTableDoc): Route {
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

const validateRouteShape = ajv.getSchema<RouteDoc>(`${routeTableSchema.$id}#/$defs/route`)!;

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The parts of an invalid file that are sound enough for the checks across fields. */
function salvage(input: unknown): Checkable | undefined {
  if (!isRecord(input) || !isRecord(input.upstreams) || typeof input.default !== 'string') return undefined;
  const routes = Array.isArray(input.routes) ? input.routes : [];
  return {
    upstreams: Object.keys(input.upstreams),
    default: input.default,
    routes: routes.flatMap((doc: unknown, index) => (validateRouteShape(doc) ? [{ doc: doc as RouteDoc, index }] : [])),
  };
}

/** Errors in file order: the top-level fields, then route by route. */
function inFileOrder(problems: Problem[]): Problem[] {
  const order = (p: Problem) => (p.segs[0] === 'routes' && typeof p.segs[1] === 'number' ? p.segs[1] + 1 : 0);
  return problems.map((p, i) => ({ p, i })).sort((a, b) => order(a.p) - order(b.p) || a.i - b.i).map(({ p }) => p);
}

function validate(input: unknown, locate?: Locate): RouteTableResult {
  if (!validateShape(input)) {
    // Report the shape errors together with the cross-field errors of the sound parts, so one
    // round trip shows a typo and an unknown upstream alike.
    const problems = schemaProblems(validateShape.errors ?? [], input);
    const sound = salvage(input);
    if (sound) {
      problems.push(...checkTable(sound).problems);
      // A route with a shape error still gets its target checked.
      const checked = new Set(sound.routes.map((r) => r.index));
      ((input as { routes?: unknown }).routes as unknown[] | undefined)?.forEach?.((r, index) => {
        const target = isRecord(r) ? r.target : undefined;
        if (checked.has(index) || typeof target !== 'string' || sound.upstreams.includes(target)) return;
        problems.push({ segs: ['routes', index, 'target'], message: `names no upstream: "${target}"${didYouMean(target, sound.upstreams)}; upstreams: ${sound.upstreams.join(', ')}` });
      });
    }
    return { ok: false, errors: toErrors(inFileOrder(problems), locate) };
  }
  const doc = deepFreeze(structuredClone(input));
  const { problems, warnings, prepared } = checkTable({
    upstreams: Object.keys(doc.upstreams),
    bodyLimits: Object.fromEntries(Object.entries(doc.upstreams).map(([name, u]) => [name, u.bodyLimitBytes ?? DEFAULT_UPSTREAM_BODY_LIMIT])),
    default: doc.default,
    routes: (doc.routes ?? []).map((r, index) => ({ doc: r, index })),
  });
  if (problems.length > 0) return { ok: false, errors: toErrors(inFileOrder(problems), locate) };
  const withPatterns = prepared as Array<Prepared & { pattern: PathPattern }>;
  const routes = withPatterns.map((p) => compileRoute(p, doc));
  const entries: MatcherEntry[] = routes.map((r, i) => ({
    pattern: withPatterns[i].pattern,
    methods: new Set<string>(r.methods),
    headers: Object.entries(r.headers),
    query: Object.entries(r.query),
    rank: rankOf(r.specificity),
  }));
  const table = assembleTable(doc, routes, new RouteMatcher(entries), []);
  return { ok: true, table, warnings: toErrors(warnings, locate) };
}

/**
 * Checks a route table given as data (already parsed from YAML or JSON) against the schema and
 * the rules across fields, and compiles it: a frozen table with its matcher, or every error
 * found. The input is not modified.
 */
export function validateRouteTable(input: unknown): RouteTableResult {
  return validate(input);
}

/**
 * Parses a route table from YAML (JSON is YAML too) and validates it. Errors carry the line and
 * column of the offending node.
 */
export function parseRouteTable(text: string): RouteTableResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // The first syntax error is the one to fix; later ones are usually its echoes.
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    const src = text.split('\n')[pos.line - 1] ?? '';
    const hint = /\[[^\]]*\$[.[]/.test(src)
      ? "; quote JSONPath expressions inside [ ] lists, e.g. ignore: ['$.items[*].updatedAt'], or write them as a block list"
      : '';
    return { ok: false, errors: [{ path: '', message: `YAML: ${e.message}${hint}`, line: pos.line, column: pos.col }] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, errors: [{ path: '', message: `YAML: ${(err as Error).message}` }] };
  }
  return validate(value, (segs) => locate(doc, lineCounter, segs));
}

function locate(doc: Document, lineCounter: LineCounter, segs: Segs): { line: number; column: number } | undefined {
  for (let n = segs.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) {
      const pos = lineCounter.linePos(range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return undefined;
}
