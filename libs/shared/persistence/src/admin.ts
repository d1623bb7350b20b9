/** Database-level administration over a superuser (or CREATEDB) connection. */
import { Client } from 'pg';
import { assertIdentifier, quoteIdent, withDatabase } from './sql';

/** Runs `fn` with a connected pg Client on `url`, always closing it. */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return withClient(adminUrl, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}

/** Creates database `name` (if missing) and returns its connection string (same server and credentials). */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  assertIdentifier(name, 'database name');
  await withClient(adminUrl, async (c) => {
    const exists = (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    if (!exists) await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
  });
  return withDatabase(adminUrl, name);
}

/**
 * Drops database `name` if it exists, closing its open connections (WITH (FORCE), Postgres 13+).
 *
 * Sessions still connected get up to `graceMs` (default 300 ms) to leave by themselves first: a
 * pool that has just been ended resolves before its server processes exit, and forcing those
 * sends each client a FATAL error it would report (or crash on) after it thought it was closed.
 */
export async function dropDatabase(adminUrl: string, name: string, opts: { graceMs?: number } = {}): Promise<void> {
  assertIdentifier(name, 'database name');
  const deadline = Date.now() + (opts.graceMs ?? 300);
  await withClient(adminUrl, async (c) => {
    for (;;) {
      const r = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      if (r.rows[0].n === 0 || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}
