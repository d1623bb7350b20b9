import { formatSegment, JsonPathSet, parseJsonPath, type JsonPathSegment, type PathState } from './json-path';

/**
 * Shadow comparison: is the service's answer the monolith's answer?
 *
 * Statuses must be equal. Bodies (parsed JSON, or any other value compared by equality) are
 * walked together, and every place where they differ is reported with its path, up to
 * `maxDifferences`. Three normalisers keep noise out:
 *
 * - `ignore`: JSONPath-like patterns (see json-path.ts) whose subtrees are not compared.
 * - `sortArraysBy`: `{ "$.items": "id" }` compares the arrays at those paths as sets of
 *   elements keyed by the property: order does not matter, and a missing or extra element is
 *   reported once under its key (`$.items[id=42]`) instead of shifting every later index.
 *   Elements without the key (or that are not objects) are compared by position among
 *   themselves.
 * - `timestampToleranceMs`: two ISO-8601 date-time strings compare equal when they denote
 *   instants no more than this far apart. 0 still equates different spellings of the same
 *   instant (`...00.000Z` and `...00+00:00`); leaving it out compares them as plain strings.
 *
 * The work is bounded: comparison stops at `maxDifferences` (reported as `truncated`), and
 * nesting deeper than 256 levels is compared as a whole. Bodies themselves must be capped by
 * the caller (the gateway buffers shadowed bodies up to a size limit).
 */

export interface ComparedResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface CompareConfig {
  readonly ignore?: readonly string[];
  readonly sortArraysBy?: Readonly<Record<string, string>>;
  readonly timestampToleranceMs?: number;
  readonly maxDifferences?: number;
}

export type DifferenceKind = 'status' | 'changed' | 'type' | 'only-monolith' | 'only-service';

export interface Difference {
  /** `status`, or a body path like `$.items[3].title` / `$.items[id=42]`. */
  readonly path: string;
  readonly kind: DifferenceKind;
  /** The monolith's value (undefined when only the service has one). */
  readonly monolith: unknown;
  /** The service's value (undefined when only the monolith has one). */
  readonly service: unknown;
}

export interface Comparison {
  readonly equal: boolean;
  readonly differences: readonly Difference[];
  /** True when comparison stopped at maxDifferences: there may be more. */
  readonly truncated: boolean;
}

export const DEFAULT_MAX_DIFFERENCES = 20;
const MAX_DEPTH = 256;

interface Compiled {
  readonly paths: JsonPathSet;
  readonly ignoreCount: number;
  readonly sortKeys: readonly string[];
  readonly tolerance: number | undefined;
  readonly max: number;
}

const cache = new WeakMap<object, Compiled>();
const DEFAULTS: Compiled = compile({});

/** Checks the patterns of a compare block; returns one message per bad pattern (empty if fine). */
export function checkCompareConfig(config: CompareConfig): Array<{ where: JsonPathSegment[]; message: string }> {
  const problems: Array<{ where: JsonPathSegment[]; message: string }> = [];
  (config.ignore ?? []).forEach((p, i) => {
    const r = parseJsonPath(p);
    if (!r.ok) problems.push({ where: ['ignore', i], message: r.message });
  });
  for (const p of Object.keys(config.sortArraysBy ?? {})) {
    const r = parseJsonPath(p);
    if (!r.ok) problems.push({ where: ['sortArraysBy', p], message: r.message });
  }
  return problems;
}

function compile(config: CompareConfig): Compiled {
  const ignore = config.ignore ?? [];
  const sortBy = Object.entries(config.sortArraysBy ?? {});
  return {
    paths: new JsonPathSet([...ignore, ...sortBy.map(([p]) => p)]),
    ignoreCount: ignore.length,
    sortKeys: sortBy.map(([, key]) => key),
    tolerance: config.timestampToleranceMs,
    max: config.maxDifferences ?? DEFAULT_MAX_DIFFERENCES,
  };
}

function compiled(config: CompareConfig | undefined): Compiled {
  if (!config) return DEFAULTS;
  let c = cache.get(config);
  // Stryker disable next-line ConditionalExpression: a cache: compiling the same config again gives the same result
  if (!c) cache.set(config, (c = compile(config)));
  return c;
}

