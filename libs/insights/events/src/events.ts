/**
 * The insights service's own events, for the reverse sync (service → monolith) once the service
 * is the source of truth. Their `data` is exactly the monolith's shape (the same TypeBox schemas
 * as @carve/legacy-events: the customer back inline as customerEmail/customerName/
 * customerCompany), so the monolith applies them with the code it already has for its own
 * events. Only `source` (insights), the topics and `origin` (insights-service) differ.
 *
 * - note.created|updated carry the note's whole state; `aggregateVersion` is the note's version.
 * - note.deleted carries ids; `aggregateVersion` is the version the delete gave it (last + 1);
 *   it follows a note-feature-link.deleted per link the note had, at that same version.
 * - note-feature-link.* name the link (`<noteId>:<featureId>`) and carry the note's new version
 *   (a link change bumps the note's version, as in the monolith); each link change emits
 *   note.updated with that version first, so the note's version and updatedAt travel too.
 * The order and versions are the monolith's own (apps/legacy-monolith src/events/legacy-events.ts).
 */
import type { Static } from '@sinclair/typebox';
import { NoteDeletedData, NoteFeatureLinkDeletedData, NoteFeatureLinkState, NoteState } from '@carve/legacy-events';
import { defineInsightsEvent, type InsightsEventContract, majorOf, validateInsightsData } from './contract';

export const INSIGHTS_NOTES_TOPIC = 'insights.notes.v1';
export const INSIGHTS_NOTE_LINKS_TOPIC = 'insights.note-features.v1';

export const InsightsNoteCreated = defineInsightsEvent({ aggregateType: 'note', action: 'created', version: '1.0', topic: INSIGHTS_NOTES_TOPIC, schema: NoteState });
export const InsightsNoteUpdated = defineInsightsEvent({ aggregateType: 'note', action: 'updated', version: '1.0', topic: INSIGHTS_NOTES_TOPIC, schema: NoteState });
export const InsightsNoteDeleted = defineInsightsEvent({ aggregateType: 'note', action: 'deleted', version: '1.0', topic: INSIGHTS_NOTES_TOPIC, schema: NoteDeletedData });

export const InsightsNoteLinkCreated = defineInsightsEvent({
  aggregateType: 'note-feature-link', action: 'created', version: '1.0', topic: INSIGHTS_NOTE_LINKS_TOPIC, schema: NoteFeatureLinkState,
});
export const InsightsNoteLinkUpdated = defineInsightsEvent({
  aggregateType: 'note-feature-link', action: 'updated', version: '1.0', topic: INSIGHTS_NOTE_LINKS_TOPIC, schema: NoteFeatureLinkState,
});
export const InsightsNoteLinkDeleted = defineInsightsEvent({
  aggregateType: 'note-feature-link', action: 'deleted', version: '1.0', topic: INSIGHTS_NOTE_LINKS_TOPIC, schema: NoteFeatureLinkDeletedData,
});

export type InsightsNoteStateV1 = Static<typeof NoteState>;
export type InsightsNoteLinkStateV1 = Static<typeof NoteFeatureLinkState>;

/** Every insights contract, current version of each major. */
export const INSIGHTS_EVENTS = [
  InsightsNoteCreated, InsightsNoteUpdated, InsightsNoteDeleted,
  InsightsNoteLinkCreated, InsightsNoteLinkUpdated, InsightsNoteLinkDeleted,
] as const;

export const INSIGHTS_TOPICS = [...new Set(INSIGHTS_EVENTS.map((e) => e.topic))];

const byTypeAndMajor = new Map<string, InsightsEventContract>(INSIGHTS_EVENTS.map((c) => [`${c.type}@${majorOf(c.version)}`, c]));

export function insightsContractFor(type: string, version: string): InsightsEventContract | undefined {
  return byTypeAndMajor.get(`${type}@${majorOf(version)}`);
}

/** For a consumer's `validate` option (the monolith's reverse-sync consumer): null if fine, else why not. */
export function validateInsightsEvent(event: { type: string; version: string; data: unknown }): string | null {
  const contract = insightsContractFor(event.type, event.version);
  if (!contract) return `no insights contract for ${event.type} version ${event.version}`;
  return validateInsightsData(contract, event.data);
}

/** The aggregate id of a note-feature link (as the monolith's). */
export const noteLinkAggregateId = (noteId: string, featureId: string) => `${noteId}:${featureId}`;
