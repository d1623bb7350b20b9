/**
 * The gateway's configuration: from the environment (checked once at boot with
 * @carve/shared-config, one line naming a bad variable), or given directly to `startGateway`
 * (tests, the benchmark). Everything has a default except what a deployed gateway must be told.
 *
 * PLATFORM=local (default, dev): listens on 127.0.0.1, the dev JWT secret and the dev admin
 * token are allowed, and without DATABASE_URL the control plane lives in the embedded Postgres.
 * Any other platform: DATABASE_URL, a JWT key and CARVE_ADMIN_TOKEN are required, and it
 * listens on 0.0.0.0. PLATFORM=kubernetes never migrates the control plane at boot: the chart's
 * init container runs `src/migrate.ts` with the migrator role, and the gateway's own role (DML
 * only) checks that nothing is pending.
 */
import path from 'node:path';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { ConfigError, env, loadConfig } from '@carve/shared-config';
import { DEV_JWT_SECRET, type Logger } from '@carve/shared-http';

export const PLATFORMS = ['local', 'heroku', 'kubernetes'] as const;

/** The route table `carve gateway` and `carve dev` use when CARVE_ROUTES_FILE is unset. */
export const DEV_ROUTES_FILE = path.join(__dirname, '..', 'routes', 'dev.yaml');

export const gatewayEnvSchema = {
  PLATFORM: env.oneOf(PLATFORMS, { default: 'local' }),
  PORT: env.port({ default: 8080 }),
  HOST: env.string({ optional: true }),
  CARVE_ROUTES_FILE: env.string({ optional: true }),
  CARVE_ROUTES_POLL_MS: env.int({ min: 50, max: 60_000, default: 1000 }),
  CARVE_JWT_SECRET: env.string({ optional: true, minLength: 16 }),
  CARVE_JWT_PUBLIC_KEY: env.string({ optional: true }),
  CARVE_PUBLIC_PATHS: env.list({ default: [] }),
  CARVE_ADMIN_PORT: env.port({ default: 9090 }),
  CARVE_ADMIN_HOST: env.string({ optional: true }),
  CARVE_ADMIN_TOKEN: env.string({ optional: true, minLength: 16 }),
  DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
  CARVE_CONTROL_POLL_MS: env.int({ min: 100, max: 60_000, default: 1000 }),
  CARVE_BODY_LIMIT_BYTES: env.int({ min: 1024, max: 1024 * 1024 * 1024, default: 10 * 1024 * 1024 }),
  CARVE_UPSTREAM_TIMEOUT_MS: env.int({ min: 1, max: 600_000, default: 30_000 }),
  CARVE_UPSTREAM_CONNECTIONS: env.int({ min: 1, max: 4096, default: 128 }),
  CARVE_SHADOW_TIMEOUT_MS: env.int({ min: 1, max: 600_000, default: 5000 }),
  CARVE_SHADOW_MAX_BODY_BYTES: env.int({ min: 1024, max: 64 * 1024 * 1024, default: 1024 * 1024 }),
  CARVE_SHADOW_MAX_IN_FLIGHT: env.int({ min: 1, max: 100_000, default: 256 }),
  CARVE_BREAKER_FAILURES: env.int({ min: 1, max: 10_000, default: 5 }),
  CARVE_BREAKER_COOLDOWN_MS: env.int({ min: 10, max: 3_600_000, default: 10_000 }),
  CARVE_TRUST_PROXY: env.bool({ optional: true }),
  CARVE_ACCESS_LOG: env.bool({ default: true }),
  CARVE_GATEWAY_ID: env.string({ optional: true }),
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { default: 'info' }),
};

export interface GatewayConfig {
  readonly platform: (typeof PLATFORMS)[number];
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly routesFile: string;
  /** How often the route file's mtime is polled (fs.watch is the fast path). */
  readonly routesPollMs: number;
  readonly jwt: { readonly secret?: string; readonly publicKey?: string };
  /** Paths under /api/ that need no token: exact, or prefixes ending in `*`. */
  readonly publicPaths: readonly string[];
  readonly adminHost: string;
  readonly adminPort: number;
  readonly adminToken: string;
  /** Unset only with PLATFORM=local: the embedded Postgres is used. */
  readonly databaseUrl?: string;
  /**
   * Apply the control plane's migrations at boot (default: on, except with PLATFORM=kubernetes).
   * Off, the gateway only checks that none is pending and refuses to start otherwise.
   */
  readonly migrateControlPlane: boolean;
  readonly controlPollMs: number;
  readonly bodyLimitBytes: number;
  /** Upstream response timeout when the route table gives none (`upstreams.<name>.timeoutMs`). */
  readonly upstreamTimeoutMs: number;
  /** Keep-alive connections per upstream. */
  readonly upstreamConnections: number;
  readonly shadow: { readonly timeoutMs: number; readonly maxBodyBytes: number; readonly maxInFlight: number };
  readonly breaker: { readonly failureThreshold: number; readonly cooldownMs: number };
  /** Keep X-Forwarded-* from the caller (behind a trusted load balancer). */
  readonly trustProxy: boolean;
  readonly accessLog: boolean;
  /** Names this replica in logs, guard events and mismatch samples. */
  readonly gatewayId: string;
  readonly logLevel: string;
  /** A logger to use instead of a new one (tests). */
  readonly logger?: Logger;
}

