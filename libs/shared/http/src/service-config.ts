/**
 * Configuration from the environment, checked once at boot and frozen; a bad variable stops the
 * process with one line naming it (ConfigError).
 *
 * - `platformEnvSchema` / `platformConfig`: what every HTTP deployable of Carve on a Postgres
 *   schema reads (the monolith and the carved services): platform, listener, database, JWT key,
 *   event transport, body limit, migrations at boot, proxy trust, log level.
 * - `serviceEnvSchema` / `loadServiceConfig`: all a carved service reads (insights-service,
 *   roadmaps-service, and what the context generator makes); a service gives only its port and
 *   its forward-sync consumer group.
 *
 * PLATFORM: local (default: migrates at boot, embedded Postgres without DATABASE_URL, dev JWT
 * secret, 127.0.0.1), kubernetes (migrations only from the init container, src/migrate.ts),
 * heroku (TLS without CA verification, release-phase migrations).
 *
 * A service reads its own schema only: LEGACY_DATABASE_URL is refused. One other connection is
 * platform plumbing, not data access: with the embedded postgres transport, the outbox tables that
 * stand in for Kafka topics (default DATABASE_URL; with role isolation its own credentials). Who
 * owns a context's writes is not configuration: the write fence of the service's own schema
 * (@carve/shared-persistence write-fence.ts) decides, in the writing transaction.
 */
import { type ConfigOf, ConfigError, env, loadConfig } from '@carve/shared-config';
import { type AuthOptions, DEV_JWT_SECRET } from './auth';

export const SERVICE_PLATFORMS = ['local', 'heroku', 'kubernetes'] as const;
export type ServicePlatform = (typeof SERVICE_PLATFORMS)[number];

/** The variables every HTTP deployable on a Postgres schema reads, with its default port. */
export function platformEnvSchema(port: number) {
  return {
    PLATFORM: env.oneOf(SERVICE_PLATFORMS, { default: 'local' }),
    PORT: env.port({ default: port }),
    HOST: env.string({ optional: true }),
    DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
    DATABASE_POOL_MAX: env.int({ min: 1, max: 200, default: 10 }),
    DATABASE_SSL: env.oneOf(['off', 'no-verify', 'verify'] as const, { optional: true }),
    CARVE_JWT_SECRET: env.string({ optional: true, minLength: 16 }),
    CARVE_JWT_PUBLIC_KEY: env.string({ optional: true }),
    CARVE_JWT_JWKS_URL: env.url({ protocols: ['http', 'https'], optional: true }),
    CARVE_JWT_ISSUER: env.string({ optional: true }),
    CARVE_JWT_AUDIENCE: env.string({ optional: true }),
    CARVE_JWT_MAX_LIFETIME_SEC: env.int({ min: 60, max: 30 * 24 * 3600, optional: true }),
    CARVE_TRANSPORT: env.oneOf(['postgres', 'kafka'] as const, { optional: true }),
    KAFKA_BROKERS: env.list({ optional: true }),
    BODY_LIMIT_BYTES: env.int({ min: 1024, max: 64 * 1024 * 1024, default: 256 * 1024 }),
    MIGRATE_ON_BOOT: env.bool({ optional: true }),
    TRUST_PROXY: env.bool({ optional: true }),
    LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { default: 'info' }),
  };
}

export type PlatformEnv = ConfigOf<ReturnType<typeof platformEnvSchema>>;

export interface PlatformConfig {
  readonly platform: ServicePlatform;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly host: string;
  /** The deployable's own schema (the app role in production). Unset only with PLATFORM=local (embedded Postgres). */
  readonly databaseUrl?: string;
  readonly databasePoolMax: number;
  readonly databaseSsl: 'off' | 'no-verify' | 'verify';
  /** How tokens are verified: key (secret, public key or JWKS), issuer, audience, lifetime. */
  readonly jwt: Readonly<AuthOptions>;
  /** `kafka` when KAFKA_BROKERS is set, else `postgres`, unless CARVE_TRANSPORT says. */
  readonly transport: 'postgres' | 'kafka';
  /** Bootstrap brokers; non-empty with the kafka transport. */
  readonly kafkaBrokers: readonly string[];
  readonly bodyLimitBytes: number;
  readonly migrateOnBoot: boolean;
  readonly trustProxy: boolean;
  readonly logLevel: string;
}

/**
 * The platform part of a configuration, from variables already parsed with a schema that
 * includes `platformEnvSchema`: deployed (any PLATFORM but local), DATABASE_URL and a JWT key
 * are required; the kafka transport needs brokers. Throws ConfigError naming the variable.
 */
