/**
 * A small validator for request bodies and query strings: every problem is reported per field
 * (`title`, `features[1].importance`), unknown fields are errors, and a valid input comes back
 * typed and normalised (trimmed strings, defaults filled in). No framework, no exceptions: the
 * HTTP edge maps `{ ok: false, errors }` to 400 `validation_failed`.
 */

export interface FieldError {
  field: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** Checks `value` at `path`; pushes errors and returns anything when invalid. */
export type Rule<T> = (value: unknown, path: string, errors: FieldError[]) => T;

export interface FieldSpec<T> {
  rule: Rule<T>;
  required: boolean;
  fallback?: () => T;
}

export type Shape = Record<string, FieldSpec<any>>;

type RuleOf<F> = F extends FieldSpec<infer T> ? T : never;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends { required: true } ? K : S[K] extends { fallback: () => any } ? K : never }[keyof S];
type OptionalKeys<S extends Shape> = Exclude<keyof S, RequiredKeys<S>>;
export type Infer<S extends Shape> = { [K in RequiredKeys<S>]: RuleOf<S[K]> } & { [K in OptionalKeys<S>]?: RuleOf<S[K]> };

const at = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);
const fail = (errors: FieldError[], field: string, message: string) => {
  errors.push({ field: field || '(body)', message });
  return undefined as never;
};

// ---------------------------------------------------------------------------------------------
// rules

export function str(opts: { min?: number; max: number; trim?: boolean; pattern?: RegExp; patternMessage?: string }): Rule<string> {
  return (value, path, errors) => {
    if (typeof value !== 'string') return fail(errors, path, 'must be a string');
    const s = opts.trim === false ? value : value.trim();
    if (/\u0000/.test(s)) return fail(errors, path, 'must not contain NUL characters');
    if (opts.min !== undefined && s.length < opts.min) {
      return fail(errors, path, opts.min === 1 ? 'must not be empty' : `must be at least ${opts.min} characters long`);
    }
    if (s.length > opts.max) return fail(errors, path, `must be at most ${opts.max} characters long`);
    if (opts.pattern && !opts.pattern.test(s)) return fail(errors, path, opts.patternMessage ?? 'has an invalid format');
    return s;
  };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function email(): Rule<string> {
  const base = str({ min: 3, max: 254, pattern: EMAIL, patternMessage: 'must be an email address' });
  return (value, path, errors) => {
    const s = base(value, path, errors);
    return typeof s === 'string' ? s.toLowerCase() : s;
  };
}

export function int(opts: { min: number; max: number }): Rule<number> {
  return (value, path, errors) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return fail(errors, path, 'must be an integer');
    if (value < opts.min || value > opts.max) return fail(errors, path, `must be from ${opts.min} to ${opts.max}`);
    return value;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Rule<T> {
  return (value, path, errors) => {
    if (typeof value !== 'string' || !values.includes(value as T)) return fail(errors, path, `must be one of ${values.join(', ')}`);
    return value as T;
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function uuid(): Rule<string> {
  return (value, path, errors) => {
    if (typeof value !== 'string' || !UUID.test(value)) return fail(errors, path, 'must be a UUID');
    return value.toLowerCase();
  };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date `YYYY-MM-DD` (no time, no zone). */
export function date(): Rule<string> {
  return (value, path, errors) => {
    const m = typeof value === 'string' ? DATE.exec(value) : null;
    if (!m) return fail(errors, path, 'must be a date (YYYY-MM-DD)');
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
      return fail(errors, path, 'is not a real calendar date');
    }
    return value as string;
  };
}

export function nullable<T>(rule: Rule<T>): Rule<T | null> {
  return (value, path, errors) => (value === null ? null : rule(value, path, errors));
}

export function arrayOf<T>(item: Rule<T>, opts: { max: number; unique?: (v: T) => string; uniqueMessage?: string }): Rule<T[]> {
  return (value, path, errors) => {
    if (!Array.isArray(value)) return fail(errors, path, 'must be an array');
    if (value.length > opts.max) return fail(errors, path, `must have at most ${opts.max} items`);
    const before = errors.length;
    const out = value.map((v, i) => item(v, at(path, i), errors));
    if (errors.length > before || !opts.unique) return out;
    const seen = new Map<string, number>();
    out.forEach((v, i) => {
      const k = opts.unique!(v);
      if (seen.has(k)) fail(errors, at(path, i), opts.uniqueMessage ?? `duplicates item ${seen.get(k)}`);
      else seen.set(k, i);
    });
    return out;
  };
}

/** Tags: trimmed, lower-cased, 1..40 characters, at most 20, duplicates dropped. */
export function tags(): Rule<string[]> {
  const one = str({ min: 1, max: 40, pattern: /^[^\s,{}"\\][^,{}"\\]*$/u, patternMessage: 'must not contain commas, braces, quotes or backslashes' });
  const list = arrayOf(one, { max: 20 });
  return (value, path, errors) => {
    const out = list(value, path, errors);
    return Array.isArray(out) ? [...new Set(out.map((t) => (typeof t === 'string' ? t.toLowerCase() : t)))] : out;
  };
}

// ---------------------------------------------------------------------------------------------
// objects

export const required = <T>(rule: Rule<T>): { rule: Rule<T>; required: true } => ({ rule, required: true });
export const optional = <T>(rule: Rule<T>): { rule: Rule<T>; required: false } => ({ rule, required: false });
/** Optional in the input, filled with `fallback()` when absent. */
export const withDefault = <T>(rule: Rule<T>, fallback: () => T): { rule: Rule<T>; required: false; fallback: () => T } => ({
  rule,
  required: false,
  fallback,
});

/** An object with exactly these fields: missing required ones and unknown ones are errors. */
export function object<S extends Shape>(shape: S, opts: { atLeastOne?: boolean; check?: (v: Infer<S>, path: string, errors: FieldError[]) => void } = {}): Rule<Infer<S>> {
  return (value, path, errors) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(errors, path, 'must be a JSON object');
    const input = value as Record<string, unknown>;
    const before = errors.length;
    for (const key of Object.keys(input)) {
      if (!Object.prototype.hasOwnProperty.call(shape, key)) fail(errors, at(path, key), 'is not a known field');
    }
    const out: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(shape)) {
      if (input[key] === undefined) {
        if (spec.required) fail(errors, at(path, key), 'is required');
        else if (spec.fallback) out[key] = spec.fallback();
        continue;
      }
      out[key] = spec.rule(input[key], at(path, key), errors);
    }
    if (opts.atLeastOne && Object.keys(input).length === 0) fail(errors, path, 'must change at least one field');
    if (errors.length === before) opts.check?.(out as Infer<S>, path, errors);
    return out as Infer<S>;
  };
}

/** The same fields, all optional and without defaults (for PATCH), at least one present. */
export function partial<S extends Shape>(shape: S): { [K in keyof S]: { rule: Rule<RuleOf<S[K]>>; required: false } } {
  const out: Record<string, FieldSpec<any>> = {};
  for (const [k, spec] of Object.entries(shape)) out[k] = { rule: spec.rule, required: false };
  return out as any;
}

export function validate<T>(rule: Rule<T>, input: unknown): Result<T> {
  const errors: FieldError[] = [];
  const value = rule(input, '', errors);
  return errors.length ? { ok: false, errors } : { ok: true, value };
}
