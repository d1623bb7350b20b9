/**
 * The gateway process: configuration from the environment (one clear line and exit 78 on a bad
 * variable), `startGateway`, and SIGTERM/SIGINT draining (readiness off, requests in flight
 * finish, then everything closes).
 *
 *   npm start -w @carve/gateway        (or `carve gateway`)
 */
import { ConfigError } from '@carve/shared-config';
import { ControlPlaneNotMigratedError } from '@carve/shared-control-plane';
import { createLogger, installGracefulShutdown, startTracing } from '@carve/shared-http';
import { gatewayConfigFromEnv } from './config';
import { startGateway } from './gateway';
import { RouteFileInvalidError } from './route-table/route-file';

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
  // Before the logger: with tracing on, its lines carry the trace ids. The proxy passes its
  // spans' contexts explicitly, so the active context follows synchronous calls only (no async
  // hooks on every request: @carve/shared-http SynchronousContextManager).
  startTracing('gateway', process.env, { contextPropagation: 'synchronous' });
  const log = createLogger('gateway', { level: config.logLevel });
  let gateway;
  try {
    gateway = await startGateway({ ...config, logger: log });
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
  installGracefulShutdown(() => gateway.close(), log, { onBegin: () => gateway.beginDrain() });
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`gateway failed to start: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
