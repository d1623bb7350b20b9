/** Everything of the roadmaps-service lives in this Postgres schema (and nothing else is read). */
export const ROADMAPS_SCHEMA = 'roadmaps';

/**
 * The aggregates the context keeps, by the monolith's aggregateType: the table holding each one's
 * latest state (the monolith's event `data`, as jsonb) with its aggregate version.
 */
export const ROADMAPS_STATE_TABLES = {
  'release': 'roadmaps.releases',
} as const;

export type RoadmapsAggregateType = keyof typeof ROADMAPS_STATE_TABLES;

export function isRoadmapsAggregateType(value: string): value is RoadmapsAggregateType {
  return Object.prototype.hasOwnProperty.call(ROADMAPS_STATE_TABLES, value);
}

/** The service's tables, for tools that read them (backfill, verify) and tests. */
export const ROADMAPS_TABLES = {
  ...ROADMAPS_STATE_TABLES,
  tombstones: 'roadmaps.tombstones',
  outbox: 'roadmaps.outbox',
  inbox: 'roadmaps.inbox',
  aggregateVersions: 'roadmaps.aggregate_versions',
} as const;
