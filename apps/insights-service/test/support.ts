/**
 * The insights service under test: a database of its own (dropped afterwards), the service
 * started in-process on a free port with its real wiring (platform plugin, pool, forward sync and
 * relay when asked), and helpers to seed its read models the way forward sync does (the apply
 * functions, in a transaction marked as a sync apply, which the write fence lets pass), to set the
 * carving stage as a completed handover leaves it (the stage in the control plane and the owner in
 * the service's write fence), and to sign tokens.
 */
import { randomUUID } from 'node:crypto';
import { applyFeatureState, applyNoteLinkState, applyNoteState, applyWorkspaceState, INSIGHTS_SCHEMA, migrateInsights } from '@carve/insights-data-access';
import { INSIGHTS_CONTEXT, serviceOwnsWrites } from '@carve/insights-domain';
import type { ContractWorkspace, SeedNote } from '@carve/insights-api-contract';
import { ControlPlaneClient } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, type Role, signToken } from '@carve/shared-http';
import { setSideOwner } from '@carve/shared-persistence';
import { asSyncApply, createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client, Pool } from 'pg';
import { type RunningInsightsService, startInsightsService } from '../src';
import { loadInsightsConfig } from '../src/config';

export interface ServiceHarness {
  db: TestDatabase;
  service: RunningInsightsService;
  /** A superuser pool on the test database (seeding, assertions). */
  admin: Pool;
  url: string;
  setStage(stage: string): Promise<void>;
  workspace(name?: string): Promise<ContractWorkspace>;
  features(ws: ContractWorkspace | string, titles: string[]): Promise<string[]>;
  seedNotes(ws: ContractWorkspace | string, notes: SeedNote[]): Promise<void>;
  seedLinks(ws: ContractWorkspace | string, links: Array<{ noteId: string; featureId: string }>): Promise<void>;
  close(): Promise<void>;
}

export function tokenFor(workspaceId: string, role: Role = 'admin', userId = randomUUID()): string {
  return signToken({ sub: userId, tid: workspaceId, role }, DEV_JWT_SECRET);
}

const idOf = (ws: ContractWorkspace | string) => (typeof ws === 'string' ? ws : ws.id);

export async function sql<R = any>(url: string, text: string, params?: unknown[]): Promise<R[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as R[];
  } finally {
    await c.end();
  }
}

/**
 * Records a stage for insights as a completed handover leaves it: the stage in the control plane
 * (migrating schema `carve` first) and, in the service's write fence (insights.write_fence, which
 * the service's migrations created), whether the service owns the writes at that stage.
 */
export async function setStage(url: string, stage: string, context = INSIGHTS_CONTEXT): Promise<void> {
  const cp = await ControlPlaneClient.connect({ url });
  try {
    await cp.pool.query(
      `INSERT INTO carve.context_stages (context, stage) VALUES ($1, $2) ON CONFLICT (context) DO UPDATE SET stage = EXCLUDED.stage, updated_at = now()`,
      [context, stage],
    );
    await setSideOwner(cp.pool, INSIGHTS_SCHEMA, { context, scopes: [], owner: serviceOwnsWrites(stage), handoverId: null });
  } finally {
    await cp.close();
  }
}

export async function startServiceHarness(prefix: string, env: Record<string, string> = {}, opts: { db?: TestDatabase } = {}): Promise<ServiceHarness> {
  const db = opts.db ?? (await createTestDatabase(prefix));
  let service: RunningInsightsService | undefined;
  const admin = new Pool({ connectionString: db.url, max: 4 });
  try {
    await migrateInsights(db.url);
    const config = loadInsightsConfig({
      DATABASE_URL: db.url,
      PORT: '0',
      LOG_LEVEL: 'silent',
      CARVE_FORWARD_SYNC: 'false',
      CARVE_OUTBOX_RELAY: 'false',
      ...env,
    });
    service = await startInsightsService(config);
    const s = service;
    const h: ServiceHarness = {
      db,
      service: s,
      admin,
      url: s.url,
      setStage: (stage) => setStage(db.url, stage),
      async workspace(name = 'Workspace') {
        const id = randomUUID();
        const now = new Date().toISOString();
        await applyWorkspaceState(admin, { id, name, slug: `${name.toLowerCase()}-${id.slice(0, 8)}`, createdAt: now, updatedAt: now }, 1);
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
      async seedNotes(ws, notes) {
        for (const n of notes) {
          await asSyncApply(admin, (c) => applyNoteState(
            c,
            {
              id: n.id,
              workspaceId: idOf(ws),
              title: n.title,
              content: n.content,
              source: n.source,
              customerEmail: n.customer?.email ?? null,
              customerName: n.customer?.name ?? null,
              customerCompany: n.customer?.company ?? null,
              tags: n.tags,
              state: n.state,
              createdAt: n.createdAt,
              updatedAt: n.updatedAt,
            },
            1,
          ));
        }
      },
      async seedLinks(ws, links) {
        for (const l of links) {
          const [{ created_at }] = (await admin.query('SELECT created_at FROM insights.notes WHERE id = $1', [l.noteId])).rows;
          const link = { noteId: l.noteId, featureId: l.featureId, workspaceId: idOf(ws), importance: 'medium' as const, createdAt: created_at.toISOString(), updatedAt: created_at.toISOString() };
          await asSyncApply(admin, (c) => applyNoteLinkState(c, link, 1));
        }
      },
      async close() {
        await s.close();
        await admin.end();
        await db.drop();
      },
    };
    return h;
  } catch (err) {
    await service?.close().catch(() => undefined);
    await admin.end().catch(() => undefined);
    await db.drop();
    throw err;
  }
}

/** Polls `probe` until it returns a truthy value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
