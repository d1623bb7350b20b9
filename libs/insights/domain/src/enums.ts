/** Allowed values of the insights context (the same lists as the monolith's; the contract suite holds both to them). */

export const NOTE_SOURCES = ['email', 'slack', 'intercom', 'manual'] as const;
export type NoteSource = (typeof NOTE_SOURCES)[number];

export const NOTE_STATES = ['unprocessed', 'processed', 'archived'] as const;
export type NoteState = (typeof NOTE_STATES)[number];

export const IMPORTANCES = ['low', 'medium', 'high', 'critical'] as const;
export type Importance = (typeof IMPORTANCES)[number];
