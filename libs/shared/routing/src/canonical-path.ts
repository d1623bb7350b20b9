/**
 * The canonical form of a request path: what the gateway matches routes on, checks the
 * workspace and identity on, authenticates its admin API on, and forwards upstream. Computed
 * once per request, so every decision and the upstream see the same path.
 *
 * Rules (RFC 3986 section 6.2.2, plus refusals for what apps and proxies disagree about):
 *
 * - Percent-encoded unreserved characters (ALPHA / DIGIT / `-` `.` `_` `~`) are decoded:
 *   `/%61pi/v1` is `/api/v1`. Every other percent-encoding stays encoded with upper-case hex:
 *   `%c3%a9` is `%C3%A9`.
 * - Refused (the caller answers 400 `bad_path`): an encoded `/` (`%2F`), a `\` (raw or `%5C`),
 *   NUL (`%00`), a raw `#`, a malformed percent-encoding (`%G1`, `%4`), percent-encoded bytes
 *   that are not UTF-8, a `.` or `..` segment (raw or encoded: `%2e%2e`), and an empty segment
 *   (`//`): it is refused, not collapsed.
 * - One trailing slash is dropped (`/api/v1/x/` is `/api/v1/x`); `/` stays `/`.
 * - The query string is left as it is.
 *
 * Pure: no I/O, no framework. A path that is already canonical is returned as the same string.
 */

/** Why a path was refused, as a stable code. */
export type PathRefusal =
  | 'encoded-slash'
  | 'backslash'
  | 'nul'
  | 'fragment'
  | 'bad-percent-encoding'
  | 'bad-utf8'
  | 'dot-segment'
  | 'empty-segment'
  | 'not-a-path';

export type CanonicalPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly refusal: PathRefusal; readonly detail: string };

export type CanonicalTarget =
  | { readonly ok: true; readonly path: string; /** path + the query string as sent */ readonly url: string }
  | { readonly ok: false; readonly refusal: PathRefusal; readonly detail: string };

const HEX = '0123456789ABCDEF';

/** The value of a hex digit's char code, -1 for anything else (NaN, past a string's end, included). */
function hexValue(c: number): number {
  // Stryker disable next-line ConditionalExpression: below 48, c - 48 is negative, which is refused the same as -1
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 65 && c <= 70) return c - 55; // A-F
  if (c >= 97 && c <= 102) return c - 87; // a-f
  return -1;
}

/** ALPHA / DIGIT / "-" / "." / "_" / "~" */
function isUnreserved(v: number): boolean {
  return (v >= 65 && v <= 90) || (v >= 97 && v <= 122) || (v >= 48 && v <= 57) || v === 45 || v === 46 || v === 95 || v === 126;
}

const refuse = (refusal: PathRefusal, detail: string): CanonicalPath => ({ ok: false, refusal, detail });

/** The canonical form of a path (no query string), or why it is refused. */
export function canonicalPath(path: string): CanonicalPath {
  if (path.charCodeAt(0) !== 47 /* / */) return refuse('not-a-path', 'The request path must start with "/".');
  // Stryker disable next-line ConditionalExpression: a shortcut: the slow pass returns a plain path unchanged too
  if (isPlain(path)) return { ok: true, path };
  return canonicalSlow(path);
}

