/**
 * Jest globalSetup: without DATABASE_URL, start (or reuse) the embedded Postgres once for the
 * whole run and pass its URL to every worker through DATABASE_URL. Use it from a project's
 * jest.config.js:
 *   globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
 *   globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
 *
 * It also makes a scratch folder for the run (CARVE_TEST_RUN_DIR, inherited by the workers):
 * `kafkaBrokers()` records there a broker it had to start, which the teardown stops by PID.
 * Kafka itself is started lazily, only by suites that ask for it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmbeddedPostgres } from '@carve/shared-persistence';
import { TEST_RUN_DIR_ENV } from '../kafka';

export default async function globalSetup(): Promise<void> {
  if (!process.env[TEST_RUN_DIR_ENV]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-test-run-'));
    (globalThis as any).__carveTestRunDir = dir;
    process.env[TEST_RUN_DIR_ENV] = dir;
  }
  if (process.env.DATABASE_URL) return;
  const pg = await startEmbeddedPostgres();
  (globalThis as any).__carveEmbeddedPostgres = pg;
  process.env.DATABASE_URL = pg.url;
}
