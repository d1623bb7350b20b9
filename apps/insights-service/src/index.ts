/**
 * The insights service as a library, for `carve` commands, tests and benchmarks: start it in-process
 * (`startInsightsService(loadInsightsConfig(env))`), build its HTTP app, migrate its schema, run forward sync.
 */
export { type HttpDeps, type HttpServer, insightsService, type RunningInsightsService, SERVICE_NAME, startInsightsService, type StartOptions } from './service';
export { buildInsightsApp, buildInsightsHttp } from './http';
export { type InsightsConfig, insightsEnvSchema, loadInsightsConfig } from './config';
export { migrate } from './migrate';
export { FORWARD_SYNC_GROUP, FORWARD_SYNC_TOPICS, startForwardSync, type ForwardSyncOptions } from './sync';
