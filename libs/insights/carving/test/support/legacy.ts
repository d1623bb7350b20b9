/**
 * Test support: a database with the monolith's schema and bulk data (the monolith's own seed
 * process, as `carve seed` runs it: the tests never import the monolith) and the insights schema
 * (its migrations).
 */
import path from 'node:path';
import { migrateInsights } from '@carve/insights-data-access';
import { REGISTER_TS, ROOT, runNode } from '@carve/shared-testing';

/** Monolith schema + `notes` notes over `workspaces` workspaces; the insights schema, empty. */
export async function seedLegacyAndInsights(url: string, workspaces: number, notes: number): Promise<void> {
  const entry = path.join(ROOT, 'apps/legacy-monolith/src/seed/main.ts');
  const seed = await runNode(['-r', REGISTER_TS, entry, '--workspaces', String(workspaces), '--notes', String(notes), '--seed', '7'], { DATABASE_URL: url });
  if (seed.code !== 0) throw new Error(`seeding failed (${seed.code}): ${seed.stderr}`);
  await migrateInsights(url);
}
