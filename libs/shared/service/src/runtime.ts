/**
 * Running a carved service: its database (embedded with PLATFORM=local and no DATABASE_URL),
 * migrations when the platform says so, the pool, the HTTP server (Fastify or Nest, through
 * `HttpServer`), the event transport, the relay of the service's own outbox and forward sync of
 * the monolith's events. `close()` goes in order: HTTP first (in-flight requests finish), then the
 * consumer and the relay, the transport, the pool, the embedded database.
 */
import { createLogger, type HttpServer, type Logger, type ServiceConfig, sslOption } from '@carve/shared-http';
import { type ConsumerHandle, createTransport, type RelayHandle, startRelay, type Transport } from '@carve/shared-messaging';
import { type ResolvedDatabase, resolveDatabase } from '@carve/shared-persistence';
import { Pool } from 'pg';
import type { ForwardSyncOptions } from './forward-sync';

/** What a service's HTTP layer gets. */
export interface ServiceDeps<C extends ServiceConfig = ServiceConfig> {
  /** The deployable's name: health answers, metrics label, logs. */
  name: string;
  config: C;
  pool: Pool;
  logger: Logger;
}

/** What makes one carved service: the rest is the same for every one. */
export interface CarvedService<C extends ServiceConfig = ServiceConfig> {
  /** The deployable's name: health answers, metrics label, logs, the pool's application_name. */
  name: string;
  /** The service's schema (its outbox, inbox and state). */
  schema: string;
  /** The schema's migrations (under an advisory lock), run at boot when `config.migrateOnBoot`. */
  migrate(databaseUrl: string, opts: { ssl: ReturnType<typeof sslOption>; log: Logger }): Promise<unknown>;
  /** The HTTP application, not listening. */
  http(deps: ServiceDeps<C>): Promise<HttpServer>;
  /** Forward sync of the monolith's events (see `forwardSync`); started when `config.forwardSync`. */
  forwardSync?(opts: ForwardSyncOptions): Promise<ConsumerHandle>;
  /** The relay's name in logs and metrics; default `<schema>-relay`. */
  relayName?: string;
}

export interface StartOptions {
  logger?: Logger;
}

export interface RunningService {
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

/** Starts `service` with `config`; on a failure half-way, closes what had started and throws. */
export async function startService<C extends ServiceConfig>(service: CarvedService<C>, config: C, opts: StartOptions = {}): Promise<RunningService> {
  const { name } = service;
  const logger = opts.logger ?? createLogger(name, { level: config.logLevel });
  let embedded: ResolvedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    if (config.platform !== 'local') throw new Error(`DATABASE_URL is required with PLATFORM=${config.platform}`);
    embedded = await resolveDatabase({ log: logger });
    databaseUrl = embedded.url;
  }
  const ssl = sslOption(config.databaseSsl);
  const parts: { http?: HttpServer; sync?: ConsumerHandle; relay?: RelayHandle; transport?: Transport; pool?: Pool } = {};
  let closed = false;
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    const steps: Array<[string, (() => Promise<unknown>) | undefined]> = [
      ['http', parts.http && (() => parts.http!.close())],
      ['forward sync', parts.sync && (() => parts.sync!.stop())],
      ['relay', parts.relay && (() => parts.relay!.stop())],
      ['transport', parts.transport && (() => parts.transport!.close())],
      ['pool', parts.pool && (() => parts.pool!.end())],
      ['embedded postgres', embedded && (() => embedded!.stop())],
    ];
    for (const [what, step] of steps) {
      if (step) await step().catch((err) => logger.error({ err }, `${name}: closing ${what} failed`));
    }
  };
  try {
    if (config.migrateOnBoot) await service.migrate(databaseUrl, { ssl, log: logger });
    const pool = new Pool({ connectionString: databaseUrl, max: config.databasePoolMax, ssl, application_name: name });
    pool.on('error', (err) => logger.warn({ err }, `${name}: idle database connection failed`));
    parts.pool = pool;
    const http = await service.http({ name, config, pool, logger });
    parts.http = http;

    const syncing = config.forwardSync && service.forwardSync !== undefined;
    if (syncing || config.outboxRelay) {
      parts.transport = createTransport({
        kind: config.transport,
        databaseUrl: config.messagingDatabaseUrl ?? databaseUrl,
        kafkaBrokers: config.kafkaBrokers.join(','),
        clientId: name,
        logger,
      });
    }
    if (parts.transport && config.outboxRelay) {
      const relayName = service.relayName ?? `${service.schema}-relay`;
      parts.relay = await startRelay({ databaseUrl, schema: service.schema, transport: parts.transport, registry: http.metrics, logger, name: relayName });
    }
    if (parts.transport && syncing) {
      parts.sync = await service.forwardSync!({ pool, transport: parts.transport, registry: http.metrics, logger, group: config.syncGroup, fromBeginning: config.syncFromBeginning });
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
