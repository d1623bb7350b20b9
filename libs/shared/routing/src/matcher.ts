import type { PathPattern } from './path-pattern';

/** Request headers or query as Node and Fastify hand them over. */
export type StringBag = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface MatcherEntry {
  readonly pattern: PathPattern;
  /** Upper-case methods. */
  readonly methods: ReadonlySet<string>;
  /** Lower-case header names and the exact values they must have. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly rank: number;
}

export interface RawMatch {
  readonly index: number;
  readonly params: Record<string, string>;
}

class Node {
  readonly literal = new Map<string, Node>();
  param: Node | null = null;
  /** Entries whose pattern ends here without a wildcard. */
  readonly exact: number[] = [];
  /** Entries whose pattern ends here with a trailing "*". */
  readonly rest: number[] = [];
}

/**
 * A segment trie over the route patterns. A lookup walks only the branches the request's
 * segments can take (one literal child by map lookup, one parameter child), so its cost grows
 * with the path's depth and the number of routes that really match, not with the table's size.
 * Among the routes that match path, method and conditions, the highest rank wins; validation
 * guarantees there are no ties.
 */
export class RouteMatcher {
  private readonly root = new Node();

  constructor(private readonly entries: readonly MatcherEntry[]) {
    entries.forEach((entry, index) => {
      let node = this.root;
      for (const seg of entry.pattern.segments) {
        if (seg.kind === 'literal') {
          let next = node.literal.get(seg.value);
          if (!next) node.literal.set(seg.value, (next = new Node()));
          node = next;
        } else {
          node = node.param ??= new Node();
        }
      }
      (entry.pattern.wildcard ? node.rest : node.exact).push(index);
    });
  }

  match(method: string, path: string, headers: StringBag, query: StringBag): RawMatch | null {
    const segments = splitPath(path);
    if (!segments) return null;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut: upper-casing always would change only mixed-case methods (Node hands over upper case), and no route method starts with "a" (97)
    const m = method.charCodeAt(0) >= 97 ? method.toUpperCase() : method;
    const search: Search = { segments, method: m, headers, query, best: -1, bestRank: -1, restAt: 0 };
    this.walk(this.root, 0, search);
    if (search.best < 0) return null;
    const entry = this.entries[search.best];
    const params: Record<string, string> = {};
    const segs = entry.pattern.segments;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i];
      if (seg.kind === 'param') params[seg.name] = decodeSegment(segments[i]);
    }
    if (entry.pattern.wildcard) params['*'] = segments.slice(search.restAt).join('/');
    return { index: search.best, params };
  }

  private walk(node: Node, i: number, search: Search): void {
    this.consider(node.rest, i, search);
    const segments = search.segments;
    if (i === segments.length) {
      this.consider(node.exact, i, search);
      return;
    }
    const seg = segments[i];
    const lit = node.literal.get(seg);
    if (lit) this.walk(lit, i + 1, search);
    if (node.param && seg !== '') this.walk(node.param, i + 1, search);
  }

  private consider(candidates: readonly number[], at: number, search: Search): void {
    for (const index of candidates) {
      const entry = this.entries[index];
      // Stryker disable next-line EqualityOperator: two routes that match one request never have equal ranks (validation refuses such a table)
      if (entry.rank <= search.bestRank) continue;
      if (!entry.methods.has(search.method)) continue;
      if (!conditionsHold(entry.headers, search.headers, true)) continue;
      if (!conditionsHold(entry.query, search.query, false)) continue;
      search.best = index;
      search.bestRank = entry.rank;
      search.restAt = at;
    }
  }
}

interface Search {
  readonly segments: readonly string[];
  readonly method: string;
  readonly headers: StringBag;
  readonly query: StringBag;
  best: number;
  bestRank: number;
  restAt: number;
}

/**
 * The segments of a request path (query string and fragment dropped, one trailing slash
 * ignored), or null for something that is not an origin-form path (`*`, an absolute URL).
 */
export function splitPath(path: string): string[] | null {
  let end = path.length;
  const q = path.indexOf('?');
  if (q >= 0) end = q;
  const h = path.indexOf('#');
  if (h >= 0) end = Math.min(end, h);
  if (end === 0) return [];
  if (path.charCodeAt(0) !== 47 /* / */) return null;
  if (path.charCodeAt(end - 1) === 47) end -= 1;
  if (end <= 1) return [];
  return path.slice(1, end).split('/');
}

function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** The value of one header or query parameter; for repeated ones, whether any equals `want`. */
function conditionsHold(conditions: ReadonlyArray<readonly [string, string]>, bag: StringBag, caseInsensitiveNames: boolean): boolean {
  for (const [name, want] of conditions) {
    const got = bag[name] ?? (caseInsensitiveNames ? inAnyCase(bag, name) : undefined);
    if (got === undefined) return false;
    if (typeof got === 'string' ? got !== want : !got.includes(want)) return false;
  }
  return true;
}

/** The value under a name spelt in any case (`name` is lower case). */
function inAnyCase(bag: StringBag, name: string): string | readonly string[] | undefined {
  for (const key of Object.keys(bag)) if (key.toLowerCase() === name) return bag[key];
  return undefined;
}
