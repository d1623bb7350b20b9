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

/** Drops database `name` if it exists, closing its open connections (WITH (FORCE), Postgres 13+). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  assertIdentifier(name, 'database name');
  await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}
