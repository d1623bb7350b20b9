/**
 * Running the roadmaps-service: database (embedded with PLATFORM=local and no DATABASE_URL),
 * migrations when the platform says so, the HTTP server (src/http.ts, NestJS on the Fastify adapter),
 * forward sync (consumer) and the relay of its own outbox. `close()` drains requests first, then
 * stops the consumer and the relay, then the pools.
 */
import { migrateRoadmaps, ROADMAPS_SCHEMA } from '@carve/roadmaps-data-access';
import { createLogger, type Logger } from '@carve/shared-http';
import { type ConsumerHandle, createTransport, type RelayHandle, startRelay, type Transport } from '@carve/shared-messaging';
import { type ResolvedDatabase, resolveDatabase } from '@carve/shared-persistence';
import { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { type RoadmapsConfig, SERVICE_NAME, sslOption } from './config';
import { buildRoadmapsHttp } from './http';
import { createStageReader, type StageReader } from './stage-reader';
import { startForwardSync } from './sync';

export { SERVICE_NAME };

/** What the HTTP layer gets. */
export interface HttpDeps {
  config: RoadmapsConfig;
  pool: Pool;
  stageReader: StageReader;
  logger: Logger;
}

/** The HTTP layer as the runtime drives it, whatever the framework. */
export interface HttpServer {
  readonly metrics: Registry;
  /** Readiness answers 503 from now on (shutdown began). */
  beginDrain(): void;
  /** Listens; resolves with the port (0 picks a free one). */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Replaces the control-plane reader (tests). */
  stageReader?: StageReader;
}

export interface RunningRoadmapsService {
  url: string;
  http: HttpServer;
  pool: Pool;
  /** The database URL the service uses (the embedded one when DATABASE_URL was unset). */
  databaseUrl: string;
  sync?: ConsumerHandle;
  relay?: RelayHandle;
  transport?: Transport;
  close(): Promise<void>;
}

export async function startRoadmapsService(config: RoadmapsConfig, opts: StartOptions = {}): Promise<RunningRoadmapsService> {
  const logger = opts.logger ?? createLogger(SERVICE_NAME, { level: config.logLevel });
  let embedded: ResolvedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    if (config.platform !== 'local') throw new Error(`DATABASE_URL is required with PLATFORM=${config.platform}`);
    embedded = await resolveDatabase({ log: logger });
    databaseUrl = embedded.url;
  }
  const ssl = sslOption(config.databaseSsl);
  const parts: { http?: HttpServer; sync?: ConsumerHandle; relay?: RelayHandle; transport?: Transport; pool?: Pool; stageReader?: StageReader } = {};
  let closed = false;
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    const steps: Array<[string, (() => Promise<unknown>) | undefined]> = [
      ['http', parts.http && (() => parts.http!.close())],
      ['forward sync', parts.sync && (() => parts.sync!.stop())],
      ['relay', parts.relay && (() => parts.relay!.stop())],
      ['transport', parts.transport && (() => parts.transport!.close())],
      ['stage reader', parts.stageReader && (() => parts.stageReader!.close())],
      ['pool', parts.pool && (() => parts.pool!.end())],
      ['embedded postgres', embedded && (() => embedded!.stop())],
    ];
    for (const [what, step] of steps) {
      if (step) await step().catch((err) => logger.error({ err }, `${SERVICE_NAME}: closing ${what} failed`));
    }
  };
  try {
    if (config.migrateOnBoot) await migrateRoadmaps(databaseUrl, { ssl, log: logger });
    const pool = new Pool({ connectionString: databaseUrl, max: config.databasePoolMax, ssl, application_name: SERVICE_NAME });
    pool.on('error', (err) => logger.warn({ err }, `${SERVICE_NAME}: idle database connection failed`));
    parts.pool = pool;
    const stageReader = opts.stageReader ?? createStageReader({ url: config.controlPlaneUrl ?? databaseUrl, ttlMs: config.stageCacheMs });
    parts.stageReader = stageReader;
    const http = await buildRoadmapsHttp({ config, pool, stageReader, logger });
    parts.http = http;

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
      parts.relay = await startRelay({ databaseUrl, schema: ROADMAPS_SCHEMA, transport: parts.transport, registry: http.metrics, logger, name: 'roadmaps-relay' });
    }
    if (parts.transport && config.forwardSync) {
      parts.sync = await startForwardSync({ pool, transport: parts.transport, registry: http.metrics, logger, group: config.syncGroup, fromBeginning: config.syncFromBeginning });
    }
    const port = await http.listen(config.port, config.host);
    return {
      url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`,
      http,
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
