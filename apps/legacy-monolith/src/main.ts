/**
 * The monolith's web process: `node -r ./tools/scripts/register-ts.js apps/legacy-monolith/src/main.ts`
 * (Procfile `web:`, `npm start -w @carve/legacy-monolith`). `carve dev` and tests import
 * `bootstrap` / `createApp` instead and run it in-process.
 */
import { ConfigError } from '@carve/shared-config';
import { createLogger, installGracefulShutdown, startTracing } from '@carve/shared-http';
import { bootstrap, SERVICE_NAME } from './app';
import { loadMonolithConfig } from './config';

export { bootstrap, createApp, type CreateAppOptions, SERVICE_NAME } from './app';
export { loadMonolithConfig, type MonolithConfig } from './config';

async function main(): Promise<void> {
  let config;
  try {
    config = loadMonolithConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  // Before the logger: with tracing on, its lines carry the trace ids.
  startTracing(SERVICE_NAME);
  const logger = createLogger(SERVICE_NAME, { level: config.logLevel });
  const app = await bootstrap(config, { logger });
  const fastify = app.getHttpAdapter().getInstance();
  logger.info({ url: await app.getUrl(), platform: config.platform, migrateOnBoot: config.migrateOnBoot }, 'legacy monolith listening');
  installGracefulShutdown(() => app.close(), logger, { onBegin: () => fastify.platform.beginDrain() });
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`legacy-monolith failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
