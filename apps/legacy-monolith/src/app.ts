/**
 * Building the monolith: NestJS on the Fastify adapter, with Carve's HTTP platform plugin
 * (request ids, problem+json, health, readiness, metrics, JWT identity) registered on the
 * Fastify instance before Nest initialises.
 */
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createLogger, type Logger, platformPlugin, platformServerOptions, serveOpenApi } from '@carve/shared-http';
import { PlatformFastifyAdapter } from '@carve/shared-nest';
import { type ResolvedDatabase, resolveDatabase } from '@carve/shared-persistence';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import { type MonolithConfig, sslOption } from './config';
import { migrateLegacy } from './database/legacy-data-source';
import { installOutboxMetrics } from './events/outbox-metrics';
import type { ReverseSyncHandlers } from './events/reverse-sync';
import { installWriteContext } from './events/write-context';
import { monolithOpenApi } from './http/openapi';

export const SERVICE_NAME = 'legacy-monolith';

export interface CreateAppOptions {
  logger?: Logger;
  /** Reverse-sync handlers per topic (used with CARVE_REVERSE_SYNC=true); default the registered ones. */
  reverseSyncHandlers?: ReverseSyncHandlers;
}

/**
 * An initialised application (routes registered, database connected, migrated when the platform
 * says so), not yet listening: tests use `app.inject()`, `bootstrap()` listens.
 * Without a database URL (PLATFORM=local only) the embedded Postgres is started or reused and
 * released when the app closes.
 */
export async function createApp(config: MonolithConfig, opts: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const logger = opts.logger ?? createLogger(SERVICE_NAME, { level: config.logLevel });
  let db: ResolvedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    if (config.platform !== 'local') throw new Error(`DATABASE_URL is required with PLATFORM=${config.platform}`);
    db = await resolveDatabase({ log: logger });
    databaseUrl = db.url;
  }
  try {
    if (config.migrateOnBoot) {
      await migrateLegacy(databaseUrl, { ssl: sslOption(config.databaseSsl), log: logger });
    }
    // The platform plugin owns the 404 and error handlers; the adapter leaves them to it (@carve/shared-nest).
    const adapter = new PlatformFastifyAdapter(
      platformServerOptions({
        loggerInstance: logger,
        bodyLimit: config.bodyLimitBytes,
        trustProxy: config.trustProxy,
      }),
    );
    const app = await NestFactory.create<NestFastifyApplication>(
      AppModule.forRoot({ ...config, databaseUrl }, { logger, reverseSyncHandlers: opts.reverseSyncHandlers }),
      adapter,
      {
        logger: ['error', 'warn'],
        abortOnError: false,
      },
    );
    const dataSource = app.get(DataSource);
    await app.register(platformPlugin, {
      service: SERVICE_NAME,
      auth: config.jwt,
      // The database only: a broker outage never makes the monolith unready (writes go to the
      // outbox, which the relay drains when the broker is back).
      readiness: async () => {
        await dataSource.query('SELECT 1');
      },
    });
    const fastify = app.getHttpAdapter().getInstance();
    serveOpenApi(fastify, monolithOpenApi());
    installWriteContext(fastify);
    installOutboxMetrics(fastify, dataSource);
    if (db) {
      // On close, release the embedded server once this process's pool is gone (the server
      // stays up while other clients use it). Nest's own TypeORM shutdown skips a closed pool.
      const release = db;
      app.getHttpAdapter().getInstance().addHook('onClose', async () => {
        if (dataSource.isInitialized) await dataSource.destroy();
        await release.stop();
      });
    }
    await app.init();
    return app;
  } catch (err) {
    await db?.stop();
    throw err;
  }
}

/** createApp, then listen on the configured host and port (Heroku's PORT). */
export async function bootstrap(config: MonolithConfig, opts: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const app = await createApp(config, opts);
  await app.listen(config.port, config.host);
  return app;
}
