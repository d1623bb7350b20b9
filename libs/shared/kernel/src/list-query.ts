/**
 * List queries: `?limit=&cursor=&sort=&<filters>` → a checked, typed description of one page.
 *
 * Pages are keyset-paginated on (sort key, id): stable under concurrent inserts, no OFFSET. The
 * cursor is opaque to clients (base64url JSON) and carries the sort and filters it was made for,
 * so it cannot be replayed against another ordering and silently skip or repeat rows.
 */
import { type FieldError, type Result, type Rule } from './validation';

/** Sort column kinds: timestamptz(3), text, smallint, date. */
export type SortKind = 'timestamp' | 'text' | 'int' | 'date';
export type Direction = 'asc' | 'desc';

export interface SortSpec {
  /** API name, e.g. `createdAt`. */
  field: string;
  direction: Direction;
  kind: SortKind;
}

export type QueryFilters = Record<string, Rule<any>>;
type FilterValues<F extends QueryFilters> = { [K in keyof F]?: F[K] extends Rule<infer T> ? T : never };

export interface ListSpec<F extends QueryFilters> {
  /** Sortable fields (API names) and their kind. Sort keys must be NOT NULL columns. */
  sorts: Record<string, SortKind>;
  /** e.g. `-createdAt` (newest first). */
  defaultSort: string;
  filters: F;
  defaultLimit?: number;
  maxLimit?: number;
}

export type CursorValue = string | number;

export interface ListQuery<Filters = Record<string, unknown>> {
  limit: number;
  sort: SortSpec;
  /** Continue strictly after this (sort value, id) in the sort's direction. */
  after?: { value: CursorValue; id: string };
  filters: Filters;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

const RESERVED = new Set(['limit', 'cursor', 'sort']);

export function parseListQuery<F extends QueryFilters>(spec: ListSpec<F>, query: Record<string, unknown> | undefined): Result<ListQuery<FilterValues<F>>> {
  const q = query ?? {};
  const errors: FieldError[] = [];
  const maxLimit = spec.maxLimit ?? MAX_LIMIT;

  for (const key of Object.keys(q)) {
    if (!RESERVED.has(key) && !Object.prototype.hasOwnProperty.call(spec.filters, key)) {
      const known = ['limit', 'cursor', 'sort', ...Object.keys(spec.filters)].join(', ');
      errors.push({ field: key, message: `is not a known query parameter (known: ${known})` });
    } else if (Array.isArray(q[key])) {
      errors.push({ field: key, message: 'must be given once' });
    }
  }

  let limit = spec.defaultLimit ?? DEFAULT_LIMIT;
  if (q.limit !== undefined && !Array.isArray(q.limit)) {
    const n = Number(q.limit);
    if (!/^\d+$/.test(String(q.limit)) || n < 1 || n > maxLimit) errors.push({ field: 'limit', message: `must be an integer from 1 to ${maxLimit}` });
    else limit = n;
  }

  const sortRaw = q.sort === undefined || Array.isArray(q.sort) ? spec.defaultSort : String(q.sort);
  const desc = sortRaw.startsWith('-');
  const field = desc ? sortRaw.slice(1) : sortRaw;
  // An own property of the allow-list only: `constructor`, `__proto__`, `toString` are not sort keys.
  const kind = Object.prototype.hasOwnProperty.call(spec.sorts, field) ? spec.sorts[field] : undefined;
  if (!kind) {
    const allowed = Object.keys(spec.sorts).flatMap((s) => [s, `-${s}`]).join(', ');
    errors.push({ field: 'sort', message: `must be one of ${allowed}` });
  }
  const sort: SortSpec = { field, direction: desc ? 'desc' : 'asc', kind: kind ?? 'text' };

  const filters: Record<string, unknown> = {};
  for (const [name, rule] of Object.entries(spec.filters)) {
    const raw = q[name];
    if (raw === undefined || Array.isArray(raw)) continue;
    filters[name] = rule(raw, name, errors);
  }

  let after: ListQuery['after'];
  if (q.cursor !== undefined && !Array.isArray(q.cursor) && errors.length === 0) {
    const decoded = decodeCursor(String(q.cursor));
    if (!decoded || decoded.s !== sortKey(sort) || decoded.f !== filtersKey(filters) || !valueFits(decoded.v, sort.kind)) {
      errors.push({ field: 'cursor', message: 'is not a cursor of this list with this sort and these filters' });
    } else {
      after = { value: decoded.v, id: decoded.id };
    }
  }

  if (errors.length) return { ok: false, errors };
  return { ok: true, value: { limit, sort, after, filters: filters as FilterValues<F> } };
}

/**
 * Builds the page from `limit + 1` fetched rows: the extra row only says there is more.
 * `valueOf` gives an item's sort value (Date for timestamps), `idOf` its tie-breaking id.
 */
export function toPage<T>(rows: T[], query: ListQuery<any>, valueOf: (item: T) => unknown, idOf: (item: T) => string = (item) => (item as { id: string }).id): Page<T> {
  const items = rows.slice(0, query.limit);
  if (rows.length <= query.limit || items.length === 0) return { items, nextCursor: null };
  const last = items[items.length - 1];
  return { items, nextCursor: encodeCursor(query, cursorValue(valueOf(last), query.sort.kind), idOf(last)) };
}

export function encodeCursor(query: Pick<ListQuery<any>, 'sort' | 'filters'>, value: CursorValue, id: string): string {
  return Buffer.from(JSON.stringify({ s: sortKey(query.sort), f: filtersKey(query.filters), v: value, id }), 'utf8').toString('base64url');
}

/** Normalises a sort value for the cursor: timestamps as ISO strings (millisecond precision), dates as YYYY-MM-DD. */
export function cursorValue(raw: unknown, kind: SortKind): CursorValue {
  if (kind === 'timestamp') return raw instanceof Date ? raw.toISOString() : new Date(String(raw)).toISOString();
  if (kind === 'int') return Number(raw);
  return String(raw);
}

function decodeCursor(raw: string): { s: string; f: string; v: CursorValue; id: string } | undefined {
  if (raw.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(raw)) return undefined;
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    const ok =
      c && typeof c.s === 'string' && typeof c.f === 'string' && (typeof c.v === 'string' || typeof c.v === 'number') &&
      typeof c.id === 'string' && UUID.test(c.id);
    return ok ? c : undefined;
  } catch {
    return undefined;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** True when `text` parses to a real instant that prints back as `expected` (no 2025-13-45, no Feb 30). */
function sameInstant(text: string, expected: string): boolean {
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === expected;
}

/** Cursors are opaque but forgeable: only values the database will accept for the sort column pass. */
function valueFits(v: CursorValue, kind: SortKind): boolean {
  switch (kind) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 32767;
    case 'timestamp':
      return typeof v === 'string' && ISO_INSTANT.test(v) && sameInstant(v, v);
    case 'date':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && sameInstant(`${v}T00:00:00.000Z`, `${v}T00:00:00.000Z`);
    default:
      return typeof v === 'string' && v.length <= 1000 && !v.includes('\u0000');
  }
}

const sortKey = (s: SortSpec) => `${s.direction === 'desc' ? '-' : ''}${s.field}`;

/** A short stable digest of the filters (FNV-1a over sorted JSON). */
function filtersKey(filters: Record<string, unknown>): string {
  const text = JSON.stringify(Object.keys(filters).sort().map((k) => [k, filters[k]]));
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}
