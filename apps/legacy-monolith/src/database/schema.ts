/** Everything of the monolith lives in this Postgres schema. */
export const LEGACY_SCHEMA = 'legacy';
