/** Everything of the roadmaps service lives in this Postgres schema (and nothing else is read). */
export const ROADMAPS_SCHEMA = 'roadmaps';

/** The service's tables, for tools that read them (backfill, verify) and tests. */
export const ROADMAPS_TABLES = {
  workspaces: `${ROADMAPS_SCHEMA}.workspaces`,
  featureTitles: `${ROADMAPS_SCHEMA}.feature_titles`,
  releases: `${ROADMAPS_SCHEMA}.releases`,
  releaseFeatures: `${ROADMAPS_SCHEMA}.release_features`,
  tombstones: `${ROADMAPS_SCHEMA}.tombstones`,
  outbox: `${ROADMAPS_SCHEMA}.outbox`,
  inbox: `${ROADMAPS_SCHEMA}.inbox`,
  aggregateVersions: `${ROADMAPS_SCHEMA}.aggregate_versions`,
} as const;
