/**
 * The insights service on the runtime every carved service shares (@carve/shared-service):
 * schema `insights`, the notes API on Fastify (src/http.ts), forward sync of the monolith's
 * events (src/sync.ts) and the relay of its own outbox.
 */
import { INSIGHTS_SCHEMA, migrateInsights } from '@carve/insights-data-access';
import { type CarvedService, type RunningService, startService, type StartOptions } from '@carve/shared-service';
import { type InsightsConfig, SERVICE_NAME } from './config';
import { buildInsightsHttp } from './http';
import { startForwardSync } from './sync';

export type { HttpServer, RunningService as RunningInsightsService, ServiceDeps as HttpDeps, StartOptions } from '@carve/shared-service';
export { SERVICE_NAME };

export const insightsService: CarvedService<InsightsConfig> = {
  name: SERVICE_NAME,
  schema: INSIGHTS_SCHEMA,
  migrate: migrateInsights,
  http: buildInsightsHttp,
  forwardSync: startForwardSync,
};

export const startInsightsService = (config: InsightsConfig, opts: StartOptions = {}): Promise<RunningService> => startService(insightsService, config, opts);
