import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
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

// ---------------------------------------------------------------------------------------------
// The compiled table
// ---------------------------------------------------------------------------------------------

export type StickyBy =
  | { readonly kind: 'tenant' }
  | { readonly kind: 'user' }
  | { readonly kind: 'none' }
  | { readonly kind: 'header'; readonly name: string };

export interface Upstream {
  readonly name: string;
  readonly url: string;
  readonly health?: string;
  readonly timeoutMs?: number;
}

export interface CompareOptions {
  readonly sample: number;
  readonly ignore: readonly string[];
  readonly sortArraysBy: Readonly<Record<string, string>>;
  readonly timestampToleranceMs?: number;
  readonly maxDifferences: number;
}

export interface GuardOptions {
  readonly maxErrorRate: number;
  readonly maxMismatchRate?: number;
  /** As written, e.g. "30s". */
  readonly window: string;
  readonly windowMs: number;
  readonly minRequests: number;
}

export interface Route {
  readonly id: string;
  readonly description?: string;
  /** Position in the file. */
  readonly index: number;
  readonly methods: readonly HttpMethod[];
  readonly path: string;
  /** Header conditions, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  /** The service upstream. */
  readonly target: string;
  /** The monolith upstream: the table's default. */
  readonly monolith: string;
  /** The mode in force: the file's, or an override's. */
  readonly mode: RouteMode;
  /**
   * Share of sticky keys the service answers, 0..100: the canary percent, 100 in service mode,
   * 0 in monolith and shadow modes.
   */
  readonly percent: number;
  readonly stickyBy: StickyBy;
  /** Salt of the canary hash (defaults to the target). */
  readonly cohort: string;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  readonly fallback: boolean;
  readonly compare: CompareOptions;
  readonly guard?: GuardOptions;
  readonly specificity: Specificity;
  /** Whether mode and percent come from a control-plane override rather than the file. */
  readonly overridden: boolean;
  /** The route as the file wrote it. */
  readonly doc: RouteDoc;
}

export interface RouteOverride {
  readonly routeId: string;
  readonly mode: RouteMode;
  readonly percent?: number;
}

export interface RouteTable {
  readonly upstreams: Readonly<Record<string, Upstream>>;
  /** The upstream for requests no route matches: the monolith. */
  readonly default: string;
  readonly routes: readonly Route[];
  /** Overrides in force (see applyOverrides). */
  readonly overrides: readonly RouteOverride[];
  /** The file as written. */
  readonly doc: RouteTableDoc;
}

export interface RouteTableError {
  /** Where: `routes[2].match.path`, `upstreams.insights.url`, or "" for the whole file. */
  readonly path: string;
  readonly message: string;
  /** 1-based position in the YAML text, when parsed from text. */
  readonly line?: number;
  readonly column?: number;
}

export type RouteTableResult =
  | { readonly ok: true; readonly table: RouteTable; readonly warnings: readonly RouteTableError[] }
  | { readonly ok: false; readonly errors: readonly RouteTableError[] };

const MATCHER = Symbol('carve.routing.matcher');
type WithMatcher = RouteTable & { readonly [MATCHER]: RouteMatcher };

/** @internal The matcher compiled with the table. */
export function matcherOf(table: RouteTable): RouteMatcher {
  const m = (table as WithMatcher)[MATCHER];
  if (!m) throw new TypeError('not a compiled route table: build one with parseRouteTable or validateRouteTable');
  return m;
}

const byIdCache = new WeakMap<RouteTable, Map<string, Route>>();

/** The route with this id, if any. */
export function findRoute(table: RouteTable, id: string): Route | undefined {
  let index = byIdCache.get(table);
  if (!index) byIdCache.set(table, (index = new Map(table.routes.map((r) => [r.id, r]))));
  return index.get(id);
}

