/**
 * The monolith as a library, for `carve dev`, `carve seed`, tests and benchmarks: build or start
 * it in-process, migrate its schema, seed it.
 */
export { bootstrap, createApp, type CreateAppOptions, SERVICE_NAME } from './app';
export { loadMonolithConfig, type MonolithConfig, monolithEnvSchema, type Platform, PLATFORMS, sslOption } from './config';
export { legacyDataSourceSpec, legacyEntities, migrateLegacy } from './database/legacy-data-source';
export { LEGACY_SCHEMA } from './database/schema';
export { migrate } from './migrate';
export { legacyMigrations } from './migrations';
export { DEMO_IDS, demoId, type DemoSummary, seedBulk, type SeedBulkOptions, type SeedBulkResult, seedDemo, type SeedProgress } from './seed';