export function platformConfig(e: PlatformEnv): PlatformConfig {
  const deployed = e.PLATFORM !== 'local';
  if (deployed && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL', `is required with PLATFORM=${e.PLATFORM}`);
  if (deployed && !e.CARVE_JWT_SECRET && !e.CARVE_JWT_PUBLIC_KEY && !e.CARVE_JWT_JWKS_URL) {
    throw new ConfigError('CARVE_JWT_SECRET', `or CARVE_JWT_PUBLIC_KEY or CARVE_JWT_JWKS_URL is required with PLATFORM=${e.PLATFORM}`);
  }
  if (deployed && e.CARVE_JWT_SECRET === DEV_JWT_SECRET) throw new ConfigError('CARVE_JWT_SECRET', `must not be the dev secret with PLATFORM=${e.PLATFORM}`);
  const brokers: string[] = e.KAFKA_BROKERS ?? [];
  const transport = e.CARVE_TRANSPORT ?? (brokers.length ? 'kafka' : 'postgres');
  if (transport === 'kafka' && brokers.length === 0) throw new ConfigError('KAFKA_BROKERS', 'is required with CARVE_TRANSPORT=kafka (host:port,...)');
  return {
    platform: e.PLATFORM,
    port: e.PORT,
    host: e.HOST ?? (deployed ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseSsl: e.DATABASE_SSL ?? (e.PLATFORM === 'heroku' ? 'no-verify' : 'off'),
    jwt: Object.freeze({
      ...(e.CARVE_JWT_JWKS_URL ? { jwksUrl: e.CARVE_JWT_JWKS_URL } : e.CARVE_JWT_PUBLIC_KEY ? { publicKey: e.CARVE_JWT_PUBLIC_KEY } : { secret: e.CARVE_JWT_SECRET ?? DEV_JWT_SECRET }),
      ...(e.CARVE_JWT_ISSUER !== undefined ? { issuer: e.CARVE_JWT_ISSUER } : {}),
      ...(e.CARVE_JWT_AUDIENCE !== undefined ? { audience: e.CARVE_JWT_AUDIENCE } : {}),
      ...(e.CARVE_JWT_MAX_LIFETIME_SEC !== undefined ? { maxLifetimeSec: e.CARVE_JWT_MAX_LIFETIME_SEC } : {}),
    }),
    transport,
    kafkaBrokers: Object.freeze([...brokers]),
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    migrateOnBoot: e.MIGRATE_ON_BOOT ?? e.PLATFORM === 'local',
    trustProxy: e.TRUST_PROXY ?? e.PLATFORM === 'heroku',
    logLevel: e.LOG_LEVEL,
  };
}

/** The variables a carved service reads, with its own default port and consumer group. */
export function serviceEnvSchema(defaults: { port: number; syncGroup: string }) {
  return {
    ...platformEnvSchema(defaults.port),
    LEGACY_DATABASE_URL: env.string({ optional: true }),
    CARVE_MESSAGING_DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
    CARVE_FORWARD_SYNC: env.bool({ default: true }),
    CARVE_SYNC_GROUP: env.string({ default: defaults.syncGroup }),
    CARVE_SYNC_FROM_BEGINNING: env.bool({ default: true }),
    CARVE_OUTBOX_RELAY: env.bool({ default: true }),
  };
}

export type ServiceEnvSchema = ReturnType<typeof serviceEnvSchema>;

export interface ServiceConfig extends PlatformConfig {
  /** Postgres transport only: where the source outboxes (topics) and the transport's offsets live. Default: databaseUrl. */
  readonly messagingDatabaseUrl?: string;
  /** Consume the monolith's events in this process (default true). */
  readonly forwardSync: boolean;
  /** Forward sync's consumer group (and its name in the service's inbox). */
  readonly syncGroup: string;
  /** Where a new group starts: the beginning of the topics (default; compacted state topics) or their end. */
  readonly syncFromBeginning: boolean;
  /** Ship the service's outbox to the transport from this process (default true; else run `carve relay --schema <schema>`). */
  readonly outboxRelay: boolean;
}

/** Reads and checks the environment of `service` (its name in error messages); throws ConfigError naming the first bad variable. */
export function loadServiceConfig(service: string, schema: ServiceEnvSchema, source: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const e = loadConfig(schema, source);
  if (e.LEGACY_DATABASE_URL) {
    throw new ConfigError('LEGACY_DATABASE_URL', `is not allowed: the ${service} never reads the legacy schema (it gets the monolith's data from events)`);
  }
  return Object.freeze({
    ...platformConfig(e),
    messagingDatabaseUrl: e.CARVE_MESSAGING_DATABASE_URL,
    forwardSync: e.CARVE_FORWARD_SYNC,
    syncGroup: e.CARVE_SYNC_GROUP,
    syncFromBeginning: e.CARVE_SYNC_FROM_BEGINNING,
    outboxRelay: e.CARVE_OUTBOX_RELAY,
  });
}

/** pg `ssl` option for the configured mode. */
export function sslOption(mode: PlatformConfig['databaseSsl']): false | { rejectUnauthorized: boolean } {
  if (mode === 'off') return false;
  return { rejectUnauthorized: mode === 'verify' };
}