/** One line per error: `routes[2].percent (line 14): percent is only for canary routes`. */
export function formatRouteTableErrors(errors: readonly RouteTableError[]): string {
  return errors
    .map((e) => {
      const where = e.path || '(file)';
      const at = e.line !== undefined ? ` (line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ''})` : '';
      return `${where}${at}: ${e.message}`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Paths of errors
// ---------------------------------------------------------------------------------------------

type Segs = ReadonlyArray<string | number>;
type Locate = (segs: Segs) => { line: number; column: number } | undefined;

interface Problem {
  readonly segs: Segs;
  readonly message: string;
}

export function formatPath(segs: Segs): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

function toErrors(problems: readonly Problem[], locate?: Locate): RouteTableError[] {
  const seen = new Set<string>();
  const out: RouteTableError[] = [];
  for (const p of problems) {
    const path = formatPath(p.segs);
    const key = `${path}\n${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const pos = locate?.(p.segs);
    out.push(pos ? { path, message: p.message, line: pos.line, column: pos.column } : { path, message: p.message });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema validation, with messages people can act on
// ---------------------------------------------------------------------------------------------

const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
addFormats(ajv, ['uri']);
const validateShape = ajv.compile<RouteTableDoc>(routeTableSchema);

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const describeValue = (v: unknown) => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${show(v)}`;
};

const NAME_RULE = 'must start with a letter or digit and use only letters, digits, ".", "_" and "-"';
const PATTERN_MESSAGES: Record<string, string> = {
  id: NAME_RULE,
  stickyBy: 'must be tenant, user, none or header:<name>',
  window: 'must be a duration like 500ms, 30s, 5m or 1h',
  path: 'must start with "/"',
  health: 'must start with "/"',
  url: 'must be an http:// or https:// URL',
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

function didYouMean(word: string, options: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/** The instance path as segments, with array indices as numbers. */
function instanceSegs(instancePath: string, root: unknown): Array<string | number> {
  const segs: Array<string | number> = [];
  let node: unknown = root;
  for (const raw of instancePath.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      segs.push(Number(key));
      node = node[Number(key)];
    } else {
      segs.push(key);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return segs;
}

function schemaProblems(errors: readonly ErrorObject[], root: unknown): Problem[] {
  const out: Problem[] = [];
  for (const e of errors) {
    const segs = instanceSegs(e.instancePath, root);
    const parent = (e.parentSchema ?? {}) as Record<string, any>;
    const last = segs[segs.length - 1];
    const got = `, got ${describeValue(e.data)}`;
    switch (e.keyword) {
      case 'propertyNames':
        break; // the nested error that explains it is reported on its own
      case 'required':
        out.push({ segs: [...segs, e.params.missingProperty], message: 'is required' });
        break;
      case 'additionalProperties': {
        const allowed = Object.keys(parent.properties ?? {});
        out.push({
          segs: [...segs, e.params.additionalProperty],
          message: `is not a known property${didYouMean(e.params.additionalProperty, allowed)}; known here: ${allowed.join(', ')}`,
        });
        break;
      }
      case 'enum':
        out.push({ segs, message: `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}${got}` });
        break;
      case 'type': {
        const t = String(e.params.type);
        const want = t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : t === 'integer' ? 'an integer' : `a ${t}`;
        out.push({ segs, message: `must be ${want}${got}` });
        break;
      }
      case 'minimum':
      case 'maximum':
        out.push({
          segs,
          message:
            parent.minimum !== undefined && parent.maximum !== undefined
              ? `must be between ${parent.minimum} and ${parent.maximum}${got}`
              : `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${e.params.limit}${got}`,
        });
        break;
      case 'pattern':
      case 'format':
      case 'maxLength':
        if (e.propertyName !== undefined) {
          out.push({ segs: [...segs, e.propertyName], message: `name ${show(e.propertyName)} ${NAME_RULE}` });
        } else {
          const friendly = typeof last === 'string' ? PATTERN_MESSAGES[last] : undefined;
          out.push({ segs, message: `${friendly ?? e.message ?? 'is not valid'}${got}` });
        }
        break;
      case 'uniqueItems':
        out.push({ segs, message: `lists ${show((e.data as unknown[])[e.params.j])} twice` });
        break;
      case 'minLength':
        out.push({ segs, message: 'must not be empty' });
        break;
      case 'minProperties':
        out.push({ segs, message: last === 'upstreams' ? 'must name at least one upstream' : `${e.message}` });
        break;
      default:
        out.push({ segs, message: e.message ?? `fails ${e.keyword}` });
    }
  }
  return out;
}

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
    specificity: specificityOf(p),
    overridden: false,
    doc: r,
  };
}

/** @internal Builds a frozen table around routes sharing one matcher. */
export function assembleTable(doc: RouteTableDoc, routes: Route[], matcher: RouteMatcher, overrides: readonly RouteOverride[]): RouteTable {
  const upstreams: Record<string, Upstream> = {};
  for (const [name, u] of Object.entries(doc.upstreams)) upstreams[name] = { name, ...u };
  const table = { upstreams, default: doc.default, routes, overrides: overrides.map((o) => ({ ...o })), doc };
  Object.defineProperty(table, MATCHER, { value: matcher, enumerable: false });
  return deepFreeze(table);
}

/** @internal A route with another mode and percent (used by applyOverrides). */
export function withMode(route: Route, mode: RouteMode, percent: number | undefined, overridden: boolean): Route {
  return deepFreeze({ ...route, mode, percent: effectivePercent(mode, percent), overridden });
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
