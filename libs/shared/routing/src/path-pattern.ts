/**
 * Path patterns of the route table: `/api/v1/workspaces/:workspaceId/notes/*`.
 *
 * - A literal segment matches itself exactly (case-sensitive, compared as sent, not decoded).
 * - `:name` matches any one non-empty segment and captures it (percent-decoded) as `name`.
 * - A trailing `*` matches zero or more further segments, captured as `*`: `/notes/*` matches
 *   `/notes`, `/notes/1` and `/notes/1/links`.
 * - One trailing slash is ignored, on the pattern and on the request: `/a/` is `/a`.
 *
 * Specificity (which of several matching routes wins), highest first:
 *   1. more literal segments;
 *   2. then more parameter segments;
 *   3. then no wildcard over a wildcard;
 *   4. then more header and query conditions.
 * Two routes equal on all four that can match one request are an ambiguous overlap, and the
 * table is rejected (see overlapOf).
 */

export type PatternSegment = { readonly kind: 'literal'; readonly value: string } | { readonly kind: 'param'; readonly name: string };

export interface PathPattern {
  readonly source: string;
  readonly segments: readonly PatternSegment[];
  readonly wildcard: boolean;
  readonly literals: number;
  readonly params: number;
}

export interface Specificity {
  readonly literals: number;
  readonly params: number;
  readonly wildcard: boolean;
  readonly conditions: number;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Characters a request path may carry unescaped (RFC 3986 pchar, plus "/" and "%" for escapes).
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

export type ParsedPattern = { ok: true; pattern: PathPattern } | { ok: false; message: string };

export function parsePathPattern(source: string): ParsedPattern {
  const fail = (message: string): ParsedPattern => ({ ok: false, message });
  if (!source.startsWith('/')) return fail(`path pattern must start with "/", got ${JSON.stringify(source)}`);
  if (/[?#]/.test(source)) return fail('path pattern must not contain "?" or "#": match query parameters with match.query');
  if (!PATH_CHARS.test(source)) return fail(`path pattern ${JSON.stringify(source)} has characters a URL path cannot carry unescaped`);
  const body = source.length > 1 && source.endsWith('/') ? source.slice(1, -1) : source.slice(1);
  const raw = body === '' ? [] : body.split('/');
  const segments: PatternSegment[] = [];
  const seen = new Set<string>();
  let wildcard = false;
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i];
    const where = `segment ${i + 1} of ${JSON.stringify(source)}`;
    if (seg === '') return fail(`empty segment ("//") in ${JSON.stringify(source)}`);
    if (seg === '.' || seg === '..') return fail(`dot segment "${seg}" in ${JSON.stringify(source)}`);
    if (seg === '*') {
      if (i !== raw.length - 1) return fail(`"*" is only allowed as the last segment (${where})`);
      wildcard = true;
      continue;
    }
    if (seg.includes('*')) return fail(`a wildcard must be a whole segment "*", got "${seg}" (${where})`);
    if (seg.startsWith(':')) {
      const name = seg.slice(1);
      if (!PARAM_NAME.test(name)) {
        return fail(`parameter "${seg}" must be ":" followed by a name of letters, digits and "_" (${where})`);
      }
      if (seen.has(name)) return fail(`parameter ":${name}" appears twice in ${JSON.stringify(source)}`);
      seen.add(name);
      segments.push({ kind: 'param', name });
    } else {
      segments.push({ kind: 'literal', value: seg });
    }
  }
  const literals = segments.filter((s) => s.kind === 'literal').length;
  return { ok: true, pattern: { source, segments, wildcard, literals, params: segments.length - literals } };
}

/**
 * One number that orders routes by specificity (greater wins). Bounded inputs (a pattern has at
 * most 1024 segments, at most 32 conditions) keep it an exact integer.
 */
export function rankOf(s: Specificity): number {
  return ((s.literals * 1025 + s.params) * 2 + (s.wildcard ? 0 : 1)) * 64 + s.conditions;
}

export function describeSpecificity(s: Specificity): string {
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
  return [n(s.literals, 'literal segment'), n(s.params, 'parameter'), s.wildcard ? 'a wildcard' : 'no wildcard', n(s.conditions, 'condition')].join(', ');
}

/**
 * The requests both patterns match, written as a pattern (for error messages), or null when
 * no path matches both.
 */
export function intersectPatterns(a: PathPattern, b: PathPattern): string | null {
  const n = a.segments.length;
  const m = b.segments.length;
  if (!a.wildcard && !b.wildcard && n !== m) return null;
  if (a.wildcard && !b.wildcard && m < n) return null;
  if (!a.wildcard && b.wildcard && n < m) return null;
  const out: string[] = [];
  for (let i = 0; i < Math.min(n, m); i++) {
    const x = a.segments[i];
    const y = b.segments[i];
    if (x.kind === 'literal' && y.kind === 'literal') {
      if (x.value !== y.value) return null;
      out.push(x.value);
    } else if (x.kind === 'literal') out.push(x.value);
    else if (y.kind === 'literal') out.push(y.value);
    else out.push(`:${x.name}`);
  }
  const longer = n >= m ? a : b;
  for (let i = Math.min(n, m); i < longer.segments.length; i++) {
    const s = longer.segments[i];
    out.push(s.kind === 'literal' ? s.value : `:${s.name}`);
  }
  if (a.wildcard && b.wildcard) out.push('*');
  return `/${out.join('/')}`;
}
