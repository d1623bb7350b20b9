/**
 * Building and running the insights service: Fastify 5 with the platform plugin (request ids,
 * problem+json, /healthz, /readyz, /metrics, JWT identity), its pool on schema `insights`, the
 * carving-stage reader, the notes routes; and, beside the HTTP server, forward sync (consumer)
 * and the relay of its own outbox.
 */
import { INSIGHTS_SCHEMA, migrateInsights } from '@carve/insights-data-access';
import { createLogger, type Logger, platformPlugin, platformServerOptions } from '@carve/shared-http';
import { type ConsumerHandle, createTransport, type RelayHandle, startRelay, type Transport } from '@carve/shared-messaging';
import { type ResolvedDatabase, resolveDatabase } from '@carve/shared-persistence';
import Fastify, { type FastifyInstance } from 'fastify';
import { Pool } from 'pg';
import { type InsightsConfig, sslOption } from './config';
import { databasePlugin } from './plugins/database';
import { createStageReader, ownershipPlugin, type StageReader } from './plugins/ownership';
import { startForwardSync } from './plugins/sync';
import { notesRoutes } from './routes/notes.routes';

export const SERVICE_NAME = 'insights-service';

export interface BuildOptions {
  config: InsightsConfig;
  pool: Pool;
  stageReader: StageReader;
  logger?: Logger;
}

/** The HTTP application, not listening (tests use `app.inject`). */
export async function buildInsightsApp(opts: BuildOptions): Promise<FastifyInstance> {
  const { config, pool } = opts;
  const app = Fastify(
    platformServerOptions({
      loggerInstance: opts.logger ?? createLogger(SERVICE_NAME, { level: config.logLevel }),
      bodyLimit: config.bodyLimitBytes,
      trustProxy: config.trustProxy,
    }),
  );
  await app.register(platformPlugin, {
    service: SERVICE_NAME,
    auth: config.jwt,
    readiness: async () => {
      await pool.query('SELECT 1');
    },
  });
  await app.register(databasePlugin, { pool });
  await app.register(ownershipPlugin, { reader: opts.stageReader });
  await app.register(notesRoutes);
  return app;
}

export interface StartOptions {
  logger?: Logger;
  /** Replaces the control-plane reader (tests). */
  stageReader?: StageReader;
}

export interface RunningInsightsService {
  url: string;
  app: FastifyInstance;
  pool: Pool;
  /** The database URL the service uses (the embedded one when DATABASE_URL was unset). */
  databaseUrl: string;
  sync?: ConsumerHandle;
  relay?: RelayHandle;
  transport?: Transport;
  close(): Promise<void>;
}

/**
 * Starts the service: database (embedded with PLATFORM=local and no DATABASE_URL), migrations
 * when the platform says so, the HTTP server, forward sync and the outbox relay when enabled.
 * `close()` drains requests first, then stops the consumer and the relay, then the pools.
 */
export async function startInsightsService(config: InsightsConfig, opts: StartOptions = {}): Promise<RunningInsightsService> {
  const logger = opts.logger ?? createLogger(SERVICE_NAME, { level: config.logLevel });
  let embedded: ResolvedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    if (config.platform !== 'local') throw new Error(`DATABASE_URL is required with PLATFORM=${config.platform}`);
    embedded = await resolveDatabase({ log: logger });
    databaseUrl = embedded.url;
  }
  const ssl = sslOption(config.databaseSsl);
  const parts: { app?: FastifyInstance; sync?: ConsumerHandle; relay?: RelayHandle; transport?: Transport; pool?: Pool } = {};
  let closed = false;
  /** HTTP first (in-flight requests finish), then the consumer and the relay, then the pools. */
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    const steps: Array<[string, (() => Promise<unknown>) | undefined]> = [
      ['http', parts.app && (() => parts.app!.close())],
      ['forward sync', parts.sync && (() => parts.sync!.stop())],
      ['relay', parts.relay && (() => parts.relay!.stop())],
      ['transport', parts.transport && (() => parts.transport!.close())],
      ['pool', parts.pool && (() => parts.pool!.end())],
      ['embedded postgres', embedded && (() => embedded!.stop())],
    ];
    for (const [what, step] of steps) {
      if (step) await step().catch((err) => logger.error({ err }, `insights-service: closing ${what} failed`));
    }
  };
  try {
    if (config.migrateOnBoot) await migrateInsights(databaseUrl, { ssl, log: logger });
    const pool = new Pool({ connectionString: databaseUrl, max: config.databasePoolMax, ssl, application_name: SERVICE_NAME });
    pool.on('error', (err) => logger.warn({ err }, 'insights-service: idle database connection failed'));
    parts.pool = pool;
    const stageReader = opts.stageReader ?? createStageReader({ url: config.controlPlaneUrl ?? databaseUrl, ttlMs: config.stageCacheMs });
    const app = await buildInsightsApp({ config, pool, stageReader, logger });
    parts.app = app;

    if (config.forwardSync || config.outboxRelay) {
      parts.transport = createTransport({
        kind: config.transport,
        databaseUrl: config.messagingDatabaseUrl ?? databaseUrl,
        kafkaBrokers: config.kafkaBrokers.join(','),
        clientId: SERVICE_NAME,
        logger,
      });
    }
    if (parts.transport && config.outboxRelay) {
      parts.relay = await startRelay({ databaseUrl, schema: INSIGHTS_SCHEMA, transport: parts.transport, registry: app.platform.metrics, logger, name: 'insights-relay' });
    }
    if (parts.transport && config.forwardSync) {
      parts.sync = await startForwardSync({
        pool,
        transport: parts.transport,
        registry: app.platform.metrics,
        logger,
        group: config.syncGroup,
        fromBeginning: config.syncFromBeginning,
      });
    }
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    return {
      url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
      app,
      pool,
      databaseUrl,
      sync: parts.sync,
      relay: parts.relay,
      transport: parts.transport,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
