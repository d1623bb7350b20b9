/**
 * `startGateway(config)`: the whole gateway in this process. main.ts runs it from the
 * environment; tests, the benchmark and `carve gateway` (as a child process) use it too.
 *
 * Boot order: load the route file (an invalid file stops the boot: there is no older table to
 * keep serving), connect the control plane (migrating it, or on kubernetes checking that the
 * init container did: see config.ts), read the overrides once (so they
 * survive restarts: the gateway never serves a request without them), then listen on the
 * proxy port and on the admin port, and start watching the file.
 */
import http from 'node:http';
import { ControlPlaneClient, ControlPlaneNotMigratedError, type ControlSubscription } from '@carve/shared-control-plane';
import { createLogger, platformPlugin, platformServerOptions, tracingEnabled } from '@carve/shared-http';
import { resolveDatabase, type ResolvedDatabase } from '@carve/shared-persistence';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Histogram } from 'prom-client';
import { type GatewayConfig, type GatewayConfigInput, withDefaults } from './config';
import { Guard } from './guard/guard';
import { LocalBuckets, RedisBuckets } from './limits/rate-store';
import { TenantLimiter } from './limits/tenant-limiter';
import { AccessLog } from './telemetry/access-log';
import { lazyChildLoggerFactory } from './telemetry/logging';
import { GatewayMetrics } from './telemetry/metrics';
import { installCarvingMetrics } from './telemetry/carving-metrics';
import { Breakers } from './proxy/breakers';
import { Proxy } from './proxy/proxy';
import { UpgradeProxy } from './proxy/upgrade';
import { authenticator } from './edge/identity';
import { Upstreams } from './proxy/upstreams';
import { ReplicaReporter } from './route-table/replica-report';
import { RampScheduler } from './ramps/ramp-scheduler';
import { RouteFile } from './route-table/route-file';
import { RouteStats } from './route-table/route-stats';
import { RoutingState } from './route-table/routing-state';
import { buildAdminServer } from './routes/admin.routes';
import { MismatchRecorder } from './shadow/mismatch-recorder';
import { NoiseBaseline } from './shadow/noise';
import { Shadower } from './shadow/shadow';

/** What a gateway that found the control plane not migrated tells its operator to run. */
const MIGRATE_HINT =
  'the gateway image runs them with `node apps/gateway/dist/migrate.js` (its chart\'s init container, DATABASE_URL = the migrator role); from the repository: `npm run migrate -w @carve/gateway`';

export interface RunningGateway {
  /** http://host:port of the proxy. */
  readonly url: string;
  /** http://host:port of the admin API. */
  readonly adminUrl: string;
  readonly config: GatewayConfig;
  readonly app: FastifyInstance;
  readonly admin: FastifyInstance;
  /** Internals, for tests and the admin API. */
  readonly routing: RoutingState;
  readonly routeFile: RouteFile;
  readonly controlPlane: ControlPlaneClient;
  readonly recorder: MismatchRecorder;
  readonly limiter: TenantLimiter;
  /** Readiness off (shutdown began); requests in flight still finish. */
  beginDrain(): void;
  /** Stops listening, lets requests in flight finish, releases everything. Idempotent. */
  close(): Promise<void>;
}

