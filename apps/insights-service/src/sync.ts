/**
 * Forward sync: the monolith's workspace, feature, note and link events into schema `insights`
 * (the version-guarded apply functions of @carve/insights-data-access). An event at the version
 * of a note the service wrote itself is a conflict (`forwardSyncConflict`): recorded in
 * `insights.sync_conflicts` with both payloads and counted, never applied. A note's events and its
 * links' events (two topics) are serialised per note, so they never deadlock each other.
 */
import { FeatureCreated, NoteCreated, NoteFeatureLinkCreated, validateLegacyEvent, WorkspaceCreated } from '@carve/legacy-events';
import { INSIGHTS_ORIGIN } from '@carve/insights-events';
import { applyLegacyEvent, forwardSyncConflict, INSIGHTS_SCHEMA, noteOfEvent } from '@carve/insights-data-access';
import { forwardSync } from '@carve/shared-service';

export type { ForwardSyncOptions } from '@carve/shared-service';

/** The consumer group (and the consumer's name in `insights.inbox`). */
export const FORWARD_SYNC_GROUP = 'insights-service';

/** The monolith's topics forward sync reads (declared in libs/shared/messaging/topics.yaml). */
export const FORWARD_SYNC_TOPICS = [WorkspaceCreated.topic, FeatureCreated.topic, NoteCreated.topic, NoteFeatureLinkCreated.topic];

export const startForwardSync = forwardSync({
  group: FORWARD_SYNC_GROUP,
  topics: FORWARD_SYNC_TOPICS,
  schema: INSIGHTS_SCHEMA,
  origin: INSIGHTS_ORIGIN,
  conflictOf: forwardSyncConflict,
  apply: applyLegacyEvent,
  serializeBy: (event) => {
    const note = noteOfEvent(event);
    return note ? `note:${note}` : null;
  },
  validate: validateLegacyEvent,
});
