/**
 * What every carved context's domain shares: the carving stages in order, the token roles and
 * who may write, what counts as an id, and the rejection a read or write throws for an expected
 * failure (mapped to 404, 400 or 409 at the HTTP edge). One definition for every context.
 */
import type { FieldError } from './validation';

/**
 * The carving stages of a context (docs/runbooks/carving-a-context.md), in order. From
 * `writes-switched` on, the service is the source of truth for the context's writes.
 */
export const CARVING_STAGES = ['created', 'backfilled', 'shadow', 'canary', 'reads-switched', 'writes-switched', 'complete'] as const;
export type CarvingStage = (typeof CARVING_STAGES)[number];

export function isCarvingStage(value: unknown): value is CarvingStage {
  return typeof value === 'string' && (CARVING_STAGES as readonly string[]).includes(value);
}

/** True when the service owns writes at this stage (`writes-switched` or later). Unknown or missing: false. */
export function serviceOwnsWrites(stage: string | null | undefined): boolean {
  if (!isCarvingStage(stage)) return false;
  return CARVING_STAGES.indexOf(stage) >= CARVING_STAGES.indexOf('writes-switched');
}

/** Roles of the tokens (JWT `role`): makers and admins write, viewers read. */
export const ROLES = ['admin', 'maker', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const permissions = {
  write: (role: Role): boolean => role === 'admin' || role === 'maker',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any RFC 4122 textual UUID (what Postgres `uuid` accepts in canonical form). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** An expected failure of a read or write, mapped to HTTP at the edge (404, 400, 409). */
export type Failure = { kind: 'not_found'; what: string } | { kind: 'validation'; errors: FieldError[] } | { kind: 'conflict'; code: string; detail: string };

/** Thrown inside a transaction (so it rolls back) and caught at the edge. */
export class Rejection extends Error {
  constructor(readonly failure: Failure) {
    super(failure.kind === 'not_found' ? `${failure.what} was not found.` : failure.kind === 'conflict' ? failure.detail : 'The request is not valid.');
    this.name = 'Rejection';
  }
}

export const notFound = (what: string) => new Rejection({ kind: 'not_found', what });
export const invalid = (errors: FieldError[]) => new Rejection({ kind: 'validation', errors });
export const conflict = (code: string, detail: string) => new Rejection({ kind: 'conflict', code, detail });
