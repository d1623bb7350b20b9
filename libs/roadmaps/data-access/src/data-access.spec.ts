/**
 * Schema `roadmaps` on real Postgres: migrations; the monolith's events applied version-guarded
 * (a release's plan replaced with its state, planned features keeping their createdAt, deletions
 * that older states cannot undo, a deleted workspace taking its releases along); and the writes
 * the service makes once it owns releases, each with its event in `roadmaps.outbox` at the
 * version the monolith would have given it.
 */
import { randomUUID } from 'node:crypto';
import type { ReleaseStateV1 } from '@carve/legacy-events';
import { parseListQuery, releaseList } from '@carve/roadmaps-domain';
import { pgTransactions } from '@carve/shared-messaging';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Pool, type PoolClient } from 'pg';
import {
  applyLegacyEvent,
  createRelease,
  deleteRelease,
  forwardSyncConflict,
  getRelease,
  listReleases,
  migrateRoadmaps,
  planFeature,
  ROADMAPS_TABLES,
  RoadmapsRejection,
  unplanFeature,
  updateRelease,
} from './index';

let db: TestDatabase;
let pool: Pool;
let tx: <T>(fn: (c: PoolClient) => Promise<T>) => Promise<T>;

beforeAll(async () => {
  db = await createTestDatabase('roadmaps_data_access');
  await migrateRoadmaps(db.url);
  // The apply functions run as forward sync does, and the owner-mode writes as a service that owns
  // releases: both pass the write fence (carve.sync_apply; the fence itself is tested in
  // @carve/shared-persistence and the services' specs).
  pool = new Pool({ connectionString: db.url, max: 3, options: '-c carve.sync_apply=on' });
  tx = pgTransactions(pool);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const ev = (type: string, aggregateVersion: number, data: unknown) => ({ type, aggregateVersion, data });
const at = (day: number) => `2025-03-${String(day).padStart(2, '0')}T10:00:00.000Z`;

async function workspaceWithFeatures(n: number): Promise<{ ws: string; features: string[] }> {
  const ws = randomUUID();
  await applyLegacyEvent(pool, ev('workspace.created', 1, { id: ws, name: 'W', slug: `w-${ws.slice(0, 8)}`, createdAt: at(1), updatedAt: at(1) }));
  const features: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await applyLegacyEvent(pool, ev('feature.created', 1, { id, workspaceId: ws, title: `F${i}`, description: '', status: 'new', priority: 3, ownerId: null, tags: [], createdAt: at(1), updatedAt: at(1) }));
    features.push(id);
  }
  return { ws, features };
}

const release = (ws: string, over: Partial<ReleaseStateV1> = {}): ReleaseStateV1 => ({
  id: randomUUID(),
  workspaceId: ws,
  name: 'Q2',
  description: '',
  startsOn: '2025-04-01',
  endsOn: '2025-06-30',
  state: 'planned',
  featureIds: [],
  createdAt: at(1),
  updatedAt: at(1),
  ...over,
});

it('migrates schema roadmaps (and again, with nothing to do)', async () => {
  await migrateRoadmaps(db.url);
  const { rows } = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'roadmaps'`);
  const tables = rows.map((r) => `roadmaps.${r.table_name}`);
  for (const t of Object.values(ROADMAPS_TABLES)) expect(tables).toContain(t);
});

describe('forward sync', () => {
  it("replaces a release's plan with each newer state; planned features keep their createdAt; older states are skipped", async () => {
    const { ws, features } = await workspaceWithFeatures(3);
    const r1 = release(ws, { featureIds: [features[0]] });
    expect(await applyLegacyEvent(pool, ev('release.created', 1, r1))).toBe('applied');
    const r2 = { ...r1, name: 'Q2 (moved)', featureIds: [features[0], features[2]], updatedAt: at(5) };
    expect(await applyLegacyEvent(pool, ev('release.updated', 2, r2))).toBe('applied');
    expect(await applyLegacyEvent(pool, ev('release.updated', 1, { ...r1, name: 'old' }))).toBe('stale');

    const view = await getRelease(pool, ws, r1.id);
    expect(view).toMatchObject({ name: 'Q2 (moved)', version: 2, timeframe: { start: '2025-04-01', end: '2025-06-30' }, featureIds: [features[0], features[2]] });
    const plan = (await pool.query('SELECT feature_id, created_at FROM roadmaps.release_features WHERE release_id = $1 ORDER BY created_at', [r1.id])).rows;
    expect(plan.map((p) => [p.feature_id, p.created_at.toISOString()])).toEqual([[features[0], at(1)], [features[2], at(5)]]);

    expect(await applyLegacyEvent(pool, ev('release.updated', 3, { ...r2, featureIds: [features[2]], updatedAt: at(6) }))).toBe('applied');
    expect((await getRelease(pool, ws, r1.id)).featureIds).toEqual([features[2]]);
  });

  it('keeps a deleted release deleted, and a deleted workspace takes its releases and features along', async () => {
    const { ws, features } = await workspaceWithFeatures(1);
    const r = release(ws, { featureIds: features });
    await applyLegacyEvent(pool, ev('release.created', 1, r));
    expect(await applyLegacyEvent(pool, ev('release.deleted', 2, { id: r.id, workspaceId: ws }))).toBe('applied');
    expect(await applyLegacyEvent(pool, ev('release.updated', 1, r))).toBe('stale');
    await expect(getRelease(pool, ws, r.id)).rejects.toBeInstanceOf(RoadmapsRejection);

    const other = release(ws);
    await applyLegacyEvent(pool, ev('release.created', 1, other));
    await applyLegacyEvent(pool, ev('workspace.deleted', 2, { id: ws }));
    for (const t of ['releases', 'release_features', 'feature_titles']) {
      expect((await pool.query(`SELECT count(*)::int AS n FROM roadmaps.${t} WHERE workspace_id = $1`, [ws])).rows[0].n).toBe(0);
    }
    expect(await applyLegacyEvent(pool, ev('release.created', 5, release(ws)))).toBe('stale');
  });

  it("keeps feature titles and statuses, and forgets a deleted feature", async () => {
    const { ws, features } = await workspaceWithFeatures(1);
    await applyLegacyEvent(pool, ev('feature.updated', 2, { id: features[0], workspaceId: ws, title: 'Renamed', status: 'planned' }));
    expect((await pool.query('SELECT title, status FROM roadmaps.feature_titles WHERE feature_id = $1', [features[0]])).rows).toEqual([{ title: 'Renamed', status: 'planned' }]);
    await applyLegacyEvent(pool, ev('feature.deleted', 3, { id: features[0], workspaceId: ws }));
    expect(await applyLegacyEvent(pool, ev('feature.updated', 2, { id: features[0], workspaceId: ws, title: 'Back?', status: 'new' }))).toBe('stale');
    expect((await pool.query('SELECT 1 FROM roadmaps.feature_titles WHERE feature_id = $1', [features[0]])).rowCount).toBe(0);
  });
});

describe('writes as the source of truth', () => {
  const outbox = async (id: string) =>
    (await pool.query(`SELECT topic, envelope FROM roadmaps.outbox WHERE key = $1 ORDER BY seq`, [id])).rows.map((r) => ({
      topic: r.topic,
      type: r.envelope.type,
      version: r.envelope.aggregateVersion,
      origin: r.envelope.origin,
      correlationId: r.envelope.correlationId,
      featureIds: r.envelope.data.featureIds,
    }));

  it('creates, plans, unplans, updates and deletes, each change one event at the next version', async () => {
    const { ws, features } = await workspaceWithFeatures(3);
    const ctx = { correlationId: 'req-1' };
    const created = await tx((c) => createRelease(c, ws, { name: 'R', description: '', timeframe: { start: '2025-01-01', end: '2025-03-31' }, state: 'planned', featureIds: [features[1], features[0]] }, ctx));
    expect(created).toMatchObject({ version: 1, featureIds: [features[0], features[1]].sort() });
    const planned = await tx((c) => planFeature(c, ws, created.id, features[2], ctx));
    expect(planned).toMatchObject({ releaseId: created.id, featureId: features[2] });
    await expect(tx((c) => planFeature(c, ws, created.id, features[2], ctx))).rejects.toMatchObject({ failure: { kind: 'conflict', code: 'already_planned' } });
    await tx((c) => unplanFeature(c, ws, created.id, features[0], ctx));
    await expect(tx((c) => unplanFeature(c, ws, created.id, features[0], ctx))).rejects.toMatchObject({ failure: { kind: 'not_found', what: 'The feature in this release' } });
    const updated = await tx((c) => updateRelease(c, ws, created.id, { state: 'in-progress' }, ctx));
    expect(updated).toMatchObject({ version: 4, state: 'in-progress' });
    await tx((c) => deleteRelease(c, ws, created.id, ctx));

    const events = await outbox(created.id);
    expect(events.map((e) => [e.type, e.version])).toEqual([['release.created', 1], ['release.updated', 2], ['release.updated', 3], ['release.updated', 4], ['release.deleted', 5]]);
    expect(events.every((e) => e.topic === 'roadmaps.releases.v1' && e.origin === 'roadmaps-service' && e.correlationId === 'req-1')).toBe(true);
    expect(events[1].featureIds).toHaveLength(3);
    expect(events[2].featureIds).toEqual(events[1].featureIds.filter((f: string) => f !== features[0]));
  });

  it('refuses an unknown feature or a backwards timeframe and writes nothing', async () => {
    const { ws, features } = await workspaceWithFeatures(1);
    const bad = randomUUID();
    await expect(tx((c) => createRelease(c, ws, { name: 'R', description: '', timeframe: { start: '2025-01-01', end: '2025-01-02' }, state: 'planned', featureIds: [features[0], bad] }))).rejects.toMatchObject({
      failure: { kind: 'validation', errors: [{ field: 'featureIds[1]', message: 'is not a feature of this workspace' }] },
    });
    const r = await tx((c) => createRelease(c, ws, { name: 'R', description: '', timeframe: { start: '2025-01-01', end: '2025-01-02' }, state: 'planned', featureIds: [] }));
    await expect(tx((c) => updateRelease(c, ws, r.id, { timeframe: { start: '2025-02-01', end: '2025-01-01' } }))).rejects.toBeInstanceOf(RoadmapsRejection);
    await expect(tx((c) => planFeature(c, ws, r.id, bad))).rejects.toMatchObject({ failure: { errors: [{ field: 'featureId', message: 'is not a feature of this workspace' }] } });
    expect((await getRelease(pool, ws, r.id)).version).toBe(1);
    expect((await outbox(r.id)).length).toBe(1);
    await expect(tx((c) => createRelease(c, randomUUID(), { name: 'R', description: '', timeframe: { start: '2025-01-01', end: '2025-01-02' }, state: 'planned', featureIds: [] }))).rejects.toMatchObject({
      failure: { kind: 'not_found', what: 'The workspace' },
    });
  });

  it('pages releases by start date with a cursor', async () => {
    const { ws } = await workspaceWithFeatures(0);
    for (let m = 1; m <= 7; m++) {
      await tx((c) => createRelease(c, ws, { name: `R${m}`, description: '', timeframe: { start: `2026-0${m}-01`, end: `2026-0${m}-28` }, state: 'planned', featureIds: [] }));
    }
    const q = (cursor?: string) => {
      const r = parseListQuery(releaseList, { limit: '3', ...(cursor ? { cursor } : {}) });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.value;
    };
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listReleases(pool, ws, q(cursor));
      names.push(...page.items.map((i) => i.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(names).toEqual(['R1', 'R2', 'R3', 'R4', 'R5', 'R6', 'R7']);
  });
});

describe('sync conflicts', () => {
  it('an event of the monolith at the version of a release the service wrote itself is a conflict (with the service\'s release); at another version, or one the service got from the monolith, it is not', async () => {
    const { ws, features } = await workspaceWithFeatures(1);
    // A release the monolith wrote (v1, synced), then the service's own update (v2).
    const synced = release(ws, { featureIds: [features[0]] });
    await applyLegacyEvent(pool, ev('release.created', 1, synced));
    expect(await forwardSyncConflict(pool, ev('release.updated', 1, { ...synced, name: 'again' }))).toBeNull(); // v1 came from the monolith
    const mine = await tx(async (c) => {
      await c.query(`SELECT set_config('carve.sync_apply', 'on', true)`); // a side that accepted the write (see the write fence)
      return updateRelease(c, ws, synced.id, { name: 'the same PATCH' });
    });
    expect(mine.version).toBe(2);
    const conflict = await tx((c) => forwardSyncConflict(c, ev('release.updated', 2, { ...synced, name: 'the same PATCH', updatedAt: at(9) })));
    expect(conflict).toMatchObject({ context: 'roadmaps', aggregateType: 'release', aggregateId: synced.id, localOrigin: 'roadmaps-service', localPayload: { id: synced.id, name: 'the same PATCH', aggregate_version: 2, featureIds: [features[0]] } });
    expect(await tx((c) => forwardSyncConflict(c, ev('release.deleted', 2, { id: synced.id, workspaceId: ws })))).toMatchObject({ aggregateId: synced.id });
    expect(await tx((c) => forwardSyncConflict(c, ev('release.updated', 3, { ...synced, name: 'newer' })))).toBeNull();
    expect(await tx((c) => forwardSyncConflict(c, ev('feature.updated', 2, { id: features[0], workspaceId: ws })))).toBeNull();
  });
});
