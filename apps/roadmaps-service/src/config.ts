/**
 * The roadmaps-service's configuration: the configuration every carved service shares
 * (`loadServiceConfig` of @carve/shared-http, which documents PLATFORM, the refused
 * LEGACY_DATABASE_URL and the control-plane and messaging connections), on port 3102 with the
 * forward-sync consumer group `roadmaps-service`.
 */
import { loadServiceConfig, type ServiceConfig, serviceEnvSchema } from '@carve/shared-http';

/** The deployable's name: health answers, metrics label, logs, consumer group. */
export const SERVICE_NAME = 'roadmaps-service';

export type RoadmapsConfig = ServiceConfig;

export const roadmapsEnvSchema = serviceEnvSchema({ port: 3102, syncGroup: SERVICE_NAME });

export function loadRoadmapsConfig(source: NodeJS.ProcessEnv = process.env): RoadmapsConfig {
  return loadServiceConfig(SERVICE_NAME, roadmapsEnvSchema, source);
}