/** What makes a path need the slow pass: `%`, a backslash, `#`, NUL, or a `/` followed by `/`, `.` or the end. */
// Stryker disable next-line Regex: a regex that matches more sends more paths to the slow pass, which returns a plain path unchanged
const NOT_PLAIN = /[%\\#\0]|\/[/.]|\/$/;

/**
 * The common case, in one regular expression (V8 runs it as native code, several times faster
 * than a loop over the characters): a path without any of NOT_PLAIN is canonical as it is.
 */
// Stryker disable all: a shortcut: whatever it answers, the slow pass returns a plain path unchanged
function isPlain(path: string): boolean {
  return path.length === 1 || !NOT_PLAIN.test(path);
}
// Stryker restore all

function canonicalSlow(path: string): CanonicalPath {
  let out: string | null = null; // null while nothing changed: `path` itself is the result so far
  let from = 0; // path[from, i) is still to be copied into out
  // Stryker disable next-line BooleanLiteral: checking UTF-8 always is slower, not different: a result of ASCII bytes always decodes
  let highBytes = false;
  const n = path.length;
  // Stryker disable next-line EqualityOperator: at i = n, charCodeAt is NaN, which is none of the characters below
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c === 92 /* \ */) return refuse('backslash', 'The request path contains a backslash.');
    if (c === 0) return refuse('nul', 'The request path contains a NUL character.');
    if (c === 35 /* # */) return refuse('fragment', 'The request path contains a "#".');
    if (c !== 37 /* % */) continue;
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) return refuse('bad-percent-encoding', 'The request path has a "%" not followed by two hex digits.');
    const v = hi * 16 + lo;
    if (v === 0x2f) return refuse('encoded-slash', 'The request path contains an encoded "/" (%2F).');
    if (v === 0x5c) return refuse('backslash', 'The request path contains an encoded backslash (%5C).');
    if (v === 0) return refuse('nul', 'The request path contains an encoded NUL (%00).');
    // Stryker disable next-line ConditionalExpression: checking UTF-8 always is slower, not different (see highBytes)
    if (v >= 0x80) highBytes = true;
    let replacement: string;
    if (isUnreserved(v)) replacement = String.fromCharCode(v);
    else {
      replacement = `%${HEX[hi]}${HEX[lo]}`;
      // Stryker disable next-line all: a shortcut: copying an encoding already canonical gives the same string
      if (path.charCodeAt(i + 1) === replacement.charCodeAt(1) && path.charCodeAt(i + 2) === replacement.charCodeAt(2)) {
        i += 2;
        continue; // already canonical
      }
    }
    out = (out ?? '') + path.slice(from, i) + replacement;
    i += 2;
    from = i + 1;
  }
  let result = out === null ? path : out + path.slice(from);

  // Stryker disable next-line ConditionalExpression: checking UTF-8 always is slower, not different (see highBytes)
  if (highBytes) {
    try {
      decodeURIComponent(result);
    } catch {
      return refuse('bad-utf8', 'The request path has percent-encoded bytes that are not UTF-8.');
    }
  }

  // Segments: no ".", "..", or empty one (a trailing slash aside).
  const last = result.length - 1;
  // The slow pass never sees "/" (isPlain takes it), so a result here has two characters or more: the
  // length checks below only keep that true if it changes.
  // Stryker disable next-line ConditionalExpression,EqualityOperator: last is at least 1 here (see above)
  if (last > 0 && result.charCodeAt(last) === 47 && result.charCodeAt(last - 1) !== 47) result = result.slice(0, -1);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: the result has two characters or more here (see above)
  if (result.length > 1) {
    let start = 1;
    for (let i = 1; i <= result.length; i++) {
      if (i < result.length && result.charCodeAt(i) !== 47) continue;
      const len = i - start;
      if (len === 0) return refuse('empty-segment', 'The request path has an empty segment ("//").');
      if (result.charCodeAt(start) === 46 /* . */ && (len === 1 || (len === 2 && result.charCodeAt(start + 1) === 46))) {
        return refuse('dot-segment', 'The request path has a "." or ".." segment.');
      }
      start = i + 1;
    }
  }
  return { ok: true, path: result };
}

/**
 * The canonical form of an origin-form request target (`/path?query`): the path made
 * canonical, the query string kept as sent.
 */
export function canonicalTarget(target: string): CanonicalTarget {
  const q = target.indexOf('?');
  // Stryker disable next-line EqualityOperator: q = 0 leaves an empty path, refused as not-a-path either way
  const rawPath = q < 0 ? target : target.slice(0, q);
  const c = canonicalPath(rawPath);
  if (!c.ok) return c;
  // Stryker disable next-line ConditionalExpression: a shortcut: building the target again gives the same string
  if (c.path === rawPath) return { ok: true, path: c.path, url: target };
  // Stryker disable next-line EqualityOperator: q = 0 never gets here (its empty path is refused)
  return { ok: true, path: c.path, url: q < 0 ? c.path : c.path + target.slice(q) };
}
