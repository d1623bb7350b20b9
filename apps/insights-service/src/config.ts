/**
 * The insights service's configuration: the configuration every carved service shares
 * (`loadServiceConfig` of @carve/shared-http, which documents PLATFORM, the refused
 * LEGACY_DATABASE_URL and the control-plane and messaging connections), on port 3101 with the
 * forward-sync consumer group `insights-service`.
 */
import { loadServiceConfig, type ServiceConfig, serviceEnvSchema } from '@carve/shared-http';

/** The deployable's name: health answers, metrics label, logs, consumer group. */
export const SERVICE_NAME = 'insights-service';

export type InsightsConfig = ServiceConfig;

export const insightsEnvSchema = serviceEnvSchema({ port: 3101, syncGroup: SERVICE_NAME });

export function loadInsightsConfig(source: NodeJS.ProcessEnv = process.env): InsightsConfig {
  return loadServiceConfig('insights service', insightsEnvSchema, source);
}
