/**
 * The gateway process: configuration from the environment (one clear line and exit 78 on a bad
 * variable), `startGateway`, and SIGTERM/SIGINT draining (readiness off, requests in flight
 * finish, then everything closes).
 *
 * With CARVE_GATEWAY_WORKERS > 1 this process is the primary (workers.ts): it checks the
 * configuration, forks the workers, restarts one that dies and relays SIGTERM/SIGINT to them;
 * each worker runs this file too and serves as above.
 *
 *   npm start -w @carve/gateway        (or `carve gateway`)
 */
import cluster from 'node:cluster';
import { ConfigError } from '@carve/shared-config';
import { ControlPlaneNotMigratedError } from '@carve/shared-control-plane';
import { createLogger, installGracefulShutdown, startTracing } from '@carve/shared-http';
import { gatewayConfigFromEnv } from './config';
import { startGateway } from './gateway';
import { RouteFileInvalidError } from './route-table/route-file';
import { runPrimary, WorkerChannel, workerIndex } from './workers';

export { startGateway, type RunningGateway } from './gateway';
export { gatewayConfigFromEnv, withDefaults, type GatewayConfig, type GatewayConfigInput } from './config';

async function main(): Promise<void> {
  let config;
  try {
    config = gatewayConfigFromEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const worker = config.workers > 1;
  if (worker && cluster.isPrimary) {
    runPrimary({ workers: config.workers, log: createLogger('gateway', { level: config.logLevel }) });
    return;
  }
  // A worker's channel to the primary (metrics both ways, readiness).
  const channel = worker ? new WorkerChannel() : null;
  // Before the logger: with tracing on, its lines carry the trace ids. The proxy passes its
  // spans' contexts explicitly, so the active context follows synchronous calls only (no async
  // hooks on every request: @carve/shared-http SynchronousContextManager).
  startTracing('gateway', process.env, { contextPropagation: 'synchronous' });
  // A worker's lines (the access log's too) name it: its slot and its PID.
  const base = createLogger('gateway', { level: config.logLevel });
  const log = channel ? base.child({ worker: workerIndex(), pid: process.pid }) : base;
  let gateway;
  try {
    gateway = await startGateway({
      ...config,
      logger: log,
      // A worker: /metrics is every worker's (through the primary), and a configured id names each worker.
      ...(channel ? { metricsText: channel.metricsText, ...(process.env['CARVE_GATEWAY_ID'] ? { gatewayId: `${config.gatewayId}-w${workerIndex()}` } : {}) } : {}),
    });
  } catch (err) {
    if (err instanceof RouteFileInvalidError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') {
      process.stderr.write(`gateway: cannot read the route table ${config.routesFile} (set CARVE_ROUTES_FILE)\n`);
      process.exit(78);
    }
    if (err instanceof ControlPlaneNotMigratedError) {
      process.stderr.write(`gateway: ${err.message}\n`);
      process.exit(1);
    }
    if (e.code === 'EADDRINUSE') {
      process.stderr.write(`gateway: ${e.message} (set PORT / CARVE_ADMIN_PORT)\n`);
      process.exit(1);
    }
    throw err;
  }
  if (channel) {
    // The primary relays a terminal's SIGINT as SIGTERM (workers.ts), and this worker follows the primary.
    process.on('SIGINT', () => undefined);
    installGracefulShutdown(() => gateway.close(), log, { onBegin: () => gateway.beginDrain(), signals: ['SIGTERM'], parentPid: process.ppid });
    channel.ready(gateway.app.platform.metrics);
  } else {
    installGracefulShutdown(() => gateway.close(), log, { onBegin: () => gateway.beginDrain() });
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`gateway failed to start: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
