/**
 * Postgres for tests: DATABASE_URL when set (CI, the machine's own server), otherwise the
 * embedded server from @carve/shared-persistence. Every suite gets its own database
 * (`createTestDatabase`) and drops it afterwards, so suites run in parallel without sharing rows.
 *
 * Jest projects should also use this library's globalSetup/globalTeardown
 * (`src/jest/global-setup.ts`): it starts (or reuses) the embedded server once per run and hands
 * its URL to the workers as DATABASE_URL, then stops it by PID at the end.
 */
import crypto from 'node:crypto';
import { createDatabase, dropDatabase, type EmbeddedPostgres, MARK_SYNC_APPLY_SQL, startEmbeddedPostgres } from '@carve/shared-persistence';
import type { Pool, PoolClient } from 'pg';

/** Superuser URL of the test server: DATABASE_URL, else the embedded server (started or reused). */
export async function adminDatabaseUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const pg = await startEmbeddedPostgres();
  return pg.url;
}

export interface TestDatabase {
  /** URL of the new database (same server and credentials as the admin URL). */
  url: string;
  /** URL of the server's admin database, for cluster-wide things (roles). */
  adminUrl: string;
  name: string;
  /** Drops the database WITH (FORCE) (closing connections left open) and releases the server. Idempotent. */
  drop(): Promise<void>;
}

/** A fresh, uniquely named database, e.g. `legacy_api_m3x9k2_4f1a`. */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  let embedded: EmbeddedPostgres | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    embedded = await startEmbeddedPostgres();
    adminUrl = embedded.url;
  }
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z_]+/, '').slice(0, 40) || 'test';
  const name = `${clean}_${Date.now().toString(36)}_${crypto.randomBytes(2).toString('hex')}`;
  const url = await createDatabase(adminUrl, name);
  let dropped = false;
  return {
    url,
    adminUrl,
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await dropDatabase(adminUrl, name);
      } finally {
        await embedded?.stop();
      }
    },
  };
}

/**
 * Runs `fn` in a transaction marked as a sync apply, as forward sync and the backfill mark theirs:
 * the write fence lets it write tables the side does not own (tests filling read models).
 */
export async function asSyncApply<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query(`BEGIN; ${MARK_SYNC_APPLY_SQL}`);
    const result = await fn(c);
    await c.query('COMMIT');
    return result;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
