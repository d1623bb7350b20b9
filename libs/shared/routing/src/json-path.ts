/**
 * The JSONPath subset used by shadow comparison to name places in a JSON body:
 *
 *   $                 the whole body
 *   $.a.b  $['a b']   object keys (dot form for plain names, bracket form with quotes for any key)
 *   $.items[0]        an array index
 *   $.items[*].x      any array element (or, `$.*`, any object key)
 *   $..x  $..[*]      recursive descent: x at any depth below this point
 *
 * Patterns are compiled once and matched incrementally while the comparison walks a body: the
 * walker keeps a small set of automaton states and steps it with each key or index it enters,
 * so checking N patterns costs O(N) per visited node, not O(N * depth).
 */

export type PathStep =
  | { readonly kind: 'key'; readonly key: string; readonly descend: boolean }
  | { readonly kind: 'index'; readonly index: number; readonly descend: boolean }
  | { readonly kind: 'any'; readonly descend: boolean };

export type ParsedJsonPath = { ok: true; steps: PathStep[] } | { ok: false; message: string };

const NAME_CHAR = /[^.[\]*\s'"]/;

export function parseJsonPath(source: string): ParsedJsonPath {
  const fail = (message: string): ParsedJsonPath => ({ ok: false, message: `${message} in ${JSON.stringify(source)}` });
  if (!source.startsWith('$')) return fail('a path must start with "$"');
  const steps: PathStep[] = [];
  let i = 1;
  while (i < source.length) {
    let r: Read;
    if (source.startsWith('..', i)) {
      r = source[i + 2] === '[' ? readBracket(source, i + 2, true) : readName(source, i + 2, true);
    } else if (source[i] === '.') {
      r = readName(source, i + 1, false);
    } else if (source[i] === '[') {
      r = readBracket(source, i, false);
    } else {
      return fail(`unexpected "${source[i]}" at position ${i + 1}`);
    }
    if ('message' in r) return fail(r.message);
    steps.push(r.step);
    i = r.next;
  }
  if (steps.length > 1000) return fail('a path may have at most 1000 steps');
  return { ok: true, steps };
}

type Read = { step: PathStep; next: number } | { message: string };

function readName(s: string, i: number, descend: boolean): Read {
  if (s[i] === '*') return { step: { kind: 'any', descend }, next: i + 1 };
  let j = i;
  while (j < s.length && NAME_CHAR.test(s[j])) j++;
  if (j === i) return { message: `expected a key name at position ${i + 1}` };
  return { step: { kind: 'key', key: s.slice(i, j), descend }, next: j };
}

function readBracket(s: string, i: number, descend: boolean): Read {
  // s[i] === '['
  const c = s[i + 1];
  if (c === '*') {
    if (s[i + 2] !== ']') return { message: `expected "]" at position ${i + 3}` };
    return { step: { kind: 'any', descend }, next: i + 3 };
  }
  if (c === "'" || c === '"') {
    let j = i + 2;
    let key = '';
    while (j < s.length && s[j] !== c) {
      if (s[j] === '\\' && j + 1 < s.length) j++;
      key += s[j];
      j++;
    }
    if (s[j] !== c || s[j + 1] !== ']') return { message: `unterminated quoted key at position ${i + 2}` };
    return { step: { kind: 'key', key, descend }, next: j + 2 };
  }
  const m = /^\d+/.exec(s.slice(i + 1));
  if (m) {
    if (s[i + 1 + m[0].length] !== ']') return { message: `expected "]" after the index at position ${i + 2 + m[0].length}` };
    return { step: { kind: 'index', index: Number(m[0]), descend }, next: i + 2 + m[0].length };
  }
  return { message: `expected an index, "*" or a quoted key after "[" at position ${i + 1}` };
}

/** A position in a JSON body: object keys and array indices from the root. */
export type JsonPathSegment = string | number;

/** Renders a concrete position the way the patterns are written: `$.items[3]['odd key']`. */
export function formatJsonPath(segments: readonly JsonPathSegment[]): string {
  let out = '$';
  for (const seg of segments) out += formatSegment(seg);
  return out;
}

export function formatSegment(seg: JsonPathSegment): string {
  if (typeof seg === 'number') return `[${seg}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg) ? `.${seg}` : `['${seg.replace(/[\\']/g, (c) => `\\${c}`)}']`;
}

