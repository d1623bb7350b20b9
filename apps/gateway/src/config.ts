/**
 * The gateway's configuration: from the environment (checked once at boot with
 * @carve/shared-config, one line naming a bad variable), or given directly to `startGateway`
 * (tests, the benchmark). Everything has a default except what a deployed gateway must be told.
 *
 * PLATFORM=local (default, dev): listens on 127.0.0.1, the dev JWT secret and the dev admin
 * token are allowed, and without DATABASE_URL the control plane lives in the embedded Postgres.
 * Any other platform: DATABASE_URL, a JWT key and CARVE_ADMIN_TOKEN (the bootstrap operator's
 * token; named operators are created with `carve operator create`) are required, and the proxy
 * listens on 0.0.0.0. The admin port binds to CARVE_ADMIN_HOST, 127.0.0.1 unless set, on every
 * platform (the chart sets it). PLATFORM=kubernetes never migrates the control plane at boot: the chart's
 * init container runs `src/migrate.ts` with the migrator role, and the gateway's own role (DML
 * only) checks that nothing is pending.
 */
import os from 'node:os';
import path from 'node:path';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { ConfigError, env, loadConfig } from '@carve/shared-config';
import { type AuthOptions, DEV_JWT_SECRET, type Logger } from '@carve/shared-http';

/**
 * The web console's static files when CARVE_CONSOLE_DIR is unset. The compiled gateway (the
 * image, dist/apps/gateway: <root>/dist/config.js) serves the console its build bundled next to
 * dist/, <root>/console (/app/apps/gateway/console in the image); run from the sources (`npm
 * start`, tests) it serves the workspace's dist/apps/console, where `nx build console` puts it.
 */
export const DEFAULT_CONSOLE_DIR =
  path.basename(__dirname) === 'dist' ? path.join(__dirname, '..', 'console') : path.join(__dirname, '..', '..', '..', 'dist', 'apps', 'console');

export const PLATFORMS = ['local', 'heroku', 'kubernetes'] as const;

/** The route table `carve gateway` and `carve dev` use when CARVE_ROUTES_FILE is unset. */
export const DEV_ROUTES_FILE = path.join(__dirname, '..', 'routes', 'dev.yaml');

/** The most workers CARVE_GATEWAY_WORKERS may ask for (one per core is the useful most). */
export const MAX_WORKERS = 64;