export function compareResponses(monolith: ComparedResponse, service: ComparedResponse, config?: CompareConfig): Comparison {
  const c = compiled(config);
  const walker = new Walker(c);
  if (monolith.status !== service.status) {
    walker.report({ path: 'status', kind: 'status', monolith: monolith.status, service: service.status });
  }
  const state = c.paths.start();
  if (!walker.ignored(state)) walker.walk(monolith.body, service.body, state, [], 0);
  return { equal: walker.differences.length === 0, differences: walker.differences, truncated: walker.truncated };
}

type Kind = 'array' | 'object' | 'null' | 'undefined' | 'string' | 'number' | 'boolean' | 'other';

function kindOf(v: unknown): Kind {
  // Stryker disable next-line StringLiteral: kinds are only compared with each other, and no other kind is ''
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  if (t === 'object') return 'object';
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'undefined') return t;
  // Stryker disable next-line StringLiteral: kinds are only compared with each other, and no other kind is ''
  return 'other';
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** The instant of an ISO-8601 date-time in milliseconds (V8 keeps the milliseconds of a longer fraction), else NaN. */
function parseTimestamp(s: string): number {
  return ISO_DATE_TIME.test(s) ? Date.parse(s) : NaN;
}

/** A step of the walk: a key or index, or a keyed array element's label like `[id=42]`. */
type Step = JsonPathSegment | { readonly label: string };

function render(path: readonly Step[]): string {
  let out = '$';
  for (const s of path) out += typeof s === 'object' ? s.label : formatSegment(s);
  return out;
}

/** Structural equality without recursion, for subtrees below MAX_DEPTH. */
function deepEqual(x: unknown, y: unknown): boolean {
  const stack: Array<[unknown, unknown]> = [[x, y]];
  while (stack.length > 0) {
    const [a, b] = stack.pop()!;
    if (a === b) continue;
    const ka = kindOf(a);
    if (ka !== kindOf(b)) return false;
    if (ka === 'array') {
      const [la, lb] = [a as unknown[], b as unknown[]];
      if (la.length !== lb.length) return false;
      la.forEach((v, i) => stack.push([v, lb[i]]));
    } else if (ka === 'object') {
      const [oa, ob] = [a as Record<string, unknown>, b as Record<string, unknown>];
      const keys = Object.keys(oa);
      if (keys.length !== Object.keys(ob).length) return false;
      for (const k of keys) {
        if (!Object.prototype.hasOwnProperty.call(ob, k)) return false;
        stack.push([oa[k], ob[k]]);
      }
    } else if (!(Number.isNaN(a) && Number.isNaN(b))) {
      return false;
    }
  }
  return true;
}

class Walker {
  readonly differences: Difference[] = [];
  truncated = false;

  constructor(private readonly c: Compiled) {}

  report(d: Difference): void {
    if (this.differences.length >= this.c.max) {
      this.truncated = true;
      return;
    }
    this.differences.push(d);
  }

  ignored(state: PathState): boolean {
    for (const p of state.matched) if (p < this.c.ignoreCount) return true;
    return false;
  }

  private sortKey(state: PathState): string | undefined {
    for (const p of state.matched) if (p >= this.c.ignoreCount) return this.c.sortKeys[p - this.c.ignoreCount];
    return undefined;
  }

