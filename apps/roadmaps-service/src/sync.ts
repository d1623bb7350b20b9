/**
 * Forward sync: the monolith's workspace, feature and release events, consumed through the
 * messaging port (idempotent: inbox + aggregate versions; the version-guarded apply functions of
 * @carve/roadmaps-data-access). Events whose origin is this service are recorded and skipped:
 * they are its own changes coming back through the monolith (reverse sync).
 */
import { FeatureCreated, ReleaseCreated, validateLegacyEvent, WorkspaceCreated } from '@carve/legacy-contracts';
import { ROADMAPS_ORIGIN } from '@carve/roadmaps-contracts';
import { applyLegacyEvent, ROADMAPS_SCHEMA } from '@carve/roadmaps-data-access';
import { type ApplyOutcome, type ConsumerHandle, type Envelope, type MessagingLogger, startConsumer, type Transport } from '@carve/shared-messaging';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';

/** The consumer group (and the consumer's name in `roadmaps.inbox`). */
export const FORWARD_SYNC_GROUP = 'roadmaps-service';

/**
 * The monolith's topics forward sync reads (declared in libs/shared/messaging/topics.yaml):
 * releases with their plans, and the read models' sources (features: titles and statuses, which
 * planned features must be; workspaces: which exist, and their deletion cascades).
 */
export const FORWARD_SYNC_TOPICS = [WorkspaceCreated.topic, FeatureCreated.topic, ReleaseCreated.topic];

export interface ForwardSyncOptions {
  pool: Pool;
  transport: Transport;
  registry?: Registry;
  logger?: MessagingLogger;
  group?: string;
  /** Where a group with no stored position starts (default: the beginning). */
  fromBeginning?: boolean;
  /** Test seam: after each event's transaction committed. */
  afterCommit?: (event: Envelope, outcome: ApplyOutcome) => void | Promise<void>;
}

export function startForwardSync(opts: ForwardSyncOptions): Promise<ConsumerHandle> {
  return startConsumer({
    transport: opts.transport,
    group: opts.group ?? FORWARD_SYNC_GROUP,
    topics: FORWARD_SYNC_TOPICS,
    schema: ROADMAPS_SCHEMA,
    pool: opts.pool,
    handle: async (event, tx) => {
      await applyLegacyEvent(tx, event);
    },
    validate: validateLegacyEvent,
    skipOrigins: [ROADMAPS_ORIGIN],
    fromBeginning: opts.fromBeginning ?? true,
    registry: opts.registry,
    logger: opts.logger,
    hooks: opts.afterCommit ? { afterCommit: opts.afterCommit } : undefined,
  });
}
