/**
 * Migrations of schema `roadmaps` as their own process: the Kubernetes init container (with the
 * migrator role's DATABASE_URL), the Heroku release phase, `npm run migrate -w @carve/roadmaps-service`.
 * Safe concurrently (advisory lock) and repeatedly. Exit 0 on success, 1 on failure, 78 on bad config.
 */
import { migrateRoadmaps } from '@carve/roadmaps-data-access';
import { migrateService, runMigrationProcess } from '@carve/shared-service';
import { loadRoadmapsConfig, SERVICE_NAME } from './config';

export const migrate = (env: NodeJS.ProcessEnv = process.env) => migrateService({ name: SERVICE_NAME, loadConfig: loadRoadmapsConfig, migrate: migrateRoadmaps }, env);

if (require.main === module) runMigrationProcess(migrate);