export const gatewayEnvSchema = {
  PLATFORM: env.oneOf(PLATFORMS, { default: 'local' }),
  PORT: env.port({ default: 8080 }),
  HOST: env.string({ optional: true }),
  CARVE_ROUTES_FILE: env.string({ optional: true }),
  CARVE_ROUTES_POLL_MS: env.int({ min: 50, max: 60_000, default: 1000 }),
  CARVE_JWT_SECRET: env.string({ optional: true, minLength: 16 }),
  CARVE_JWT_PUBLIC_KEY: env.string({ optional: true }),
  CARVE_JWT_JWKS_URL: env.url({ protocols: ['http', 'https'], optional: true }),
  CARVE_JWT_ISSUER: env.string({ optional: true }),
  CARVE_JWT_AUDIENCE: env.string({ optional: true }),
  CARVE_JWT_MAX_LIFETIME_SEC: env.int({ min: 60, max: 30 * 24 * 3600, optional: true }),
  CARVE_PUBLIC_PATHS: env.list({ default: [] }),
  CARVE_ADMIN_PORT: env.port({ default: 9090 }),
  CARVE_ADMIN_HOST: env.string({ optional: true }),
  CARVE_ADMIN_TOKEN: env.string({ optional: true, minLength: 16 }),
  DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
  CARVE_CONTROL_POLL_MS: env.int({ min: 100, max: 60_000, default: 1000 }),
  CARVE_BODY_LIMIT_BYTES: env.int({ min: 1024, max: 1024 * 1024 * 1024, default: 10 * 1024 * 1024 }),
  CARVE_UPSTREAM_TIMEOUT_MS: env.int({ min: 1, max: 600_000, default: 30_000 }),
  CARVE_UPSTREAM_CONNECTIONS: env.int({ min: 1, max: 4096, default: 128 }),
  CARVE_UPSTREAM_QUEUE_TIMEOUT_MS: env.int({ min: 1, max: 60_000, default: 1000 }),
  CARVE_UPSTREAM_QUEUE_MAX: env.int({ min: 0, max: 1_000_000, default: 1024 }),
  CARVE_HEADERS_TIMEOUT_MS: env.int({ min: 100, max: 600_000, default: 10_000 }),
  CARVE_REQUEST_TIMEOUT_MS: env.int({ min: 100, max: 3_600_000, default: 60_000 }),
  CARVE_BODY_IDLE_TIMEOUT_MS: env.int({ min: 0, max: 600_000, default: 10_000 }),
  CARVE_IDLE_TIMEOUT_MS: env.int({ min: 100, max: 600_000, default: 5000 }),
  CARVE_TENANT_CONCURRENCY: env.int({ min: 0, max: 1_000_000, default: 64 }),
  CARVE_TENANT_RATE_PER_SECOND: env.int({ min: 0, max: 10_000_000, default: 0 }),
  CARVE_TENANT_BURST: env.int({ min: 1, max: 10_000_000, optional: true }),
  CARVE_REDIS_URL: env.url({ protocols: ['redis', 'rediss'], optional: true }),
  CARVE_REDIS_USERNAME: env.string({ optional: true }),
  CARVE_REDIS_PASSWORD: env.string({ optional: true }),
  CARVE_REDIS_TLS: env.bool({ default: false }),
  CARVE_REDIS_CA_FILE: env.string({ optional: true }),
  CARVE_REDIS_TIMEOUT_MS: env.int({ min: 1, max: 10_000, default: 50 }),
  CARVE_SHADOW_TIMEOUT_MS: env.int({ min: 1, max: 600_000, default: 5000 }),
  CARVE_SHADOW_MAX_BODY_BYTES: env.int({ min: 1024, max: 64 * 1024 * 1024, default: 1024 * 1024 }),
  CARVE_SHADOW_MAX_IN_FLIGHT: env.int({ min: 1, max: 100_000, default: 256 }),
  CARVE_SHADOW_KEEP_MISMATCHES: env.int({ min: 1, max: 100_000, default: 50 }),
  CARVE_SHADOW_KEEP_MISMATCHES_MS: env.int({ min: 1000, max: 365 * 24 * 3600_000, default: 7 * 24 * 3600_000 }),
  CARVE_BREAKER_FAILURES: env.int({ min: 1, max: 10_000, default: 5 }),
  CARVE_BREAKER_COOLDOWN_MS: env.int({ min: 10, max: 3_600_000, default: 10_000 }),
  CARVE_TRUST_PROXY: env.bool({ optional: true }),
  CARVE_ACCESS_LOG: env.bool({ default: true }),
  CARVE_SERVED_BY_HEADER: env.bool({ default: false }),
  CARVE_GATEWAY_ID: env.string({ optional: true }),
  CARVE_CONSOLE_DIR: env.string({ optional: true }),
  CARVE_CARVING_DATABASE_URL: env.url({ protocols: ['postgres', 'postgresql'], optional: true }),
  CARVE_GATEWAY_WORKERS: env.int({ min: 1, max: MAX_WORKERS, default: 1 }),
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
  /** How tokens are verified (@carve/shared-http AuthOptions): key, issuer, audience, lifetime. */
  readonly jwt: Readonly<AuthOptions>;
  /** Paths under /api/ that need no token: exact, or prefixes ending in `*`. */
  readonly publicPaths: readonly string[];
  /** Address the admin API (and the gateway's /metrics) binds to: 127.0.0.1 unless set. */
  readonly adminHost: string;
  readonly adminPort: number;
  /** The bootstrap operator's token (CARVE_ADMIN_TOKEN): accepted by the admin API as operator `bootstrap`. */
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
  /** Bounded wait for an upstream connection: past it, 503 upstream_saturated with Retry-After. */
  readonly upstreamQueue: { readonly timeoutMs: number; readonly max: number };
  /**
   * Proxy port timeouts (ms): the request headers, the whole request (headers and body), a
   * pause between two body chunks (0: none), and an idle keep-alive connection.
   */
  readonly timeouts: { readonly headersMs: number; readonly requestMs: number; readonly bodyIdleMs: number; readonly idleMs: number };
  /** Per-tenant limits, gateway-wide (routes add their own `limits`); 0 turns one off. */
  readonly tenantLimits: { readonly concurrency: number; readonly ratePerSecond: number; readonly burst?: number };
  /** The shared store of the rate limits (Redis); unset: each replica limits in process. */
  readonly rateStore?: {
    readonly url: string;
    readonly username?: string;
    readonly password?: string;
    readonly tls: boolean;
    readonly caFile?: string;
    readonly timeoutMs: number;
    /** Key prefix (default `carve:rl:`): gateways sharing one prefix share their buckets. */
    readonly prefix?: string;
  };
  readonly shadow: {
    readonly timeoutMs: number;
    readonly maxBodyBytes: number;
    readonly maxInFlight: number;
    /** Mismatch samples the control plane keeps per route: the latest this many (default 50)... */
    readonly keepMismatches?: number;
    /** ...none older than this (ms, default 7 days). */
    readonly keepMismatchesMs?: number;
    /** How often the noise baseline every replica learned is read back (ms, default 10 s). */
    readonly noiseSyncMs?: number;
  };
  readonly breaker: { readonly failureThreshold: number; readonly cooldownMs: number };
  /** Keep X-Forwarded-* from the caller (behind a trusted load balancer). */
  readonly trustProxy: boolean;
  readonly accessLog: boolean;
  /**
   * Name the side that answered in `x-carve-served-by` (the upstream's name in the route table:
   * `monolith`, `insights`, ...). Off by default; `carve dev` turns it on.
   */
  readonly servedByHeader: boolean;
  /** Names this replica in logs, guard events and mismatch samples. */
  readonly gatewayId: string;
  /**
   * The web console (routes/console.routes.ts): `dir` the built static files it serves under
   * /console/ (CARVE_CONSOLE_DIR, default DEFAULT_CONSOLE_DIR: the console the build bundled,
   * or from the sources the workspace's dist/apps/console, `nx build console`);
   * `carvingDatabaseUrl` the admin connection its stage actions carve with, every schema
   * (CARVE_CARVING_DATABASE_URL, default the control plane's DATABASE_URL).
   */
  readonly console: { readonly dir: string; readonly carvingDatabaseUrl?: string };
  readonly logLevel: string;
  /**
   * Processes serving the proxy port (CARVE_GATEWAY_WORKERS, default 1: this process alone).
   * Above 1, main.ts is a primary that forks this many workers (workers.ts); each runs
   * `startGateway` with the same configuration, and the per-tenant rate limits in process
   * (no rate store) are divided by it (limits/tenant-limiter.ts).
   */
  readonly workers: number;
  /**
   * What the admin API's GET /metrics serves instead of this process's registry: a worker's
   * asks the primary for the metrics of every worker, summed (workers.ts).
   */
  readonly metricsText?: () => Promise<string>;
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
    adminHost: input.adminHost ?? '127.0.0.1',
    adminPort: input.adminPort ?? 9090,
    adminToken: input.adminToken ?? DEV_ADMIN_TOKEN,
    databaseUrl: input.databaseUrl,
    migrateControlPlane: input.migrateControlPlane ?? platform !== 'kubernetes',
    controlPollMs: input.controlPollMs ?? 1000,
    bodyLimitBytes: input.bodyLimitBytes ?? 10 * 1024 * 1024,
    upstreamTimeoutMs: input.upstreamTimeoutMs ?? 30_000,
    upstreamConnections: input.upstreamConnections ?? 128,
    upstreamQueue: { timeoutMs: 1000, max: 1024, ...input.upstreamQueue },
    timeouts: { headersMs: 10_000, requestMs: 60_000, bodyIdleMs: 10_000, idleMs: 5000, ...input.timeouts },
    tenantLimits: { concurrency: 64, ratePerSecond: 0, ...input.tenantLimits },
    ...(input.rateStore ? { rateStore: input.rateStore } : {}),
    shadow: { timeoutMs: 5000, maxBodyBytes: 1024 * 1024, maxInFlight: 256, ...input.shadow },
    breaker: { failureThreshold: 5, cooldownMs: 10_000, ...input.breaker },
    trustProxy: input.trustProxy ?? false,
    accessLog: input.accessLog ?? true,
    servedByHeader: input.servedByHeader ?? false,
    // Unique per replica (on kubernetes the host name is the pod's): the control plane keeps what each one serves under it.
    gatewayId: input.gatewayId ?? `${os.hostname()}-${process.pid}`,
    logLevel: input.logLevel ?? 'info',
    workers: input.workers ?? 1,
    ...(input.metricsText ? { metricsText: input.metricsText } : {}),
    console: { dir: path.resolve(input.console?.dir ?? DEFAULT_CONSOLE_DIR), ...(input.console?.carvingDatabaseUrl ? { carvingDatabaseUrl: input.console.carvingDatabaseUrl } : {}) },
    ...(input.logger ? { logger: input.logger } : {}),
  });
}

