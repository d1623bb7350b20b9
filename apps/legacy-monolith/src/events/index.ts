/** The monolith as an event producer and as the reverse-sync consumer of the carved services' events: docs/events.md, "The monolith" and "Reverse sync". */
export * from './legacy-events';
export * from './write-context';
export { EventsModule } from './events.module';
export { EVENTS_OPTIONS, type EventsOptions } from './events.options';
export { OutboxRelayService } from './outbox-relay.service';
export { installOutboxMetrics, readOutboxBacklog } from './outbox-metrics';
export { ReverseSyncModule } from './reverse-sync.module';
export {
  REVERSE_SYNC_GROUP,
  REVERSE_SYNC_HANDLERS,
  type ReverseSyncDeps,
  type ReverseSyncHandler,
  type ReverseSyncHandlers,
  reverseSyncHandlers,
  ReverseSyncService,
  startReverseSync,
} from './reverse-sync';
