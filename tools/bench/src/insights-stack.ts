/**
 * What the benchmarks that drive a whole carve start from: the monolith's bulk seed in a fresh
 * database, the insights schema, and the stack as `carve dev` runs it (the monolith with reverse
 * sync, insights-service, the gateway; the embedded Postgres transport), with a Carving client
 * for its stages. Admin JWTs for a sample of the seeded notes' workspaces.
 */
import path from 'node:path';
import { migrateInsights } from '@carve/insights-data-access';
import { Carving } from '@carve/shared-carving';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { type CarvedStack, REGISTER_TS, ROOT, runNode, startCarvedStack } from '@carve/shared-testing';
import { Client } from 'pg';

export interface SeededNote {
  readonly ws: string;
  readonly id: string;
  /** A JWT of an admin of the note's workspace. */
  readonly token: string;
}

export interface InsightsStack {
  readonly stack: CarvedStack;
  readonly carving: Carving;
  /** Stops the Carving client and the processes. */
  stop(): Promise<void>;
}

/** `notes` notes over `workspaces` workspaces (the monolith's bulk seed, PRNG seed 7) in `url`, and the insights schema. */
export async function seedInsights(url: string, notes: number, workspaces: number): Promise<void> {
  const seed = await runNode(['-r', REGISTER_TS, path.join(ROOT, 'apps/legacy-monolith/src/seed/main.ts'), '--workspaces', String(workspaces), '--notes', String(notes), '--seed', '7'], { DATABASE_URL: url });
  if (seed.code !== 0) throw new Error(`seed failed: ${seed.stderr}`);
  await migrateInsights(url);
}

/** The stack on `url` (seeded), the gateway with `gatewayEnv` besides its defaults. */
export async function startInsightsStack(name: string, url: string, gatewayEnv: NodeJS.ProcessEnv): Promise<InsightsStack> {
  const env = { DATABASE_URL: url, CARVE_TRANSPORT: 'postgres', LOG_LEVEL: 'warn', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET, CARVE_ACCESS_LOG: 'false' };
  const stack = await startCarvedStack({
    name,
    env,
    service: { name: 'insights-service', entry: 'apps/insights-service/src/main.ts', upstream: 'insights' },
    adminToken: DEV_ADMIN_TOKEN,
    gatewayEnv,
  });
  try {
    const carving = await Carving.connect({ url, actor: 'bench', transport: 'postgres', gateway: { url: stack.adminUrl, token: DEV_ADMIN_TOKEN } });
    return {
      stack,
      carving,
      async stop() {
        await carving.close();
        await stack.stop();
      },
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** `limit` seeded notes, in `order` (SQL over `n`, legacy.notes), each with an admin token of its workspace. */
export async function seededNotes(url: string, limit: number, order = 'n.id'): Promise<SeededNote[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT n.workspace_id AS ws, n.id, (SELECT m.id FROM legacy.members m WHERE m.workspace_id = n.workspace_id AND m.role = 'admin' LIMIT 1) AS member
         FROM legacy.notes n ORDER BY ${order} LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ ws: r.ws as string, id: r.id as string, token: signToken({ sub: r.member ?? '00000000-0000-4000-8000-000000000001', tid: r.ws, role: 'admin' }, DEV_JWT_SECRET) }));
  } finally {
    await c.end();
  }
}
