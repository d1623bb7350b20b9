import { type TSchema, Type } from '@sinclair/typebox';

/** Field shapes shared by the legacy contracts. */
export const Uuid = () => Type.String({ format: 'uuid' });
export const Timestamp = () => Type.String({ format: 'date-time', description: 'ISO-8601 UTC' });
export const CalendarDate = () => Type.String({ format: 'date', description: 'YYYY-MM-DD' });
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const Tags = () => Type.Array(Type.String());
/** A string enumeration as a plain JSON Schema `enum`, typed as the union of its values. */
export const Enum = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

/** Enumerations of the legacy product (the monolith's domain holds the same lists; a test compares them). */
export const MEMBER_ROLES = ['admin', 'maker', 'viewer'] as const;
export const FEATURE_STATUSES = ['new', 'planned', 'in-progress', 'done'] as const;
export const NOTE_SOURCES = ['email', 'slack', 'intercom', 'manual'] as const;
export const NOTE_STATES = ['unprocessed', 'processed', 'archived'] as const;
export const IMPORTANCES = ['low', 'medium', 'high', 'critical'] as const;
export const RELEASE_STATES = ['planned', 'in-progress', 'released'] as const;
