/**
 * Migrations of the legacy schema as a separate process: the Heroku release phase (Procfile
 * `release:`), the Kubernetes init container (PLATFORM=kubernetes never migrates at boot), and
 * `npm run migrate -w @carve/legacy-monolith`. Safe to run concurrently (advisory lock) and
 * repeatedly (no-op when up to date). Exit status 0 on success, 1 on failure, 78 on bad config.
 */
import { ConfigError } from '@carve/shared-config';
import { createLogger } from '@carve/shared-http';
import { type MigrationReport, resolveDatabase } from '@carve/shared-persistence';
import { loadMonolithConfig, sslOption } from './config';
import { migrateLegacy } from './database/legacy-data-source';

export { migrateLegacy } from './database/legacy-data-source';

export async function migrate(env: NodeJS.ProcessEnv = process.env): Promise<MigrationReport> {
  const config = loadMonolithConfig(env);
  const logger = createLogger('legacy-monolith-migrate', { level: config.logLevel });
  const db = config.databaseUrl ? undefined : await resolveDatabase({ log: logger, env });
  try {
    return await migrateLegacy(config.databaseUrl ?? db!.url, { ssl: sslOption(config.databaseSsl), log: logger });
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
