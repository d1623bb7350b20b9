/**
 * The roadmaps context's event contracts, defined with @carve/shared-event-contracts (the same
 * definition, version and topic checks and validation as every side's).
 */
import { type EventContract, eventDefiner, validateData } from '@carve/shared-event-contracts';
import type { TSchema } from '@sinclair/typebox';

export { majorOf } from '@carve/shared-event-contracts';

/** The topic source of the roadmaps-service's events (and the schema of its outbox). */
export const ROADMAPS_SOURCE = 'roadmaps';
/**
 * The `origin` of every change first written by the roadmaps-service. Its forward sync skips
 * events with this origin (its own changes coming back through the monolith): no loops.
 */
export const ROADMAPS_ORIGIN = 'roadmaps-service';

/** One event of the service: type, version, topic and the JSON Schema of its `data` (an EventContractRef of @carve/shared-messaging). */
export type RoadmapsEventContract<S extends TSchema = TSchema> = EventContract<S, typeof ROADMAPS_SOURCE>;

export const defineRoadmapsEvent = eventDefiner(ROADMAPS_SOURCE);

/** Checks `data` against a contract's schema: null, or what is wrong in one line. */
export const validateRoadmapsData: (contract: RoadmapsEventContract, data: unknown) => string | null = validateData;
