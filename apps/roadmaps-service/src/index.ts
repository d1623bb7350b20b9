/**
 * The roadmaps-service as a library, for `carve` commands, tests and benchmarks: start it in-process
 * (`startRoadmapsService(loadRoadmapsConfig(env))`), build its HTTP app, migrate its schema, run forward sync.
 */
export { type HttpDeps, type HttpServer, roadmapsService, type RunningRoadmapsService, SERVICE_NAME, startRoadmapsService, type StartOptions } from './service';
export { buildRoadmapsApp, buildRoadmapsHttp } from './http';
export { type RoadmapsConfig, roadmapsEnvSchema, loadRoadmapsConfig } from './config';
export { migrate } from './migrate';
export { FORWARD_SYNC_GROUP, FORWARD_SYNC_TOPICS, startForwardSync, type ForwardSyncOptions } from './sync';
