/**
 * Reverse sync: once a carved service owns the writes of its context, the monolith consumes that
 * service's events and applies them to its own tables, so rolling the context back to the
 * monolith loses nothing. This is where that consumer starts; each context's handlers live in
 * src/reverse-sync/<context> and are registered in `reverseSyncHandlers` (Insights', Roadmaps').
 *
 * - Off unless CARVE_REVERSE_SYNC=true, and idle while no handler is registered.
 * - One consumer group (`legacy-reverse-sync`) over the topics that have a handler, on the
 *   configured transport. Each event is applied in one TypeORM transaction together with its
 *   row in `legacy.inbox` (the OutboxInbox migration): a redelivery or an older aggregateVersion
 *   is skipped; events whose origin is `legacy` (the monolith's own changes, coming back) are
 *   recorded and skipped.
 * - A handler runs in a write context caused by the event (`causedBy`): events the monolith
 *   emits while applying it keep the event's correlation id and origin, so the service skips
 *   them as its own and nothing echoes. A handler must write through the EntityManager it is
 *   given (that is the inbox transaction) and emit with `emitLegacyEvents(em, ...)`.
 * - An event at the version of a note or release the monolith wrote itself (both sides accepted
 *   a write at one version) is a conflict: the handler returns it instead of applying, and the
 *   consumer stores it in `legacy.sync_conflicts` (both payloads) and counts it.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { causedBy, type ConsumerHandle, type Envelope, type EventMeta, startConsumer, type SyncConflict, type Transport } from '@carve/shared-messaging';
import type { FastifyInstance } from 'fastify';
import { DataSource, type EntityManager } from 'typeorm';
import { LEGACY_SCHEMA } from '../database/schema';
import { insightsReverseSyncHandlers } from '../reverse-sync/insights/insights-reverse-sync';
import { roadmapsReverseSyncHandlers } from '../reverse-sync/roadmaps/roadmaps-reverse-sync';
import { EVENTS_OPTIONS, type EventsOptions } from './events.options';
import { LEGACY_ORIGIN } from './legacy-events';
import { monolithTransport } from './transport';
import { runWithWriteContext } from './write-context';

/**
 * Applies one event of `topic` to the monolith's tables, inside the inbox transaction `em`; or
 * returns a SyncConflict when the event is at a version the monolith wrote itself (the consumer
 * records it in `legacy.sync_conflicts` with both payloads and counts it; nothing is applied).
 */
export type ReverseSyncHandler = (event: Envelope, em: EntityManager, meta: EventMeta) => Promise<void | SyncConflict>;

/** Handlers per topic, e.g. `{ 'insights.notes.v1': applyInsightsNote }`. */
export type ReverseSyncHandlers = Readonly<Record<string, ReverseSyncHandler>>;

export const REVERSE_SYNC_HANDLERS = Symbol('REVERSE_SYNC_HANDLERS');
export const REVERSE_SYNC_GROUP = 'legacy-reverse-sync';

/**
 * The handlers the monolith runs when reverse sync is on, one set per carved context:
 * Insights (`insights.notes.v1`, `insights.note-features.v1`: src/reverse-sync/insights/),
 * Roadmaps (`roadmaps.releases.v1`: src/reverse-sync/roadmaps/).
 */
export const reverseSyncHandlers: ReverseSyncHandlers = { ...insightsReverseSyncHandlers, ...roadmapsReverseSyncHandlers };

export interface ReverseSyncDeps {
  transport: Transport;
  dataSource: DataSource;
  handlers: ReverseSyncHandlers;
  group?: string;
  registry?: EventsRegistry;
  logger?: EventsOptions['logger'];
}

type EventsRegistry = NonNullable<Parameters<typeof startConsumer>[0]['registry']>;

/** Starts the reverse-sync consumer over the topics of `handlers` (the function the module calls; usable on its own). */
export function startReverseSync(deps: ReverseSyncDeps): Promise<ConsumerHandle> {
  const topics = Object.keys(deps.handlers);
  if (topics.length === 0) throw new Error('startReverseSync needs at least one topic handler');
  return startConsumer<EntityManager>({
    transport: deps.transport,
    group: deps.group ?? REVERSE_SYNC_GROUP,
    topics,
    schema: LEGACY_SCHEMA,
    transaction: (fn) => deps.dataSource.transaction((em) => fn(em)),
    skipOrigins: [LEGACY_ORIGIN],
    registry: deps.registry,
    logger: deps.logger,
    handle: (event, em, meta) => {
      const handler = deps.handlers[meta.topic];
      if (!handler) throw new Error(`reverse sync: no handler for ${meta.topic}`);
      return runWithWriteContext(causedBy(event), () => handler(event, em, meta));
    },
  });
}

@Injectable()
export class ReverseSyncService implements OnApplicationBootstrap, OnModuleDestroy {
  private consumer: ConsumerHandle | undefined;
  private transport: Transport | undefined;

  constructor(
    @Inject(EVENTS_OPTIONS) private readonly opts: EventsOptions,
    @Inject(REVERSE_SYNC_HANDLERS) private readonly handlers: ReverseSyncHandlers,
    private readonly dataSource: DataSource,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** The running consumer, when reverse sync is on and has handlers. */
  get handle(): ConsumerHandle | undefined {
    return this.consumer;
  }

  async onApplicationBootstrap(): Promise<void> {
    const { logger, events } = this.opts;
    if (!events.reverseSync) return;
    const topics = Object.keys(this.handlers);
    if (topics.length === 0) {
      logger.warn({}, 'reverse sync: CARVE_REVERSE_SYNC is on but no topic has a handler yet; nothing to consume');
      return;
    }
    this.transport = monolithTransport(this.opts, 'legacy-monolith-reverse-sync');
    this.consumer = await startReverseSync({
      transport: this.transport,
      dataSource: this.dataSource,
      handlers: this.handlers,
      registry: this.adapterHost.httpAdapter?.getInstance<FastifyInstance>().platform?.metrics,
      logger,
    });
    logger.info({ topics, transport: events.transport }, 'reverse sync: consuming');
  }

  async onModuleDestroy(): Promise<void> {
    const consumer = this.consumer;
    const transport = this.transport;
    this.consumer = undefined;
    this.transport = undefined;
    await consumer?.stop();
    await transport?.close();
  }
}
