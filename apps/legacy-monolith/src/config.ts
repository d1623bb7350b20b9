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
 */
import { ConfigError, env, loadConfig } from '@carve/shared-config';
import { DEV_JWT_SECRET } from '@carve/shared-http';

export const PLATFORMS = ['local', 'heroku', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];

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
}

export function loadMonolithConfig(source: NodeJS.ProcessEnv = process.env): MonolithConfig {
  const e = loadConfig(monolithEnvSchema, source);
  const deployed = e.PLATFORM !== 'local';
  if (deployed && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL', `is required with PLATFORM=${e.PLATFORM}`);
  if (deployed && !e.CARVE_JWT_SECRET && !e.CARVE_JWT_PUBLIC_KEY) {
    throw new ConfigError('CARVE_JWT_SECRET', `or CARVE_JWT_PUBLIC_KEY is required with PLATFORM=${e.PLATFORM}`);
  }
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
  });
}

/** pg `ssl` option for the configured mode. */
export function sslOption(mode: MonolithConfig['databaseSsl']): false | { rejectUnauthorized: boolean } {
  if (mode === 'off') return false;
  return { rejectUnauthorized: mode === 'verify' };
}
