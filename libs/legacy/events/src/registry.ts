import { type EventContract, majorOf, validateData } from './contract';
import { LEGACY_EVENTS } from './events';

const byTypeAndMajor = new Map<string, EventContract>(LEGACY_EVENTS.map((c) => [`${c.type}@${majorOf(c.version)}`, c]));

/** The contract that reads events of `type` at `version` (any minor of its major), if any. */
export function legacyContractFor(type: string, version: string): EventContract | undefined {
  return byTypeAndMajor.get(`${type}@${majorOf(version)}`);
}

/**
 * Validates an event of the monolith against its contract: null if fine, else one line saying
 * what is wrong. Fits the `validate` option of @carve/shared-messaging's startConsumer (an
 * invalid event goes to the DLQ). A newer minor than this build knows is read with the schema of
 * its major: minors only add optional fields, and schemas allow fields they do not know.
 */
export function validateLegacyEvent(event: { type: string; version: string; data: unknown }): string | null {
  const contract = legacyContractFor(event.type, event.version);
  if (!contract) return `no legacy contract for ${event.type} version ${event.version}`;
  return validateData(contract, event.data);
}