/** Reads and checks the environment; throws ConfigError naming the first bad variable. */
export function gatewayConfigFromEnv(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = loadConfig(gatewayEnvSchema, source);
  const deployed = e.PLATFORM !== 'local';
  if (deployed && !e.DATABASE_URL) throw new ConfigError('DATABASE_URL', `is required with PLATFORM=${e.PLATFORM} (the control plane)`);
  if (deployed && !e.CARVE_JWT_SECRET && !e.CARVE_JWT_PUBLIC_KEY && !e.CARVE_JWT_JWKS_URL) {
    throw new ConfigError('CARVE_JWT_SECRET', `or CARVE_JWT_PUBLIC_KEY or CARVE_JWT_JWKS_URL is required with PLATFORM=${e.PLATFORM}`);
  }
  if (deployed && e.CARVE_JWT_SECRET === DEV_JWT_SECRET) throw new ConfigError('CARVE_JWT_SECRET', `must not be the dev secret with PLATFORM=${e.PLATFORM}`);
  if (deployed && !e.CARVE_ADMIN_TOKEN) throw new ConfigError('CARVE_ADMIN_TOKEN', `is required with PLATFORM=${e.PLATFORM}`);
  if (e.CARVE_ADMIN_PORT !== 0 && e.CARVE_ADMIN_PORT === e.PORT) {
    throw new ConfigError('CARVE_ADMIN_PORT', `must differ from PORT (${e.PORT}): the admin API has its own port`);
  }
  if (e.CARVE_GATEWAY_WORKERS > 1 && !e.DATABASE_URL) {
    throw new ConfigError('DATABASE_URL', `is required with CARVE_GATEWAY_WORKERS=${e.CARVE_GATEWAY_WORKERS} (the workers share one control plane; the embedded Postgres serves a single process)`);
  }
  return withDefaults({
    platform: e.PLATFORM,
    host: e.HOST,
    port: e.PORT,
    routesFile: e.CARVE_ROUTES_FILE ?? DEV_ROUTES_FILE,
    routesPollMs: e.CARVE_ROUTES_POLL_MS,
    jwt: {
      ...(e.CARVE_JWT_JWKS_URL
        ? { jwksUrl: e.CARVE_JWT_JWKS_URL }
        : e.CARVE_JWT_PUBLIC_KEY
          ? { publicKey: e.CARVE_JWT_PUBLIC_KEY.replace(/\\n/g, '\n') }
          : { secret: e.CARVE_JWT_SECRET ?? DEV_JWT_SECRET }),
      ...(e.CARVE_JWT_ISSUER !== undefined ? { issuer: e.CARVE_JWT_ISSUER } : {}),
      ...(e.CARVE_JWT_AUDIENCE !== undefined ? { audience: e.CARVE_JWT_AUDIENCE } : {}),
      ...(e.CARVE_JWT_MAX_LIFETIME_SEC !== undefined ? { maxLifetimeSec: e.CARVE_JWT_MAX_LIFETIME_SEC } : {}),
    },
    publicPaths: e.CARVE_PUBLIC_PATHS,
    adminHost: e.CARVE_ADMIN_HOST,
    adminPort: e.CARVE_ADMIN_PORT,
    adminToken: e.CARVE_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
    databaseUrl: e.DATABASE_URL,
    controlPollMs: e.CARVE_CONTROL_POLL_MS,
    bodyLimitBytes: e.CARVE_BODY_LIMIT_BYTES,
    upstreamTimeoutMs: e.CARVE_UPSTREAM_TIMEOUT_MS,
    upstreamConnections: e.CARVE_UPSTREAM_CONNECTIONS,
    upstreamQueue: { timeoutMs: e.CARVE_UPSTREAM_QUEUE_TIMEOUT_MS, max: e.CARVE_UPSTREAM_QUEUE_MAX },
    timeouts: { headersMs: e.CARVE_HEADERS_TIMEOUT_MS, requestMs: e.CARVE_REQUEST_TIMEOUT_MS, bodyIdleMs: e.CARVE_BODY_IDLE_TIMEOUT_MS, idleMs: e.CARVE_IDLE_TIMEOUT_MS },
    tenantLimits: {
      concurrency: e.CARVE_TENANT_CONCURRENCY,
      ratePerSecond: e.CARVE_TENANT_RATE_PER_SECOND,
      ...(e.CARVE_TENANT_BURST !== undefined ? { burst: e.CARVE_TENANT_BURST } : {}),
    },
    ...(e.CARVE_REDIS_URL
      ? {
          rateStore: {
            url: e.CARVE_REDIS_URL,
            username: e.CARVE_REDIS_USERNAME,
            password: e.CARVE_REDIS_PASSWORD,
            tls: e.CARVE_REDIS_TLS,
            caFile: e.CARVE_REDIS_CA_FILE,
            timeoutMs: e.CARVE_REDIS_TIMEOUT_MS,
          },
        }
      : {}),
    shadow: {
      timeoutMs: e.CARVE_SHADOW_TIMEOUT_MS,
      maxBodyBytes: e.CARVE_SHADOW_MAX_BODY_BYTES,
      maxInFlight: e.CARVE_SHADOW_MAX_IN_FLIGHT,
      keepMismatches: e.CARVE_SHADOW_KEEP_MISMATCHES,
      keepMismatchesMs: e.CARVE_SHADOW_KEEP_MISMATCHES_MS,
    },
    breaker: { failureThreshold: e.CARVE_BREAKER_FAILURES, cooldownMs: e.CARVE_BREAKER_COOLDOWN_MS },
    trustProxy: e.CARVE_TRUST_PROXY ?? e.PLATFORM === 'heroku',
    accessLog: e.CARVE_ACCESS_LOG,
    servedByHeader: e.CARVE_SERVED_BY_HEADER,
    gatewayId: e.CARVE_GATEWAY_ID,
    logLevel: e.LOG_LEVEL,
    workers: e.CARVE_GATEWAY_WORKERS,
    console: { dir: e.CARVE_CONSOLE_DIR ?? DEFAULT_CONSOLE_DIR, ...(e.CARVE_CARVING_DATABASE_URL ? { carvingDatabaseUrl: e.CARVE_CARVING_DATABASE_URL } : {}) },
  });
}
