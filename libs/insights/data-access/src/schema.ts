/** Everything of the insights service lives in this Postgres schema (and nothing else is read). */
export const INSIGHTS_SCHEMA = 'insights';

/** The service's tables, for tools that read them (backfill, verify) and tests. */
export const INSIGHTS_TABLES = {
  workspaces: `${INSIGHTS_SCHEMA}.workspaces`,
  featureTitles: `${INSIGHTS_SCHEMA}.feature_titles`,
  customers: `${INSIGHTS_SCHEMA}.customers`,
  notes: `${INSIGHTS_SCHEMA}.notes`,
  noteFeatures: `${INSIGHTS_SCHEMA}.note_features`,
  tombstones: `${INSIGHTS_SCHEMA}.tombstones`,
  outbox: `${INSIGHTS_SCHEMA}.outbox`,
  inbox: `${INSIGHTS_SCHEMA}.inbox`,
  aggregateVersions: `${INSIGHTS_SCHEMA}.aggregate_versions`,
} as const;
