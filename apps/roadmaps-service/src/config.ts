/**
 * The roadmaps-service's configuration, from the environment: checked once at boot and frozen; a
 * bad variable stops the process with one line naming it (ConfigError).
 *
 * PLATFORM: local (default: migrates at boot, embedded Postgres without DATABASE_URL, dev JWT
 * secret, 127.0.0.1), kubernetes (migrations only from the init container, src/migrate.ts),
 * heroku (TLS without CA verification, release-phase migrations).
 *
 * The service reads its own schema only: LEGACY_DATABASE_URL is refused. The control plane (the
 * carving stage) and, with the postgres transport, the source outboxes are platform plumbing;
 * both default to DATABASE_URL (dev) and get their own credentials with role isolation.
 */
import { ConfigError, env, loadConfig } from '@carve/shared-config';
import { DEV_JWT_SECRET } from '@carve/shared-http';

/** The deployable's name: health answers, metrics label, logs, consumer group. */
export const SERVICE_NAME = 'roadmaps-service';

export const PLATFORMS = ['local', 'heroku', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];

export const roadmapsEnvSchema = {
  PLATFORM: env.oneOf(PLATFORMS, { default: 'local' }),
  PORT: env.port({ default: 3102 }),
  HOST: env.string({ optional: true }),
  DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
  DATABASE_POOL_MAX: env.int({ min: 1, max: 200, default: 10 }),
  DATABASE_SSL: env.oneOf(['off', 'no-verify', 'verify'] as const, { optional: true }),
  LEGACY_DATABASE_URL: env.string({ optional: true }),
  CARVE_JWT_SECRET: env.string({ optional: true, minLength: 16 }),
  CARVE_JWT_PUBLIC_KEY: env.string({ optional: true }),
  CARVE_TRANSPORT: env.oneOf(['kafka', 'postgres'] as const, { optional: true }),
  KAFKA_BROKERS: env.list({ optional: true }),
  CARVE_MESSAGING_DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
  CARVE_CONTROL_PLANE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
  CARVE_FORWARD_SYNC: env.bool({ default: true }),
  CARVE_SYNC_GROUP: env.string({ default: 'roadmaps-service' }),
  CARVE_SYNC_FROM_BEGINNING: env.bool({ default: true }),
  CARVE_OUTBOX_RELAY: env.bool({ default: true }),
  CARVE_STAGE_CACHE_MS: env.int({ min: 0, max: 60_000, default: 1000 }),
  BODY_LIMIT_BYTES: env.int({ min: 1024, max: 64 * 1024 * 1024, default: 256 * 1024 }),
  MIGRATE_ON_BOOT: env.bool({ optional: true }),
  TRUST_PROXY: env.bool({ optional: true }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { default: 'info' }),
};

export interface RoadmapsConfig {
  readonly platform: Platform;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly host: string;
  /** The service's own schema (the app role in production). Unset only with PLATFORM=local (embedded Postgres). */
  readonly databaseUrl?: string;
  readonly databasePoolMax: number;
  readonly databaseSsl: 'off' | 'no-verify' | 'verify';
  readonly jwt: { readonly secret?: string; readonly publicKey?: string };
  readonly transport: 'kafka' | 'postgres';
  readonly kafkaBrokers: readonly string[];
  /** Postgres transport only: where the source outboxes (topics) and the transport's offsets live. Default: databaseUrl. */
  readonly messagingDatabaseUrl?: string;
  /** The control plane (schema `carve`), read for the carving stage. Default: databaseUrl. */
  readonly controlPlaneUrl?: string;
  readonly forwardSync: boolean;
  readonly syncGroup: string;
  readonly syncFromBeginning: boolean;
  readonly outboxRelay: boolean;
  readonly stageCacheMs: number;
  readonly bodyLimitBytes: number;
  readonly migrateOnBoot: boolean;
  readonly trustProxy: boolean;
  readonly logLevel: string;
}

export function loadRoadmapsConfig(source: NodeJS.ProcessEnv = process.env): RoadmapsConfig {
  const e = loadConfig(roadmapsEnvSchema, source);
  if (e.LEGACY_DATABASE_URL) {
    throw new ConfigError('LEGACY_DATABASE_URL', "is not allowed: the roadmaps-service never reads the legacy schema (it gets the monolith's data from events)");
  }
  const deployed = e.PLATFORM !== 'local';
  if (deployed && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL', `is required with PLATFORM=${e.PLATFORM}`);
  if (deployed && !e.CARVE_JWT_SECRET && !e.CARVE_JWT_PUBLIC_KEY) {
    throw new ConfigError('CARVE_JWT_SECRET', `or CARVE_JWT_PUBLIC_KEY is required with PLATFORM=${e.PLATFORM}`);
  }
  const brokers: string[] = e.KAFKA_BROKERS ?? [];
  const transport = e.CARVE_TRANSPORT ?? (brokers.length ? 'kafka' : 'postgres');
  if (transport === 'kafka' && brokers.length === 0) throw new ConfigError('KAFKA_BROKERS', 'is required with CARVE_TRANSPORT=kafka (host:port,...)');
  return Object.freeze({
    platform: e.PLATFORM,
    port: e.PORT,
    host: e.HOST ?? (deployed ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseSsl: e.DATABASE_SSL ?? (e.PLATFORM === 'heroku' ? 'no-verify' : 'off'),
    jwt: Object.freeze(e.CARVE_JWT_PUBLIC_KEY ? { publicKey: e.CARVE_JWT_PUBLIC_KEY } : { secret: e.CARVE_JWT_SECRET ?? DEV_JWT_SECRET }),
    transport,
    kafkaBrokers: Object.freeze([...brokers]),
    messagingDatabaseUrl: e.CARVE_MESSAGING_DATABASE_URL,
    controlPlaneUrl: e.CARVE_CONTROL_PLANE_URL,
    forwardSync: e.CARVE_FORWARD_SYNC,
    syncGroup: e.CARVE_SYNC_GROUP,
    syncFromBeginning: e.CARVE_SYNC_FROM_BEGINNING,
    outboxRelay: e.CARVE_OUTBOX_RELAY,
    stageCacheMs: e.CARVE_STAGE_CACHE_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    migrateOnBoot: e.MIGRATE_ON_BOOT ?? e.PLATFORM === 'local',
    trustProxy: e.TRUST_PROXY ?? e.PLATFORM === 'heroku',
    logLevel: e.LOG_LEVEL,
  });
}

/** pg `ssl` option for the configured mode. */
export function sslOption(mode: RoadmapsConfig['databaseSsl']): false | { rejectUnauthorized: boolean } {
  if (mode === 'off') return false;
  return { rejectUnauthorized: mode === 'verify' };
}
