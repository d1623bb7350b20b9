/**
 * The service's own events, once it owns writes: appended to `roadmaps.outbox` in the same
 * transaction as the change (the relay ships them; the monolith's reverse sync applies them).
 * They carry origin `roadmaps-service`, so the service's forward sync skips them when the monolith
 * emits the change again.
 */
import { ROADMAPS_ORIGIN } from '@carve/roadmaps-events';
import { appendToOutbox, createEvent, type EnvelopeArgs, type EventContractRef, type OutboxEvent, type SqlExecutor } from '@carve/shared-messaging';
import { ROADMAPS_SCHEMA } from './schema';

/** One of the service's events (origin `roadmaps-service` unless given). */
export function roadmapsEvent<T>(contract: EventContractRef<T>, args: EnvelopeArgs<NoInfer<T>>): OutboxEvent<T> {
  return createEvent(contract, { origin: ROADMAPS_ORIGIN, ...args });
}

export async function emitRoadmapsEvents(tx: SqlExecutor, events: OutboxEvent[]): Promise<void> {
  await appendToOutbox(tx, ROADMAPS_SCHEMA, events);
}