export type GatewayConfigInput = Partial<GatewayConfig> & Pick<GatewayConfig, 'routesFile'>;

/** Fills in the defaults of a partial configuration (what `startGateway` accepts). */
export function withDefaults(input: GatewayConfigInput): GatewayConfig {
  const platform = input.platform ?? 'local';
  const local = platform === 'local';
  return Object.freeze({
    platform,
    host: input.host ?? (local ? '127.0.0.1' : '0.0.0.0'),
    port: input.port ?? 8080,
    routesFile: path.resolve(input.routesFile),
    routesPollMs: input.routesPollMs ?? 1000,
    jwt: input.jwt ?? { secret: DEV_JWT_SECRET },
    publicPaths: input.publicPaths ?? [],
    adminHost: input.adminHost ?? (local ? '127.0.0.1' : '0.0.0.0'),
    adminPort: input.adminPort ?? 9090,
    adminToken: input.adminToken ?? DEV_ADMIN_TOKEN,
    databaseUrl: input.databaseUrl,
    migrateControlPlane: input.migrateControlPlane ?? platform !== 'kubernetes',
    controlPollMs: input.controlPollMs ?? 1000,
    bodyLimitBytes: input.bodyLimitBytes ?? 10 * 1024 * 1024,
    upstreamTimeoutMs: input.upstreamTimeoutMs ?? 30_000,
    upstreamConnections: input.upstreamConnections ?? 128,
    shadow: { timeoutMs: 5000, maxBodyBytes: 1024 * 1024, maxInFlight: 256, ...input.shadow },
    breaker: { failureThreshold: 5, cooldownMs: 10_000, ...input.breaker },
    trustProxy: input.trustProxy ?? false,
    accessLog: input.accessLog ?? true,
    gatewayId: input.gatewayId ?? `gateway-${process.pid}`,
    logLevel: input.logLevel ?? 'info',
    ...(input.logger ? { logger: input.logger } : {}),
  });
}

/** Reads and checks the environment; throws ConfigError naming the first bad variable. */
export function gatewayConfigFromEnv(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = loadConfig(gatewayEnvSchema, source);
  const deployed = e.PLATFORM !== 'local';
  if (deployed && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL', `is required with PLATFORM=${e.PLATFORM} (the control plane)`);
  if (deployed && !e.CARVE_JWT_SECRET && !e.CARVE_JWT_PUBLIC_KEY) {
    throw new ConfigError('CARVE_JWT_SECRET', `or CARVE_JWT_PUBLIC_KEY is required with PLATFORM=${e.PLATFORM}`);
  }
  if (deployed && !e.CARVE_ADMIN_TOKEN) throw new ConfigError('CARVE_ADMIN_TOKEN', `is required with PLATFORM=${e.PLATFORM}`);
  if (e.CARVE_ADMIN_PORT !== 0 && e.CARVE_ADMIN_PORT === e.PORT) {
    throw new ConfigError('CARVE_ADMIN_PORT', `must differ from PORT (${e.PORT}): the admin API has its own port`);
  }
  return withDefaults({
    platform: e.PLATFORM,
    host: e.HOST,
    port: e.PORT,
    routesFile: e.CARVE_ROUTES_FILE ?? DEV_ROUTES_FILE,
    routesPollMs: e.CARVE_ROUTES_POLL_MS,
    jwt: e.CARVE_JWT_PUBLIC_KEY ? { publicKey: e.CARVE_JWT_PUBLIC_KEY.replace(/\\n/g, '\n') } : { secret: e.CARVE_JWT_SECRET ?? DEV_JWT_SECRET },
    publicPaths: e.CARVE_PUBLIC_PATHS,
    adminHost: e.CARVE_ADMIN_HOST,
    adminPort: e.CARVE_ADMIN_PORT,
    adminToken: e.CARVE_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
    databaseUrl: e.DATABASE_URL,
    controlPollMs: e.CARVE_CONTROL_POLL_MS,
    bodyLimitBytes: e.CARVE_BODY_LIMIT_BYTES,
    upstreamTimeoutMs: e.CARVE_UPSTREAM_TIMEOUT_MS,
    upstreamConnections: e.CARVE_UPSTREAM_CONNECTIONS,
    shadow: { timeoutMs: e.CARVE_SHADOW_TIMEOUT_MS, maxBodyBytes: e.CARVE_SHADOW_MAX_BODY_BYTES, maxInFlight: e.CARVE_SHADOW_MAX_IN_FLIGHT },
    breaker: { failureThreshold: e.CARVE_BREAKER_FAILURES, cooldownMs: e.CARVE_BREAKER_COOLDOWN_MS },
    trustProxy: e.CARVE_TRUST_PROXY ?? e.PLATFORM === 'heroku',
    accessLog: e.CARVE_ACCESS_LOG,
    gatewayId: e.CARVE_GATEWAY_ID,
    logLevel: e.LOG_LEVEL,
  });
}
