/**
 * Test-only helpers for this library's own specs (not exported). Other projects use
 * @carve/shared-testing, which builds on this library and so cannot be imported from here.
 */
import crypto from 'node:crypto';
import { createDatabase, dropDatabase } from './admin';
import { startEmbeddedPostgres } from './embedded-postgres';

export async function specDatabase(prefix: string): Promise<{ adminUrl: string; url: string; name: string; drop(after?: (adminUrl: string) => Promise<unknown>): Promise<void> }> {
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
  const adminUrl = process.env.DATABASE_URL ?? embedded!.url;
  const name = `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
  const url = await createDatabase(adminUrl, name);
  return {
    adminUrl,
    url,
    name,
    /** Drops the database, runs `after` (still connected to the server), then releases the server. */
    async drop(after?: (adminUrl: string) => Promise<unknown>) {
      try {
        await dropDatabase(adminUrl, name);
        await after?.(adminUrl);
      } finally {
        await embedded?.stop();
      }
    },
  };
}
