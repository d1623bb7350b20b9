/**
 * Request schemas as JSON Schema (TypeBox), validated by ajv, with the per-field errors of the
 * shared kernel's validator: the same `{ field, message }` pairs (`title` "must not be empty",
 * `features[1].featureId` "must be a UUID", unknown fields "is not a known field", `(body)`
 * "must change at least one field"), one error per field, and the value normalised the same way
 * (strings trimmed, emails, UUIDs and tags lower-cased, defaults filled in, duplicate tags
 * dropped). The schemas are the ones the OpenAPI documents publish (`openapi.ts`). An API with
 * wording of its own says so in the schema: `x-messages` (per keyword; `{got}` is the value).
 *
 * Normalisation is declared in the schema with `x-` keywords (ignored by other JSON Schema
 * readers): `x-trim` and `x-lowercase` on strings, `x-dedupe` on arrays, applied before (`x-trim`,
 * `x-lowercase`, `default`) or after (`x-dedupe`) ajv checks the value. Checks JSON Schema has
 * no keyword for are ajv keywords: `x-no-nul`, `x-calendar-date`, `x-unique-by` (no two items
 * alike), `x-ordered` (`[a, b]`: field a not after field b).
 */
import { type Static, type TOptional, type TSchema, Type } from '@sinclair/typebox';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

export interface SchemaFieldError {
  field: string;
  message: string;
}

export type SchemaResult<T> = { ok: true; value: T } | { ok: false; errors: SchemaFieldError[] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const FORMAT_MESSAGES: Record<string, string> = {
  uuid: 'must be a UUID',
  email: 'must be an email address',
  date: 'must be a date (YYYY-MM-DD)',
  'date-time': 'must be a date-time (RFC 3339)',
};

/** One ajv for every schema of Carve's HTTP APIs: the formats and `x-` keywords above. */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, validateFormats: true });
  ajv.addFormat('uuid', UUID);
  ajv.addFormat('email', EMAIL);
  ajv.addFormat('date', DATE);
  ajv.addFormat('date-time', DATE_TIME);
  for (const keyword of ['x-trim', 'x-lowercase', 'x-dedupe', 'x-type-message', 'x-pattern-message', 'x-unique-message', 'x-ordered-message', 'x-messages']) ajv.addKeyword({ keyword });
  ajv.addKeyword({
    keyword: 'x-no-nul',
    type: 'string',
    schemaType: 'boolean',
    errors: false,
    validate: (on: boolean, data: string) => !on || !data.includes('\u0000'),
  });
  ajv.addKeyword({
    keyword: 'x-calendar-date',
    type: 'string',
    schemaType: 'boolean',
    errors: false,
    validate: (on: boolean, data: string) => {
      const m = DATE.exec(data);
      if (!on || !m) return true;
      const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
    },
  });
  ajv.addKeyword({
    keyword: 'x-ordered',
    type: 'object',
    schemaType: 'array',
    validate: function ordered([first, second]: [string, string], data: Record<string, unknown>, parent: any, cxt?: { instancePath: string }): boolean {
      const a = data[first];
      const b = data[second];
      const ok = typeof a !== 'string' || typeof b !== 'string' || a <= b;
      (ordered as unknown as { errors: unknown }).errors = ok
        ? []
        : [{ keyword: 'x-ordered', instancePath: `${cxt?.instancePath ?? ''}/${second}`, params: { first, second }, message: parent?.['x-ordered-message'] ?? `must not be before ${first}` }];
      return ok;
    },
  });
  ajv.addKeyword({
    keyword: 'x-unique-by',
    type: 'array',
    schemaType: 'string',
    validate: function uniqueBy(key: string, data: unknown[], parent: any, cxt?: { instancePath: string }): boolean {
      const seen = new Map<string, number>();
      const errors: Partial<ErrorObject>[] = [];
      data.forEach((item, i) => {
        const k = item !== null && typeof item === 'object' ? String((item as Record<string, unknown>)[key]).toLowerCase() : String(item);
        if (seen.has(k)) {
          errors.push({
            keyword: 'x-unique-by',
            instancePath: `${cxt?.instancePath ?? ''}/${i}`,
            params: { first: seen.get(k) },
            message: parent?.['x-unique-message'] ?? `duplicates item ${seen.get(k)}`,
          });
        } else seen.set(k, i);
      });
      (uniqueBy as unknown as { errors: unknown }).errors = errors;
      return errors.length === 0;
    },
  });
  return ajv;
}

// ---------------------------------------------------------------------------------------------
// builders: TypeBox schemas with the kernel validator's rules

