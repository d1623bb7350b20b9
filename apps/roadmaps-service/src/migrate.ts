/**
 * Migrations of schema `roadmaps` as their own process: the Kubernetes init container (with the
 * migrator role's DATABASE_URL), the Heroku release phase, `npm run migrate -w @carve/roadmaps-service`.
 * Safe concurrently (advisory lock) and repeatedly. Exit 0 on success, 1 on failure, 78 on bad config.
 */
import { ConfigError } from '@carve/shared-config';
import { createLogger } from '@carve/shared-http';
import { migrateRoadmaps } from '@carve/roadmaps-data-access';
import { type MigrationReport, resolveDatabase } from '@carve/shared-persistence';
import { loadRoadmapsConfig, sslOption } from './config';

export async function migrate(env: NodeJS.ProcessEnv = process.env): Promise<MigrationReport> {
  const config = loadRoadmapsConfig(env);
  const logger = createLogger('roadmaps-service-migrate', { level: config.logLevel });
  const db = config.databaseUrl ? undefined : await resolveDatabase({ log: logger, env });
  try {
    return await migrateRoadmaps(config.databaseUrl ?? db!.url, { ssl: sslOption(config.databaseSsl), log: logger });
  } finally {
    await db?.stop();
  }
}

if (require.main === module) {
  migrate().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `migrations failed: ${(err as Error).stack ?? err}\n`);
      process.exit(err instanceof ConfigError ? 78 : 1);
    },
  );
}
