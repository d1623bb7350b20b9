/**
 * The insights service's process: `node -r ./tools/scripts/register-ts.js apps/insights-service/src/main.ts`
 * (`carve dev` runs it on :3101). Configuration from the environment (src/config.ts); SIGTERM
 * drains requests, then the consumer and the relay, then exits.
 */
import { ConfigError } from '@carve/shared-config';
import { createLogger, installGracefulShutdown } from '@carve/shared-http';
import { SERVICE_NAME, startInsightsService } from './app';
import { loadInsightsConfig } from './config';

export { buildInsightsApp, type RunningInsightsService, SERVICE_NAME, startInsightsService, type StartOptions } from './app';
export { type InsightsConfig, insightsEnvSchema, loadInsightsConfig } from './config';

async function main(): Promise<void> {
  let config;
  try {
    config = loadInsightsConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger(SERVICE_NAME, { level: config.logLevel });
  const service = await startInsightsService(config, { logger });
  logger.info(
    { url: service.url, platform: config.platform, transport: config.transport, forwardSync: config.forwardSync, outboxRelay: config.outboxRelay },
    'insights service listening',
  );
  installGracefulShutdown(() => service.close(), logger, { onBegin: () => service.app.platform.beginDrain() });
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`insights-service failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
