/**
 * Forward sync as every carved service runs it: the monolith's events on the context's topics,
 * consumed through the messaging port into the service's schema (idempotent: inbox + aggregate
 * versions), its own origin's events recorded and skipped (they are its own changes coming back
 * through the monolith), each event checked against the monolith's contracts.
 */
import { type ApplyOutcome, type ConsumerHandle, type Envelope, type EventHandler, type MessagingLogger, startConsumer, type SyncConflict, type Transport } from '@carve/shared-messaging';
import type { Pool, PoolClient } from 'pg';
import type { Registry } from 'prom-client';

/** What one context's forward sync is. */
export interface ForwardSyncDefinition {
  /** The default consumer group (and the consumer's name in `<schema>.inbox`). */
  group: string;
  /** The monolith's topics it reads (declared in libs/shared/messaging/topics.yaml). */
  topics: string[];
  schema: string;
  /** The service's own origin: its events coming back are recorded and skipped. */
  origin: string;
  /** Applies one event in its transaction (version-guarded: an older state than the row's is skipped). */
  apply: (tx: PoolClient, event: Envelope) => Promise<unknown>;
  /**
   * The conflict the event is, if any: an event at the version of an aggregate the service wrote
   * itself. A conflict is recorded with both payloads and counted, never applied. Checked in the
   * event's transaction, before `apply`. Default: none.
   */
  conflictOf?: (tx: PoolClient, event: Envelope) => Promise<SyncConflict | null>;
  /** Checks `data` against the monolith's contract; a message sends the event to the DLQ. */
  validate: (event: Envelope) => string | null | undefined;
  /** Events that must not be applied by two transactions at once share a key (null: none). */
  serializeBy?: (event: Envelope) => string | null | undefined;
}

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

/** The function that starts `def`'s consumer. */
export function forwardSync(def: ForwardSyncDefinition): (opts: ForwardSyncOptions) => Promise<ConsumerHandle> {
  const handle: EventHandler<PoolClient> = async (event, tx) => {
    const conflict = def.conflictOf ? await def.conflictOf(tx, event) : null;
    if (conflict) return conflict;
    await def.apply(tx, event);
  };
  return (opts) =>
    startConsumer({
      transport: opts.transport,
      group: opts.group ?? def.group,
      topics: def.topics,
      schema: def.schema,
      pool: opts.pool,
      handle,
      serializeBy: def.serializeBy,
      validate: def.validate,
      skipOrigins: [def.origin],
      fromBeginning: opts.fromBeginning ?? true,
      registry: opts.registry,
      logger: opts.logger,
      hooks: opts.afterCommit ? { afterCommit: opts.afterCommit } : undefined,
    });
}
