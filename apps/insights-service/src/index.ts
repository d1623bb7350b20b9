/**
 * The insights service as a library, for `carve` commands, tests and benchmarks: build or start
 * it in-process, migrate its schema, run forward sync.
 */
export { buildInsightsApp, type BuildOptions, type RunningInsightsService, SERVICE_NAME, startInsightsService, type StartOptions } from './app';
export { type InsightsConfig, insightsEnvSchema, loadInsightsConfig, type Platform, PLATFORMS, sslOption } from './config';
export { migrate } from './migrate';
export { createStageReader, type StageReader, type StageReaderOptions } from './plugins/ownership';
export { FORWARD_SYNC_GROUP, FORWARD_SYNC_TOPICS, startForwardSync, type ForwardSyncOptions } from './plugins/sync';