/**
 * A position of the walk in the automaton: which (pattern, step) pairs are still alive. States
 * are interned per set and remember their transitions, so walking a large body mostly costs a
 * map lookup per node (and array indices share one transition when no pattern names an index).
 */
export class PathState {
  /** Transitions by object key (bounded, see JsonPathSet). */
  readonly byKey = new Map<string, PathState>();
  /** The transition for any array index, when no alive step names a specific index. */
  anyIndex: PathState | undefined;

  constructor(
    /** Alive positions, encoded pattern * 1024 + step, sorted. */
    readonly codes: readonly number[],
    /** Patterns that match exactly here. */
    readonly matched: readonly number[],
    /** Whether an alive step names a specific index (then indices cannot share a transition). */
    readonly indexSensitive: boolean,
  ) {}
}

const MAX_CACHED_KEYS = 256;

/** A set of compiled patterns, matched incrementally (see PathState). */
export class JsonPathSet {
  private readonly patterns: PathStep[][];
  private readonly interned = new Map<string, PathState>();
  private readonly initial: PathState;
  readonly empty: PathState;

  /** Throws on a malformed pattern; validate with parseJsonPath first for a friendly message. */
  constructor(sources: readonly string[]) {
    this.patterns = sources.map((src) => {
      const parsed = parseJsonPath(src);
      if (!parsed.ok) throw new Error(parsed.message);
      return parsed.steps;
    });
    this.empty = this.intern([]);
    this.initial = this.intern(this.patterns.map((_, p) => p * 1024));
  }

  get size(): number {
    return this.patterns.length;
  }

  start(): PathState {
    return this.initial;
  }

  /** The state after entering `seg` from `state`. */
  step(state: PathState, seg: JsonPathSegment): PathState {
    if (state.codes.length === 0) return state;
    if (typeof seg === 'number') {
      if (!state.indexSensitive) return (state.anyIndex ??= this.compute(state, seg));
      return this.compute(state, seg);
    }
    let next = state.byKey.get(seg);
    if (!next) {
      next = this.compute(state, seg);
      if (state.byKey.size < MAX_CACHED_KEYS) state.byKey.set(seg, next);
    }
    return next;
  }

  /** Whether a pattern matches the concrete position or one of its ancestors (what "ignored" means). */
  covers(segments: readonly JsonPathSegment[]): boolean {
    let state = this.start();
    if (state.matched.length > 0) return true;
    for (const seg of segments) {
      state = this.step(state, seg);
      if (state.matched.length > 0) return true;
    }
    return false;
  }

  private compute(state: PathState, seg: JsonPathSegment): PathState {
    const out: number[] = [];
    for (const code of state.codes) {
      const steps = this.patterns[Math.floor(code / 1024)];
      const i = code % 1024;
      if (i >= steps.length) continue; // already complete: nothing below adds to it
      const step = steps[i];
      if (step.descend && !out.includes(code)) out.push(code);
      if (stepMatches(step, seg) && !out.includes(code + 1)) out.push(code + 1);
    }
    return this.intern(out);
  }

  private intern(codes: number[]): PathState {
    codes.sort((a, b) => a - b);
    const key = codes.join(',');
    let state = this.interned.get(key);
    if (!state) {
      const matched: number[] = [];
      let indexSensitive = false;
      for (const code of codes) {
        const steps = this.patterns[Math.floor(code / 1024)];
        const i = code % 1024;
        if (i === steps.length) {
          if (!matched.includes(Math.floor(code / 1024))) matched.push(Math.floor(code / 1024));
        } else if (steps[i].kind === 'index') indexSensitive = true;
      }
      state = new PathState(codes, matched, indexSensitive);
      this.interned.set(key, state);
    }
    return state;
  }
}

function stepMatches(step: PathStep, seg: JsonPathSegment): boolean {
  switch (step.kind) {
    case 'any':
      return true;
    case 'key':
      return typeof seg === 'string' && seg === step.key;
    case 'index':
      return seg === step.index;
  }
}
