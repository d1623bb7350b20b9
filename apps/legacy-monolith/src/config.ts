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
import { env, loadConfig } from '@carve/shared-config';
import { type PlatformConfig, platformConfig, platformEnvSchema, SERVICE_PLATFORMS, type ServicePlatform, sslOption } from '@carve/shared-http';

export { sslOption };
export const PLATFORMS = SERVICE_PLATFORMS;
export type Platform = ServicePlatform;
export const RELAY_MODES = ['embedded', 'off'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];
export type TransportChoice = 'postgres' | 'kafka';

/** The platform's variables (@carve/shared-http's `platformEnvSchema`), then the monolith's own. */
export const monolithEnvSchema = {
  ...platformEnvSchema(3000),
  CARVE_RELAY: env.oneOf(RELAY_MODES, { optional: true }),
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
  /** How tokens are verified (@carve/shared-http AuthOptions). */
  readonly jwt: PlatformConfig['jwt'];
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
  const { transport, kafkaBrokers, ...platform } = platformConfig(e);
  return Object.freeze({
    ...platform,
    events: Object.freeze({
      relay: e.CARVE_RELAY ?? (e.PLATFORM === 'kubernetes' ? 'off' : 'embedded'),
      transport,
      kafkaBrokers,
      reverseSync: e.CARVE_REVERSE_SYNC ?? false,
    }),
  });
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
