/**
 * The roadmaps-service's process: `node -r ./tools/scripts/register-ts.js apps/roadmaps-service/src/main.ts`
 * (`carve dev` runs it on :3102). Configuration from the environment (src/config.ts); SIGTERM
 * drains requests, then the consumer and the relay, then exits.
 */
import { runServiceProcess } from '@carve/shared-service';
import { loadRoadmapsConfig, SERVICE_NAME } from './config';
import { startRoadmapsService } from './service';

if (require.main === module) runServiceProcess({ name: SERVICE_NAME, loadConfig: loadRoadmapsConfig, start: startRoadmapsService });
