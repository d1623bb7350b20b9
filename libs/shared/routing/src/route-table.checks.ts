/**
 * The checks of a route table across fields and routes, after each route's own shape passed the
 * schema: modes and percents, methods, upstreams and body limits, compare and guard settings,
 * and routes of equal specificity that one request can match (an ambiguous table). What they
 * prepare (each route's parsed pattern, methods and conditions) is what route-table.compile
 * builds the routes from.
 */
import { checkCompareConfig } from './compare';
import { describeSpecificity, intersectPatterns, parsePathPattern, rankOf, type PathPattern, type Specificity } from './path-pattern';
import { HTTP_METHODS, type HttpMethod, type RouteDoc } from './route-table.schema';
import { parseDuration } from './window';

import { didYouMean } from './route-table.messages';
import { type Problem } from './route-table.errors';
import { DEFAULT_UPSTREAM_BODY_LIMIT } from './route-table.model';

const UNSAFE = ['POST', 'PUT', 'PATCH', 'DELETE'];

export interface Prepared {
  readonly doc: RouteDoc;
  readonly index: number;
  readonly pattern: PathPattern | undefined;
  readonly methods: readonly HttpMethod[];
  readonly headers: Record<string, string>;
  readonly query: Record<string, string>;
}

export interface Checkable {
  readonly upstreams: readonly string[];
  /** Body limits of the upstreams, by name (sound entries only). */
  readonly bodyLimits?: Readonly<Record<string, number>>;
  readonly default: string;
  /** Routes whose own shape is valid, with their position in the file. */
  readonly routes: ReadonlyArray<{ readonly doc: RouteDoc; readonly index: number }>;
}

export function checkTable(t: Checkable): { problems: Problem[]; warnings: Problem[]; prepared: Prepared[] } {
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

export function specificityOf(p: Prepared & { pattern: PathPattern }): Specificity {
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