/** A string, trimmed first (unless `trim: false`), no NUL characters, `min`..`max` characters long. */
export function Text(opts: { min?: number; max: number; trim?: boolean; pattern?: string; patternMessage?: string; description?: string }) {
  return Type.String({
    ...(opts.min === undefined ? {} : { minLength: opts.min }),
    maxLength: opts.max,
    ...(opts.pattern ? { pattern: opts.pattern } : {}),
    ...(opts.patternMessage ? { 'x-pattern-message': opts.patternMessage } : {}),
    ...(opts.trim === false ? {} : { 'x-trim': true }),
    ...(opts.description ? { description: opts.description } : {}),
    'x-no-nul': true,
  });
}

/** An email address, trimmed and lower-cased. */
export const Email = () => Type.String({ format: 'email', minLength: 3, maxLength: 254, 'x-trim': true, 'x-lowercase': true, 'x-no-nul': true });

/** A UUID (any case in, lower case out). */
export const Uuid = () => Type.String({ format: 'uuid', 'x-lowercase': true, 'x-type-message': FORMAT_MESSAGES.uuid });

/** A calendar date `YYYY-MM-DD` that exists. */
export const CalendarDate = () => Type.String({ format: 'date', 'x-calendar-date': true, 'x-type-message': FORMAT_MESSAGES.date });

export const Int = (opts: { min: number; max: number }) => Type.Integer({ minimum: opts.min, maximum: opts.max });

/** One of `values` (strings). */
export function Enum<const T extends readonly string[]>(values: T) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], 'x-type-message': `must be one of ${values.join(', ')}` });
}

/** `schema` or `null` (JSON Schema 2020-12 type list, so errors stay those of `schema`). */
export function Nullable<T extends TSchema>(schema: T) {
  const type = (schema as { type?: string }).type;
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [type, 'null'] });
}

/** An array of at most `max` items; `uniqueBy` names the item field (or `''` for the item) that must not repeat. */
export function List<T extends TSchema>(item: T, opts: { max: number; uniqueBy?: string; uniqueMessage?: string; dedupe?: boolean }) {
  return Type.Array(item, {
    maxItems: opts.max,
    ...(opts.uniqueBy !== undefined ? { 'x-unique-by': opts.uniqueBy } : {}),
    ...(opts.uniqueMessage ? { 'x-unique-message': opts.uniqueMessage } : {}),
    ...(opts.dedupe ? { 'x-dedupe': true } : {}),
  });
}

/** One tag as a list filter (`?tag=`): trimmed, lower-cased, 1..40 characters. */
export const TagFilter = () => Type.String({ minLength: 1, maxLength: 40, 'x-trim': true, 'x-lowercase': true, 'x-no-nul': true });

/** Tags: trimmed, lower-cased, 1..40 characters, at most 20, duplicates dropped. */
export const Tags = () =>
  List(
    Type.String({
      minLength: 1,
      maxLength: 40,
      pattern: '^[^\\s,{}"\\\\][^,{}"\\\\]*$',
      'x-pattern-message': 'must not contain commas, braces, quotes or backslashes',
      'x-trim': true,
      'x-lowercase': true,
      'x-no-nul': true,
    }),
    { max: 20, dedupe: true },
  );

/** An object with exactly these properties (unknown ones are errors). */
export function Obj<P extends Record<string, TSchema>>(properties: P, opts: { atLeastOne?: boolean; description?: string } = {}) {
  const schema = Type.Object(properties, {
    additionalProperties: false,
    ...(opts.atLeastOne ? { minProperties: 1 } : {}),
    ...(opts.description ? { description: opts.description } : {}),
  });
  // A property with a default may be left out of the input; the validated value always has it.
  const raw = schema as unknown as { required?: string[] };
  const required = (raw.required ?? []).filter((k) => (properties[k] as { default?: unknown }).default === undefined);
  if (required.length) raw.required = required;
  else delete raw.required;
  return schema;
}

/** Optional in the input (`Obj` leaves it out of `required`), `value` when absent: always there once validated. */
export function WithDefault<T extends TSchema>(schema: T, value: Static<T>) {
  return Type.Unsafe<Static<T>>({ ...schema, default: value });
}

/** The same properties, all optional and without defaults (for PATCH), at least one present. */
export function PartialObj<P extends Record<string, TSchema>>(properties: P) {
  const out: Record<string, TSchema> = {};
  for (const [k, s] of Object.entries(properties)) {
    const { default: _default, ...rest } = s as TSchema & { default?: unknown };
    out[k] = Type.Optional(Type.Unsafe(rest));
  }
  return Obj(out as { [K in keyof P]: TOptional<P[K]> }, { atLeastOne: true });
}