function urlOf(app: FastifyInstance, host: string): string {
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

export async function startGateway(input: GatewayConfigInput): Promise<RunningGateway> {
  const config = withDefaults(input);
  const log = config.logger ?? createLogger('gateway', { level: config.logLevel });
  const startedAt = new Date();

  const routeFile = new RouteFile(config.routesFile, log, config.routesPollMs);
  routeFile.load();

  let embedded: ResolvedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    if (config.platform !== 'local') throw new Error('DATABASE_URL is required for the control plane');
    embedded = await resolveDatabase({ env: {} });
    databaseUrl = embedded.url;
    log.info('control plane: DATABASE_URL is not set; using the embedded Postgres');
  }

  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch((err) => log.error({ err }, 'gateway: cleanup failed'));
  };
  if (embedded) cleanups.push(() => embedded!.stop());

  try {
    const controlPlane = await ControlPlaneClient.connect({
      url: databaseUrl,
      applicationName: `carve-gateway ${config.gatewayId}`.slice(0, 63),
      migrate: config.migrateControlPlane,
      keepMismatches: config.shadow.keepMismatches,
      keepMismatchesForMs: config.shadow.keepMismatchesMs,
    }).catch((err: unknown) => {
      if (err instanceof ControlPlaneNotMigratedError) err.message += ` (${MIGRATE_HINT})`;
      throw err;
    });
    cleanups.push(() => controlPlane.close());

    // The proxy port's server hands every request to the proxy first; Fastify serves what it
    // declines (the gateway's own paths, and every request once closing begins).
    let proxy: Proxy | null = null;
    const { timeouts } = config;
    const serverFactory = (handler: http.RequestListener, opts: FastifyServerOptions): http.Server => {
      // Node enforces the headers and request timeouts on this interval.
      const server = http.createServer({ connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeouts.headersMs / 2))) }, (req, res) => {
        if (proxy === null || !proxy.handle(req, res)) handler(req, res);
      });
      // The proxy port's timeouts (config.ts); the body idle timeout is the proxy's own.
      server.headersTimeout = timeouts.headersMs;
      server.requestTimeout = timeouts.requestMs;
      server.keepAliveTimeout = timeouts.idleMs;
      server.setTimeout(opts.connectionTimeout!);
      if ((opts.maxRequestsPerSocket ?? 0) > 0) server.maxRequestsPerSocket = opts.maxRequestsPerSocket!;
      return server;
    };
    // Closed after the app (cleanups run in reverse): the last requests' lines are written too.
    const accessLog = config.accessLog ? AccessLog.of(log) : undefined;
    if (accessLog) cleanups.push(() => accessLog.close());
    const app = Fastify(
      platformServerOptions({
        loggerInstance: log,
        // One access-log line per request comes from the proxy instead.
        logController: new LogController({ disableRequestLogging: true }),
        childLoggerFactory: lazyChildLoggerFactory,
        bodyLimit: config.bodyLimitBytes,
        trustProxy: config.trustProxy,
        return503OnClosing: true,
        serverFactory,
      }),
    );
    cleanups.push(() => app.close());
    const routing = new RoutingState(routeFile.current());
    await app.register(platformPlugin, {
      service: 'gateway',
      // The gateway's metrics are served on the admin port only (routes/admin.routes.ts).
      metricsRoute: false,
      readiness: async () => {
        if (routing.table.routes === undefined) throw new Error('no route table');
      },
    });
    const metrics = new GatewayMetrics(app.platform.metrics);
    installCarvingMetrics(app.platform.metrics, controlPlane.pool, log);
    const upstreams = new Upstreams(config.upstreamTimeoutMs, config.upstreamConnections, Math.min(64, config.shadow.maxInFlight), config.upstreamQueue);
    cleanups.push(() => upstreams.close());
    // Workers with buckets of their own share the rates (limits/tenant-limiter.ts); Redis holds one bucket for all.
    const limiter = config.rateStore
      ? new TenantLimiter(config.tenantLimits, new RedisBuckets(config.rateStore, log))
      : new TenantLimiter(config.tenantLimits, new LocalBuckets(), config.workers);
    cleanups.push(() => limiter.close());
    const breakers = new Breakers(config.breaker, metrics, log);
    const stats = new RouteStats();
    const guard = new Guard(controlPlane, routing, metrics, log, config.gatewayId);
    const recorder = new MismatchRecorder(controlPlane, log, config.gatewayId);
    cleanups.push(() => recorder.close());
    const noise = new NoiseBaseline(controlPlane, log, config.shadow.noiseSyncMs);
    cleanups.push(() => noise.close());
    await noise.start();
    const shadow = new Shadower(config.shadow, metrics, stats, guard, recorder, log, noise);

    routing.onApplied((table, changes) => {
      metrics.routeTable(table);
      for (const c of changes) {
        guard.reset(c.id);
        if (c.after) log.info({ route: c.id, before: c.before, after: c.after }, `route ${c.id}: ${c.after.mode}${c.after.mode === 'canary' ? ` ${c.after.percent}%` : ''} (${c.after.overridden ? 'override' : 'file'})`);
        else log.info({ route: c.id }, `route ${c.id}: removed from the table`);
      }
    });
    routeFile.onChange((table) => {
      routing.setFile(table);
      metrics.reload('applied');
    });
    routeFile.onRefused(() => metrics.reload('refused'));

    let subscription: ControlSubscription | null = controlPlane.subscribe((snap) => routing.setOverrides(snap.overrides, snap.version, snap.workspaceOverrides), {
      pollMs: config.controlPollMs,
      onError: (err, where) => log.warn({ err: err.message, where }, 'control plane: subscription error (retrying)'),
    });
    cleanups.push(async () => {
      await subscription?.close();
      subscription = null;
    });
    await subscription.ready();
    metrics.routeTable(routing.table);
    // What this replica serves, in the control plane before it takes a request (route-table/replica-report.ts).
    const reporter = new ReplicaReporter(controlPlane, routing, routeFile, config.gatewayId, startedAt, log);
    cleanups.push(() => reporter.stop());
    await reporter.start();
    // Timed canary ramps: whichever replica is alive applies their due steps (ramps/ramp-scheduler.ts).
    const ramps = new RampScheduler(controlPlane, `gateway ${config.gatewayId}`, log, config.controlPollMs);
    cleanups.push(() => ramps.stop());
    ramps.start();
    if (routing.overrideProblems.length > 0) log.warn({ problems: routing.overrideProblems }, 'control plane: some overrides do not apply to this route table');

    const requestId = platformServerOptions().genReqId!;
    proxy = new Proxy({
      config,
      routing,
      upstreams,
      breakers,
      metrics,
      shadow,
      guard,
      stats,
      log,
      requestId: (req) => requestId(req),
      httpDuration: app.platform.metrics.getSingleMetric('http_server_request_duration_seconds') as Histogram<'method' | 'route' | 'status'> | undefined,
      limiter,
      bodyIdleTimeoutMs: timeouts.bodyIdleMs,
      tracing: tracingEnabled(),
      accessLog,
    });
    // WebSocket upgrades on routes that take them (proxy/upgrade.ts).
    const upgrades = new UpgradeProxy({
      routing,
      upstreams,
      authenticate: authenticator({ auth: config.jwt, publicPaths: config.publicPaths }),
      limiter,
      trustProxy: config.trustProxy,
      requestId: (req) => requestId(req),
      log,
      handshakeTimeoutMs: config.upstreamTimeoutMs,
    });
    app.server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => upgrades.handle(req, socket, head));
    cleanups.push(() => upgrades.close());
    const front = proxy;
    app.addHook('preClose', (done) => {
      front.closing = true;
      done();
    });

    const admin = await buildAdminServer({
      config,
      routing,
      file: routeFile,
      controlPlane,
      subscription: () => subscription,
      breakers,
      guard,
      stats,
      shadow,
      recorder,
      metrics: app.platform.metrics,
      ...(config.metricsText ? { metricsText: config.metricsText } : {}),
      startedAt,
      log,
      databaseUrl,
    });
    cleanups.push(() => admin.close());

    await app.listen({ host: config.host, port: config.port });
    await admin.listen({ host: config.adminHost, port: config.adminPort });
    routeFile.watch();
    cleanups.push(() => routeFile.close());

    const url = urlOf(app, config.host);
    const adminUrl = urlOf(admin, config.adminHost);
    log.info({ url, adminUrl, routes: routing.table.routes.length, file: config.routesFile, gatewayId: config.gatewayId }, `gateway listening on ${url} (admin ${adminUrl})`);

    let closing: Promise<void> | null = null;
    return {
      url,
      adminUrl,
      config,
      app,
      admin,
      routing,
      routeFile,
      controlPlane,
      recorder,
      limiter,
      beginDrain: () => app.platform.beginDrain(),
      close: () => (closing ??= (async () => {
        app.platform.beginDrain();
        routeFile.close();
        await cleanup();
      })()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
