/** Where the database is: DATABASE_URL when set (Heroku, Kubernetes, CI), else embedded Postgres. */
import { type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded-postgres';

export interface ResolvedDatabase {
  url: string;
  /** 'env' when DATABASE_URL was used, 'embedded' when the embedded server was started or reused. */
  source: 'env' | 'embedded';
  /** Releases the embedded server (no-op for DATABASE_URL). */
  stop(): Promise<void>;
}

export async function resolveDatabase(options: EmbeddedPostgresOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<ResolvedDatabase> {
  const fromEnv = (options.env ?? process.env).DATABASE_URL;
  if (fromEnv) return { url: fromEnv, source: 'env', stop: async () => undefined };
  const pg = await startEmbeddedPostgres(options);
  return { url: pg.url, source: 'embedded', stop: () => pg.stop() };
}

/**
 * DATABASE_URL if set, else the embedded server's URL (started or reused). The embedded server
 * keeps running after this process exits; use `resolveDatabase()` to be able to stop it.
 */
export async function resolveDatabaseUrl(options: EmbeddedPostgresOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return (await resolveDatabase(options)).url;
}
