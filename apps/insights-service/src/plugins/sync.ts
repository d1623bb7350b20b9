/**
 * Forward sync: the monolith's workspace, feature, note and link events, consumed through the
 * messaging port (idempotent: inbox + aggregate versions; version-guarded apply functions of
 * @carve/insights-data-access). Events whose origin is this service are recorded and skipped:
 * they are its own changes coming back through the monolith (reverse sync).
 */
import { FeatureCreated, NoteCreated, NoteFeatureLinkCreated, validateLegacyEvent, WorkspaceCreated } from '@carve/legacy-contracts';
import { INSIGHTS_ORIGIN } from '@carve/insights-contracts';
import { applyLegacyEvent, INSIGHTS_SCHEMA } from '@carve/insights-data-access';
import { type ApplyOutcome, type ConsumerHandle, type Envelope, type MessagingLogger, startConsumer, type Transport } from '@carve/shared-messaging';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';

/** The consumer group (and the consumer's name in `insights.inbox`). */
export const FORWARD_SYNC_GROUP = 'insights-service';

/** The monolith's topics forward sync reads (declared in libs/shared/messaging/topics.yaml). */
export const FORWARD_SYNC_TOPICS = [WorkspaceCreated.topic, FeatureCreated.topic, NoteCreated.topic, NoteFeatureLinkCreated.topic];

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
    schema: INSIGHTS_SCHEMA,
    pool: opts.pool,
    handle: async (event, tx) => {
      await applyLegacyEvent(tx, event);
    },
    validate: validateLegacyEvent,
    skipOrigins: [INSIGHTS_ORIGIN],
    fromBeginning: opts.fromBeginning ?? true,
    registry: opts.registry,
    logger: opts.logger,
    hooks: opts.afterCommit ? { afterCommit: opts.afterCommit } : undefined,
  });
}