  walk(a: unknown, b: unknown, state: PathState, path: Step[], depth: number): void {
    if (a === b) return;
    const ka = kindOf(a);
    const kb = kindOf(b);
    const here = () => render(path);
    if (ka !== kb) {
      this.report({ path: here(), kind: 'type', monolith: a, service: b });
      return;
    }
    if (depth >= MAX_DEPTH) {
      if (!deepEqual(a, b)) this.report({ path: here(), kind: 'changed', monolith: a, service: b });
      return;
    }
    if (ka === 'array') {
      const key = this.sortKey(state);
      if (key === undefined) this.walkArray(a as unknown[], b as unknown[], state, path, depth);
      else this.walkKeyed(a as unknown[], b as unknown[], key, state, path, depth);
      return;
    }
    if (ka === 'object') {
      this.walkObject(a as Record<string, unknown>, b as Record<string, unknown>, state, path, depth);
      return;
    }
    // Different primitives of one kind (numbers, strings, booleans), or non-JSON values. NaN equals NaN, and two
    // date-times within the tolerance are equal (a difference involving NaN, a string that is no date-time, is never
    // within it; without a tolerance nothing is).
    if (Number.isNaN(a) && Number.isNaN(b)) return;
    if (ka === 'string' && Math.abs(parseTimestamp(a as string) - parseTimestamp(b as string)) <= (this.c.tolerance ?? -1)) return;
    this.report({ path: here(), kind: 'changed', monolith: a, service: b });
  }

  /** Compares one child pair, reporting a side that is missing. */
  private child(
    seg: JsonPathSegment,
    label: Step,
    hasA: boolean,
    a: unknown,
    hasB: boolean,
    b: unknown,
    state: PathState,
    path: Step[],
    depth: number,
  ): void {
    const next = this.c.paths.step(state, seg);
    if (this.ignored(next)) return;
    path.push(label);
    if (hasA && hasB) this.walk(a, b, next, path, depth + 1);
    else if (hasA) this.report({ path: render(path), kind: 'only-monolith', monolith: a, service: undefined });
    else this.report({ path: render(path), kind: 'only-service', monolith: undefined, service: b });
    path.pop();
  }

  private walkObject(a: Record<string, unknown>, b: Record<string, unknown>, state: PathState, path: Step[], depth: number): void {
    for (const k of Object.keys(a)) {
      if (this.truncated) return;
      const hasB = Object.prototype.hasOwnProperty.call(b, k);
      this.child(k, k, true, a[k], hasB, b[k], state, path, depth);
    }
    for (const k of Object.keys(b)) {
      if (this.truncated) return;
      if (!Object.prototype.hasOwnProperty.call(a, k)) this.child(k, k, false, undefined, true, b[k], state, path, depth);
    }
  }

  private walkArray(a: unknown[], b: unknown[], state: PathState, path: Step[], depth: number): void {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n && !this.truncated; i++) {
      this.child(i, i, i < a.length, a[i], i < b.length, b[i], state, path, depth);
    }
  }

  private walkKeyed(a: unknown[], b: unknown[], key: string, state: PathState, path: Step[], depth: number): void {
    interface Group {
      label: string;
      a: number[];
      b: number[];
    }
    const groups = new Map<string, Group>();
    const loose: { a: number[]; b: number[] } = { a: [], b: [] };
    const sort = (arr: unknown[], side: 'a' | 'b') => {
      arr.forEach((el, i) => {
        const v = kindOf(el) === 'object' ? (el as Record<string, unknown>)[key] : undefined;
        const t = typeof v;
        if (t !== 'string' && t !== 'number' && t !== 'boolean') {
          loose[side].push(i);
          return;
        }
        const id = JSON.stringify(v);
        let g = groups.get(id);
        if (!g) groups.set(id, (g = { label: `[${key}=${id}]`, a: [], b: [] }));
        g[side].push(i);
      });
    };
    sort(a, 'a');
    sort(b, 'b');
    const pairUp = (ia: number[], ib: number[], label: (j: number) => Step) => {
      for (let j = 0; j < Math.max(ia.length, ib.length) && !this.truncated; j++) {
        const hasA = j < ia.length;
        const hasB = j < ib.length;
        // Ignore patterns see the element's index on the monolith side (the service's if only it has one).
        const seg = hasA ? ia[j] : ib[j];
        this.child(seg, label(j), hasA, hasA ? a[ia[j]] : undefined, hasB, hasB ? b[ib[j]] : undefined, state, path, depth);
      }
    };
    for (const g of groups.values()) {
      pairUp(g.a, g.b, (j) => ({ label: g.a.length > 1 || g.b.length > 1 ? `${g.label}[${j}]` : g.label }));
    }
    pairUp(loose.a, loose.b, (j) => (j < loose.a.length ? loose.a[j] : loose.b[j]));
  }
}