// ---------------------------------------------------------------------------------------------
// validation

type Json = Record<string, any>;

const firstType = (schema: Json): string | undefined => (Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type);

/** Trim, lower-case and fill in defaults, following the schema; a copy, the input is left alone. */
function prepare(schema: Json, value: unknown): unknown {
  if (typeof value === 'string') {
    let s = value;
    if (schema['x-trim']) s = s.trim();
    if (schema['x-lowercase']) s = s.toLowerCase();
    return s;
  }
  if (Array.isArray(value)) return schema.items ? value.map((v) => prepare(schema.items, v)) : value;
  if (value !== null && typeof value === 'object' && schema.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = Object.prototype.hasOwnProperty.call(schema.properties, k) ? prepare(schema.properties[k], v) : v;
    for (const [k, s] of Object.entries<Json>(schema.properties)) {
      if (out[k] === undefined && s.default !== undefined) out[k] = structuredClone(s.default);
    }
    return out;
  }
  return value;
}

/** Drops repeated items of `x-dedupe` arrays (after validation). */
function finish(schema: Json, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = schema.items ? value.map((v) => finish(schema.items, v)) : value;
    return schema['x-dedupe'] ? [...new Set(items)] : items;
  }
  if (value !== null && typeof value === 'object' && schema.properties) {
    const out = value as Record<string, unknown>;
    for (const [k, s] of Object.entries<Json>(schema.properties)) if (out[k] !== undefined) out[k] = finish(s, out[k]);
  }
  return value;
}

function message(e: ErrorObject): string {
  const ps = (e.parentSchema ?? {}) as Json;
  // An API's own wording (`x-messages`: per keyword, or per property, `*` for any, for required
  // and unknown fields); `{got}` is the value as JSON.
  const custom = ps['x-messages']?.[e.keyword];
  const own = typeof custom === 'object' && custom !== null ? (custom[e.params.missingProperty ?? e.params.additionalProperty] ?? custom['*']) : custom;
  if (typeof own === 'string') return own.replace('{got}', JSON.stringify(e.data) ?? 'undefined');
  switch (e.keyword) {
    case 'type': {
      if (ps['x-type-message']) return ps['x-type-message'];
      const t = firstType(ps);
      return t === 'object' ? 'must be a JSON object' : t === 'integer' ? 'must be an integer' : `must be a${t === 'array' ? 'n' : ''} ${t}`;
    }
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a known field';
    case 'minProperties':
      return 'must change at least one field';
    case 'x-no-nul':
      return 'must not contain NUL characters';
    case 'minLength':
      return ps.minLength === 1 ? 'must not be empty' : `must be at least ${ps.minLength} characters long`;
    case 'maxLength':
      return `must be at most ${ps.maxLength} characters long`;
    case 'pattern':
      return ps['x-pattern-message'] ?? 'has an invalid format';
    case 'format':
      return FORMAT_MESSAGES[ps.format] ?? 'has an invalid format';
    case 'enum':
      return `must be one of ${(ps.enum as string[]).join(', ')}`;
    case 'minimum':
    case 'maximum':
      return `must be from ${ps.minimum} to ${ps.maximum}`;
    case 'maxItems':
      return `must have at most ${ps.maxItems} items`;
    case 'x-calendar-date':
      return 'is not a real calendar date';
    case 'x-unique-by':
    case 'x-ordered':
      return e.message ?? 'is invalid';
    default:
      return e.message ?? 'is invalid';
  }
}

/** Which of a field's errors is reported (the kernel validator's order of checks). */
const RANK: Record<string, number> = { type: 0, required: 0, additionalProperties: 0, maxItems: 1, 'x-no-nul': 1, minLength: 2, maxLength: 3 };
const rank = (e: ErrorObject) => RANK[e.keyword] ?? 4;
/** Errors that stop every check below them (the value is not what the schema's parts describe). */
const STOPS = new Set(['type', 'maxItems']);
/** Rules across the items of an array or the fields of an object. */
const CROSS = new Set(['x-unique-by', 'x-ordered']);

/** A JSON pointer into `data` as the kernel's field path: `features[1].featureId`, `(body)` for the root. */
function fieldOf(pointer: string, data: unknown, prefix: string): string {
  let field = prefix;
  let at: any = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    field = Array.isArray(at) ? `${field}[${key}]` : field ? `${field}.${key}` : key;
    at = at?.[key];
  }
  return field;
}

