/**
 * Forward sync: the monolith's workspace, feature and release events into schema `roadmaps` (the
 * version-guarded apply functions of @carve/roadmaps-data-access). An event at the version of a
 * release the service wrote itself is a conflict (`forwardSyncConflict`): recorded in
 * `roadmaps.sync_conflicts` with both payloads and counted, never applied.
 */
import { FeatureCreated, ReleaseCreated, validateLegacyEvent, WorkspaceCreated } from '@carve/legacy-events';
import { ROADMAPS_ORIGIN } from '@carve/roadmaps-events';
import { applyLegacyEvent, forwardSyncConflict, ROADMAPS_SCHEMA } from '@carve/roadmaps-data-access';
import { forwardSync } from '@carve/shared-service';

export type { ForwardSyncOptions } from '@carve/shared-service';

/** The consumer group (and the consumer's name in `roadmaps.inbox`). */
export const FORWARD_SYNC_GROUP = 'roadmaps-service';

/**
 * The monolith's topics forward sync reads (declared in libs/shared/messaging/topics.yaml):
 * releases with their plans, and the read models' sources (features: titles and statuses, which
 * planned features must be; workspaces: which exist, and their deletion cascades).
 */
export const FORWARD_SYNC_TOPICS = [WorkspaceCreated.topic, FeatureCreated.topic, ReleaseCreated.topic];

export const startForwardSync = forwardSync({
  group: FORWARD_SYNC_GROUP,
  topics: FORWARD_SYNC_TOPICS,
  schema: ROADMAPS_SCHEMA,
  origin: ROADMAPS_ORIGIN,
  conflictOf: forwardSyncConflict,
  apply: applyLegacyEvent,
  validate: validateLegacyEvent,
});
