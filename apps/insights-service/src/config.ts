/**
 * The insights service's configuration: the configuration every carved service shares
 * (`loadServiceConfig` of @carve/shared-http, which documents PLATFORM, the refused
 * LEGACY_DATABASE_URL and the control-plane and messaging connections), on port 3101 with the
 * forward-sync consumer group `insights-service`.
 */
import { loadServiceConfig, type ServiceConfig, SERVICE_PLATFORMS, type ServicePlatform, serviceEnvSchema, sslOption } from '@carve/shared-http';

export { sslOption };
export const PLATFORMS = SERVICE_PLATFORMS;
export type Platform = ServicePlatform;
export type InsightsConfig = ServiceConfig;

export const insightsEnvSchema = serviceEnvSchema({ port: 3101, syncGroup: 'insights-service' });

export function loadInsightsConfig(source: NodeJS.ProcessEnv = process.env): InsightsConfig {
  return loadServiceConfig('insights service', insightsEnvSchema, source);
}