export function fieldErrors(errors: ErrorObject[], data: unknown, prefix = '', root = '(body)'): SchemaFieldError[] {
  const located = errors.map((e) => {
    const child = e.keyword === 'required' ? e.params.missingProperty : e.keyword === 'additionalProperties' ? e.params.additionalProperty : undefined;
    const pointer = child === undefined ? e.instancePath : `${e.instancePath}/${String(child).replace(/~/g, '~0').replace(/\//g, '~1')}`;
    return { e, pointer };
  });
  const stopped = located.filter(({ e }) => STOPS.has(e.keyword)).map(({ pointer }) => `${pointer}/`);
  const kept = located.filter(({ e, pointer }) => {
    if (stopped.some((p) => pointer.startsWith(p))) return false;
    // Rules across items or fields are looked at only when the items or fields are all valid.
    if (CROSS.has(e.keyword)) {
      const parent = pointer.slice(0, pointer.lastIndexOf('/'));
      return !located.some((o) => !CROSS.has(o.e.keyword) && o.pointer.startsWith(`${parent}/`));
    }
    return true;
  });
  const best = new Map<string, { e: ErrorObject; pointer: string }>();
  for (const l of kept) {
    const prev = best.get(l.pointer);
    if (!prev || rank(l.e) < rank(prev.e)) best.set(l.pointer, l);
  }
  return [...best.values()].map(({ e, pointer }) => ({ field: fieldOf(pointer, data, prefix) || root, message: message(e) }));
}

export interface BodyValidator<T> {
  (input: unknown): SchemaResult<T>;
  schema: TSchema;
}

/** A validator for `schema`: ajv-compiled once; `check` runs on a valid value for rules across fields. */
export function compileSchema<S extends TSchema>(
  schema: S,
  opts: { ajv?: Ajv; check?: (value: Static<S>, errors: SchemaFieldError[]) => void; rootField?: string } = {},
): BodyValidator<Static<S>> {
  const ajv = opts.ajv ?? sharedAjv();
  let fn: ValidateFunction | undefined;
  const validator = ((input: unknown): SchemaResult<Static<S>> => {
    fn ??= ajv.compile(schema);
    const value = prepare(schema as Json, input);
    if (!fn(value)) return { ok: false, errors: fieldErrors(fn.errors ?? [], value, '', opts.rootField) };
    const out = finish(schema as Json, value) as Static<S>;
    const errors: SchemaFieldError[] = [];
    opts.check?.(out, errors);
    return errors.length ? { ok: false, errors } : { ok: true, value: out };
  }) as BodyValidator<Static<S>>;
  validator.schema = schema;
  return validator;
}

/**
 * The kernel's rule shape `(value, path, errors) => T` for one value checked by `schema` (a query
 * filter, for instance), its errors under `path`.
 */
export function schemaRule<S extends TSchema>(schema: S): ((value: unknown, path: string, errors: SchemaFieldError[]) => Static<S>) & { schema: S } {
  let fn: ValidateFunction | undefined;
  const rule = (input: unknown, path: string, errors: SchemaFieldError[]): Static<S> => {
    fn ??= sharedAjv().compile(schema);
    const value = prepare(schema as Json, input);
    if (!fn(value)) {
      for (const e of fieldErrors(fn.errors ?? [], value, path)) errors.push(e.field === '(body)' && path ? { ...e, field: path } : e);
      return undefined as never;
    }
    return finish(schema as Json, value) as Static<S>;
  };
  return Object.assign(rule, { schema });
}

let shared: Ajv | undefined;
export function sharedAjv(): Ajv {
  shared ??= createAjv();
  return shared;
}

/** Sort column kinds of the kernel's keyset list queries. */
export type SortKind = 'timestamp' | 'text' | 'int' | 'date';

/**
 * A list's sorts and filters (each filter a schema) as the kernel's list spec, whose filters are
 * rules: each checked by its schema (`schemaRule`). The same definition gives the OpenAPI query
 * parameters (`listQuery` of `openapi.ts`).
 */
export function listSpecOf<L extends { sorts: Record<string, SortKind>; defaultSort: string; filters: Record<string, TSchema> }>(list: L) {
  return {
    sorts: list.sorts as Record<string, SortKind>,
    defaultSort: list.defaultSort,
    filters: Object.fromEntries(Object.entries(list.filters).map(([k, s]) => [k, schemaRule(s)])) as { [K in keyof L['filters']]: ReturnType<typeof schemaRule<L['filters'][K]>> },
  };
}
