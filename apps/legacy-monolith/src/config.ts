/**
 * The monolith's configuration, from the environment as Heroku sets it (PORT, DATABASE_URL) plus
 * Carve's own variables. Checked once at boot and frozen; a bad variable stops the process with
 * one line naming it (ConfigError).
 *
 * PLATFORM decides the platform-specific behaviour:
 * - local (default, dev): migrates at boot; embedded Postgres when DATABASE_URL is unset; dev JWT secret allowed; listens on 127.0.0.1.
 * - heroku: DATABASE_URL over TLS without CA verification (Heroku Postgres certificates are not
 *   publicly verifiable), trusts the Heroku router's X-Forwarded-*, migrations in the release phase.
 * - kubernetes: migrations only from `src/migrate.ts` (init container), never at boot.
 *
 * Events (docs/events.md, "The monolith"): every write appends its events to `legacy.outbox` in
 * its own transaction; CARVE_RELAY says whether this process also runs the relay that ships them
 * (`embedded`, the default except on kubernetes, where the relay chart runs `carve relay
 * --schema legacy`), on the transport CARVE_TRANSPORT names (`kafka` when KAFKA_BROKERS is set,
 * else `postgres`, as everywhere in Carve: @carve/shared-messaging `transportKindFromEnv`).
 */
import { ConfigError, env, loadConfig } from '@carve/shared-config';
import { DEV_JWT_SECRET } from '@carve/shared-http';

export const PLATFORMS = ['local', 'heroku', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];
export const RELAY_MODES = ['embedded', 'off'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];
export const TRANSPORTS = ['postgres', 'kafka'] as const;
export type TransportChoice = (typeof TRANSPORTS)[number];

export const monolithEnvSchema = {
  PLATFORM: env.oneOf(PLATFORMS, { default: 'local' }),
  PORT: env.port({ default: 3000 }),
  HOST: env.string({ optional: true }),
  DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
  DATABASE_POOL_MAX: env.int({ min: 1, max: 200, default: 10 }),
  DATABASE_SSL: env.oneOf(['off', 'no-verify', 'verify'] as const, { optional: true }),
  CARVE_JWT_SECRET: env.string({ optional: true, minLength: 16 }),
  CARVE_JWT_PUBLIC_KEY: env.string({ optional: true }),
  BODY_LIMIT_BYTES: env.int({ min: 1024, max: 64 * 1024 * 1024, default: 256 * 1024 }),
  MIGRATE_ON_BOOT: env.bool({ optional: true }),
  TRUST_PROXY: env.bool({ optional: true }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { default: 'info' }),
  CARVE_RELAY: env.oneOf(RELAY_MODES, { optional: true }),
  CARVE_TRANSPORT: env.oneOf(TRANSPORTS, { optional: true }),
  KAFKA_BROKERS: env.list({ optional: true }),
  CARVE_REVERSE_SYNC: env.bool({ optional: true }),
};

export interface MonolithConfig {
  readonly platform: Platform;
  readonly port: number;
  readonly host: string;
  /** Unset only with PLATFORM=local, where main.ts falls back to embedded Postgres. */
  readonly databaseUrl?: string;
  readonly databasePoolMax: number;
  readonly databaseSsl: 'off' | 'no-verify' | 'verify';
  readonly jwt: { readonly secret?: string; readonly publicKey?: string };
  readonly bodyLimitBytes: number;
  readonly migrateOnBoot: boolean;
  readonly trustProxy: boolean;
  readonly logLevel: string;
  readonly events: EventsConfig;
}

export interface EventsConfig {
  /** `embedded`: this process runs the outbox relay of `legacy` (one active per database, others stand by). */
  readonly relay: RelayMode;
  readonly transport: TransportChoice;
  /** Bootstrap brokers; non-empty with the kafka transport. */
  readonly kafkaBrokers: readonly string[];
  /** Consume the carved services' events back into the monolith (reverse sync); off by default. */
  readonly reverseSync: boolean;
}

export function loadMonolithConfig(source: NodeJS.ProcessEnv = process.env): MonolithConfig {
  const e = loadConfig(monolithEnvSchema, source);
  const deployed = e.PLATFORM !== 'local';
  if (deployed && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL', `is required with PLATFORM=${e.PLATFORM}`);
  if (deployed && !e.CARVE_JWT_SECRET && !e.CARVE_JWT_PUBLIC_KEY) {
    throw new ConfigError('CARVE_JWT_SECRET', `or CARVE_JWT_PUBLIC_KEY is required with PLATFORM=${e.PLATFORM}`);
  }
  const brokers: string[] = e.KAFKA_BROKERS ?? [];
  const transport: TransportChoice = e.CARVE_TRANSPORT ?? (brokers.length > 0 ? 'kafka' : 'postgres');
  if (transport === 'kafka' && brokers.length === 0) throw new ConfigError('KAFKA_BROKERS', 'is required with CARVE_TRANSPORT=kafka (host:port,...)');
  return Object.freeze({
    platform: e.PLATFORM,
    port: e.PORT,
    host: e.HOST ?? (deployed ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseSsl: e.DATABASE_SSL ?? (e.PLATFORM === 'heroku' ? 'no-verify' : 'off'),
    jwt: Object.freeze(
      e.CARVE_JWT_PUBLIC_KEY ? { publicKey: e.CARVE_JWT_PUBLIC_KEY } : { secret: e.CARVE_JWT_SECRET ?? DEV_JWT_SECRET },
    ),
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    migrateOnBoot: e.MIGRATE_ON_BOOT ?? e.PLATFORM === 'local',
    trustProxy: e.TRUST_PROXY ?? e.PLATFORM === 'heroku',
    logLevel: e.LOG_LEVEL,
    events: Object.freeze({
      relay: e.CARVE_RELAY ?? (e.PLATFORM === 'kubernetes' ? 'off' : 'embedded'),
      transport,
      kafkaBrokers: Object.freeze(brokers),
      reverseSync: e.CARVE_REVERSE_SYNC ?? false,
    }),
  });
}

/** pg `ssl` option for the configured mode. */
export function sslOption(mode: MonolithConfig['databaseSsl']): false | { rejectUnauthorized: boolean } {
  if (mode === 'off') return false;
  return { rejectUnauthorized: mode === 'verify' };
}

/**
 * `url` with the sslmode pg reads from a connection string, for clients that take a URL only
 * (the relay's and the transport's own connections): the same TLS as the pool's `ssl` option.
 */
export function urlWithSsl(url: string, mode: MonolithConfig['databaseSsl']): string {
  if (mode === 'off') return url;
  const u = new URL(url);
  if (!u.searchParams.has('sslmode')) u.searchParams.set('sslmode', mode === 'verify' ? 'verify-full' : 'no-verify');
  return u.toString();
}
