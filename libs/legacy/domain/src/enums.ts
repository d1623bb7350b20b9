/** Allowed values of the legacy product's enumerations: one place, used by validation, the database checks and the seeders. */

export const MEMBER_ROLES = ['admin', 'maker', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const FEATURE_STATUSES = ['new', 'planned', 'in-progress', 'done'] as const;
export type FeatureStatus = (typeof FEATURE_STATUSES)[number];

export const NOTE_SOURCES = ['email', 'slack', 'intercom', 'manual'] as const;
export type NoteSource = (typeof NOTE_SOURCES)[number];

export const NOTE_STATES = ['unprocessed', 'processed', 'archived'] as const;
export type NoteState = (typeof NOTE_STATES)[number];

export const IMPORTANCES = ['low', 'medium', 'high', 'critical'] as const;
export type Importance = (typeof IMPORTANCES)[number];

export const RELEASE_STATES = ['planned', 'in-progress', 'released'] as const;
export type ReleaseState = (typeof RELEASE_STATES)[number];

/** Feature priority: 1 (highest) .. 5 (lowest). */
export const PRIORITY_MIN = 1;
export const PRIORITY_MAX = 5;
export const PRIORITY_DEFAULT = 3;

