/**
 * The roadmaps-service's process: `node -r ./tools/scripts/register-ts.js apps/roadmaps-service/src/main.ts`
 * (`carve dev` runs it on :3102). Configuration from the environment (src/config.ts); SIGTERM
 * drains requests, then the consumer and the relay, then exits.
 */
import { ConfigError } from '@carve/shared-config';
import { createLogger, installGracefulShutdown } from '@carve/shared-http';
import { loadRoadmapsConfig } from './config';
import { SERVICE_NAME, startRoadmapsService } from './service';

async function main(): Promise<void> {
  let config;
  try {
    config = loadRoadmapsConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger(SERVICE_NAME, { level: config.logLevel });
  const service = await startRoadmapsService(config, { logger });
  logger.info({ url: service.url, platform: config.platform, transport: config.transport, forwardSync: config.forwardSync, outboxRelay: config.outboxRelay }, 'roadmaps-service listening');
  installGracefulShutdown(() => service.close(), logger, { onBegin: () => service.http.beginDrain() });
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`roadmaps-service failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
