/**
 * A carved service's two processes, the same for every one. `runServiceProcess`: configuration
 * from the environment (a bad variable: its message on stderr, exit 78), the service started,
 * SIGTERM drains requests, then the consumer and the relay, then exits (a failed start: exit 1).
 * `migrateService` / `runMigrationProcess`: the schema's migrations as their own process (the
 * Kubernetes init container with the migrator role's DATABASE_URL, the Heroku release phase);
 * safe concurrently (advisory lock) and repeatedly; exit 0, 1 on failure, 78 on bad config.
 */
import { ConfigError } from '@carve/shared-config';
import { createLogger, installGracefulShutdown, type Logger, type ServiceConfig, sslOption, startTracing } from '@carve/shared-http';
import { type MigrationReport, resolveDatabase } from '@carve/shared-persistence';
import type { RunningService, StartOptions } from './runtime';

export interface ServiceProcess<C extends ServiceConfig> {
  name: string;
  loadConfig(env?: NodeJS.ProcessEnv): C;
  start(config: C, opts: StartOptions): Promise<RunningService>;
}

export function runServiceProcess<C extends ServiceConfig>(p: ServiceProcess<C>): void {
  const main = async () => {
    const config = p.loadConfig(process.env);
    // Before the logger: with tracing on (the OTEL_* variables), its lines carry the trace ids.
    startTracing(p.name);
    const logger = createLogger(p.name, { level: config.logLevel });
    const service = await p.start(config, { logger });
    logger.info({ url: service.url, platform: config.platform, transport: config.transport, forwardSync: config.forwardSync, outboxRelay: config.outboxRelay }, `${p.name} listening`);
    installGracefulShutdown(() => service.close(), logger, { onBegin: () => service.http.beginDrain() });
  };
  main().catch((err) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`${p.name} failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}

export interface MigrationProcess<C extends ServiceConfig> {
  name: string;
  loadConfig(env?: NodeJS.ProcessEnv): C;
  migrate(databaseUrl: string, opts: { ssl: ReturnType<typeof sslOption>; log: Logger }): Promise<MigrationReport>;
}

/** Runs the migrations against DATABASE_URL (or an embedded Postgres without it, PLATFORM=local). */
export async function migrateService<C extends ServiceConfig>(p: MigrationProcess<C>, env: NodeJS.ProcessEnv = process.env): Promise<MigrationReport> {
  const config = p.loadConfig(env);
  const logger = createLogger(`${p.name}-migrate`, { level: config.logLevel });
  const db = config.databaseUrl ? undefined : await resolveDatabase({ log: logger, env });
  try {
    return await p.migrate(config.databaseUrl ?? db!.url, { ssl: sslOption(config.databaseSsl), log: logger });
  } finally {
    await db?.stop();
  }
}

export function runMigrationProcess(run: () => Promise<unknown>): void {
  run().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `migrations failed: ${(err as Error).stack ?? err}\n`);
      process.exit(err instanceof ConfigError ? 78 : 1);
    },
  );
}
