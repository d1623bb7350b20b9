/**
 * The roadmaps-service on the runtime every carved service shares (@carve/shared-service):
 * schema `roadmaps`, the releases API on NestJS (src/http.ts), forward sync of the monolith's
 * events (src/sync.ts) and the relay of its own outbox.
 */
import { migrateRoadmaps, ROADMAPS_SCHEMA } from '@carve/roadmaps-data-access';
import { type CarvedService, type RunningService, startService, type StartOptions } from '@carve/shared-service';
import { type RoadmapsConfig, SERVICE_NAME } from './config';
import { buildRoadmapsHttp } from './http';
import { startForwardSync } from './sync';

export type { HttpServer, RunningService as RunningRoadmapsService, ServiceDeps as HttpDeps, StartOptions } from '@carve/shared-service';
export { SERVICE_NAME };

export const roadmapsService: CarvedService<RoadmapsConfig> = {
  name: SERVICE_NAME,
  schema: ROADMAPS_SCHEMA,
  migrate: migrateRoadmaps,
  http: buildRoadmapsHttp,
  forwardSync: startForwardSync,
};

export const startRoadmapsService = (config: RoadmapsConfig, opts: StartOptions = {}): Promise<RunningService> => startService(roadmapsService, config, opts);
