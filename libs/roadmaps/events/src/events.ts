/**
 * The roadmaps-service's own events, for reverse sync (service → monolith) once it owns writes.
 * Their `data` is exactly the monolith's (the same TypeBox schemas as @carve/legacy-events);
 * created/updated carry the whole state, deleted the ids, `aggregateVersion` the version after
 * the change, as the monolith's do.
 */
import { ReleaseDeletedData, ReleaseState } from '@carve/legacy-events';
import { defineRoadmapsEvent, type RoadmapsEventContract, majorOf, validateRoadmapsData } from './contract';

// ---- releases (roadmaps.releases.v1) ----
export const ROADMAPS_RELEASES_TOPIC = 'roadmaps.releases.v1';
export const RoadmapsReleaseCreated = defineRoadmapsEvent({ aggregateType: 'release', action: 'created', version: '1.0', topic: ROADMAPS_RELEASES_TOPIC, schema: ReleaseState });
export const RoadmapsReleaseUpdated = defineRoadmapsEvent({ aggregateType: 'release', action: 'updated', version: '1.0', topic: ROADMAPS_RELEASES_TOPIC, schema: ReleaseState });
export const RoadmapsReleaseDeleted = defineRoadmapsEvent({ aggregateType: 'release', action: 'deleted', version: '1.0', topic: ROADMAPS_RELEASES_TOPIC, schema: ReleaseDeletedData });

/** Every contract of the service, current version of each major. */
export const ROADMAPS_EVENTS = [
  RoadmapsReleaseCreated, RoadmapsReleaseUpdated, RoadmapsReleaseDeleted,
] as const;

export const ROADMAPS_TOPICS = [...new Set(ROADMAPS_EVENTS.map((e) => e.topic))];

const byTypeAndMajor = new Map<string, RoadmapsEventContract>(ROADMAPS_EVENTS.map((c) => [`${c.type}@${majorOf(c.version)}`, c]));

export function roadmapsContractFor(type: string, version: string): RoadmapsEventContract | undefined {
  return byTypeAndMajor.get(`${type}@${majorOf(version)}`);
}

/** For a consumer's `validate` option (the monolith's reverse sync): null if fine, else why not. */
export function validateRoadmapsEvent(event: { type: string; version: string; data: unknown }): string | null {
  const contract = roadmapsContractFor(event.type, event.version);
  if (!contract) return `no roadmaps contract for ${event.type} version ${event.version}`;
  return validateRoadmapsData(contract, event.data);
}
