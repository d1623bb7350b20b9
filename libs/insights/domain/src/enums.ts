/** Allowed values of the insights context (the same lists as the monolith's; the contract suite holds both to them). */

export const NOTE_SOURCES = ['email', 'slack', 'intercom', 'manual'] as const;
export type NoteSource = (typeof NOTE_SOURCES)[number];

export const NOTE_STATES = ['unprocessed', 'processed', 'archived'] as const;
export type NoteState = (typeof NOTE_STATES)[number];

export const IMPORTANCES = ['low', 'medium', 'high', 'critical'] as const;
export type Importance = (typeof IMPORTANCES)[number];

/** Roles of the tokens (JWT `role`); makers and admins write, viewers read. */
export const ROLES = ['admin', 'maker', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const permissions = {
  write: (role: Role): boolean => role === 'admin' || role === 'maker',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any RFC 4122 textual UUID (as Postgres `uuid` accepts in canonical form). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
