/** Allowed values of the insights context (the same lists as the monolith's; the contract suite holds both to them). */
import { IMPORTANCES, NOTE_SOURCES, NOTE_STATES } from '@carve/insights-api-contract';

export { IMPORTANCES, NOTE_SOURCES, NOTE_STATES };
export type NoteSource = (typeof NOTE_SOURCES)[number];
export type NoteState = (typeof NOTE_STATES)[number];
export type Importance = (typeof IMPORTANCES)[number];
