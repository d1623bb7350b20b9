/**
 * The monolith's event contracts, defined with @carve/shared-event-contracts (one TypeBox
 * definition gives the JSON Schema of `data` and its TypeScript type, `DataOf<typeof X>`); its
 * topics carry no source prefix.
 */
import { type EventContract as SharedEventContract, eventDefiner } from '@carve/shared-event-contracts';
import type { TSchema } from '@sinclair/typebox';

export { type DataOf, majorOf, validateData } from '@carve/shared-event-contracts';

export const SOURCE = 'legacy';

export type EventContract<S extends TSchema = TSchema> = SharedEventContract<S, typeof SOURCE>;

export const defineEvent = eventDefiner(SOURCE, { topicPrefix: false });
