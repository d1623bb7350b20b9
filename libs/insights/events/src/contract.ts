/**
 * The insights context's event contracts, defined with @carve/shared-event-contracts (the same
 * definition, version and topic checks and validation as every side's).
 */
import { type EventContract, eventDefiner, validateData } from '@carve/shared-event-contracts';
import type { TSchema } from '@sinclair/typebox';

export { majorOf } from '@carve/shared-event-contracts';

/** The topic source of the insights service's events (and the schema of its outbox). */
export const INSIGHTS_SOURCE = 'insights';
/**
 * The `origin` of every change first written by the insights service. The service's consumer
 * skips events with this origin (no loops); the monolith applies them and keeps the origin on
 * whatever it emits in turn (`causedBy`), so they never come back either.
 */
export const INSIGHTS_ORIGIN = 'insights-service';

/** One event of the service: type, version, topic and the JSON Schema of its `data` (an EventContractRef of @carve/shared-messaging). */
export type InsightsEventContract<S extends TSchema = TSchema> = EventContract<S, typeof INSIGHTS_SOURCE>;

export const defineInsightsEvent = eventDefiner(INSIGHTS_SOURCE);

/** Checks `data` against a contract's schema: null, or what is wrong in one line. */
export const validateInsightsData: (contract: InsightsEventContract, data: unknown) => string | null = validateData;
