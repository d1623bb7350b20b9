/**
 * Jest globalSetup: without DATABASE_URL, start (or reuse) the embedded Postgres once for the
 * whole run and pass its URL to every worker through DATABASE_URL. Use it from a project's
 * jest.config.js:
 *   globalSetup: require.resolve('@carve/shared-testing/src/jest/global-setup.ts'),
 *   globalTeardown: require.resolve('@carve/shared-testing/src/jest/global-teardown.ts'),
 */
import { startEmbeddedPostgres } from '@carve/shared-persistence';

export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  const pg = await startEmbeddedPostgres();
  (globalThis as any).__carveEmbeddedPostgres = pg;
  process.env.DATABASE_URL = pg.url;
}
