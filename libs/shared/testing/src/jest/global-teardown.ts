/** Jest globalTeardown: releases the embedded Postgres started by global-setup (stopped by PID if nobody else uses it). */
import type { EmbeddedPostgres } from '@carve/shared-persistence';

export default async function globalTeardown(): Promise<void> {
  const pg = (globalThis as any).__carveEmbeddedPostgres as EmbeddedPostgres | undefined;
  if (!pg) return;
  delete (globalThis as any).__carveEmbeddedPostgres;
  delete process.env.DATABASE_URL;
  await pg.stop();
}
