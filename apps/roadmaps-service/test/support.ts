/**
 * The roadmaps service under test: a database of its own (dropped afterwards), the service
 * started in-process on a free port with its real wiring (platform, pool; forward sync and relay
 * when asked), and helpers to seed its read models the way forward sync does (the apply functions,
 * in a transaction marked as a sync apply, which the write fence lets pass), to set the carving
 * stage as a completed handover leaves it (the stage in the control plane and the owner in the
 * service's write fence), and to sign tokens.
 */
import { randomUUID } from 'node:crypto';
import { applyFeatureState, applyReleaseState, applyWorkspaceState, migrateRoadmaps, ROADMAPS_SCHEMA } from '@carve/roadmaps-data-access';
import { ROADMAPS_CONTEXT, serviceOwnsWrites } from '@carve/roadmaps-domain';
import type { ContractWorkspace, SeedRelease } from '@carve/roadmaps-api-contract';
import { ControlPlaneClient } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, type Role, signToken } from '@carve/shared-http';
import { setSideOwner } from '@carve/shared-persistence';
import { asSyncApply, createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Pool } from 'pg';
import { loadRoadmapsConfig, type RunningRoadmapsService, startRoadmapsService } from '../src';

export interface ServiceHarness {
  db: TestDatabase;
  service: RunningRoadmapsService;
  /** A superuser pool on the test database (seeding, assertions). */
  admin: Pool;
  url: string;
  setStage(stage: string): Promise<void>;
  workspace(): Promise<ContractWorkspace>;
  features(ws: ContractWorkspace | string, titles: string[]): Promise<string[]>;
  seedReleases(ws: ContractWorkspace | string, releases: SeedRelease[]): Promise<void>;
  close(): Promise<void>;
}

export function tokenFor(workspaceId: string, role: Role = 'admin', userId = randomUUID()): string {
  return signToken({ sub: userId, tid: workspaceId, role }, DEV_JWT_SECRET);
}

const idOf = (ws: ContractWorkspace | string) => (typeof ws === 'string' ? ws : ws.id);

/**
 * Records a stage for roadmaps as a completed handover leaves it: the stage in the control plane
 * (migrating schema `carve` first) and, in the service's write fence (roadmaps.write_fence, which
 * the service's migrations created), whether the service owns the writes at that stage.
 */
export async function setStage(url: string, stage: string, context = ROADMAPS_CONTEXT): Promise<void> {
  const cp = await ControlPlaneClient.connect({ url });
  try {
    await cp.pool.query(
      `INSERT INTO carve.context_stages (context, stage) VALUES ($1, $2) ON CONFLICT (context) DO UPDATE SET stage = EXCLUDED.stage, updated_at = now()`,
      [context, stage],
    );
    await setSideOwner(cp.pool, ROADMAPS_SCHEMA, { context, scopes: [], owner: serviceOwnsWrites(stage), handoverId: null });
  } finally {
    await cp.close();
  }
}

/** Polls `probe` until it returns a truthy value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function startServiceHarness(prefix: string, env: Record<string, string> = {}, opts: { db?: TestDatabase } = {}): Promise<ServiceHarness> {
  const db = opts.db ?? (await createTestDatabase(prefix));
  let service: RunningRoadmapsService | undefined;
  const admin = new Pool({ connectionString: db.url, max: 4 });
  try {
    await migrateRoadmaps(db.url);
    service = await startRoadmapsService(
      loadRoadmapsConfig({ DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'silent', CARVE_FORWARD_SYNC: 'false', CARVE_OUTBOX_RELAY: 'false', ...env }),
    );
    const s = service;
    return {
      db,
      service: s,
      admin,
      url: s.url,
      setStage: (stage) => setStage(db.url, stage),
      async workspace() {
        const id = randomUUID();
        await applyWorkspaceState(admin, { id }, 1);
        const users = { admin: randomUUID(), maker: randomUUID(), viewer: randomUUID() };
        return { id, token: (role: Role = 'admin') => tokenFor(id, role, users[role]) };
      },
      async features(ws, titles) {
        const ids: string[] = [];
        for (const title of titles) {
          const id = randomUUID();
          await applyFeatureState(admin, { id, workspaceId: idOf(ws), title, status: 'new' }, 1);
          ids.push(id);
        }
        return ids;
      },
      async seedReleases(ws, releases) {
        for (const r of releases) await asSyncApply(admin, (c) => applyReleaseState(c, { ...r, workspaceId: idOf(ws), featureIds: [] }, 1));
      },
      async close() {
        await s.close();
        await admin.end();
        await db.drop();
      },
    };
  } catch (err) {
    await service?.close().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await db.drop();
    throw err;
  }
}
