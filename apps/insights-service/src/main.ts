/**
 * The insights service's process: `node -r ./tools/scripts/register-ts.js apps/insights-service/src/main.ts`
 * (`carve dev` runs it on :3101). Configuration from the environment (src/config.ts); SIGTERM
 * drains requests, then the consumer and the relay, then exits.
 */
import { runServiceProcess } from '@carve/shared-service';
import { loadInsightsConfig, SERVICE_NAME } from './config';
import { startInsightsService } from './service';

if (require.main === module) runServiceProcess({ name: SERVICE_NAME, loadConfig: loadInsightsConfig, start: startInsightsService });
