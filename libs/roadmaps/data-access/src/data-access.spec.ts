/**
 * Schema `roadmaps` on real Postgres: migrations apply (twice is a no-op), the monolith's
 * events apply version-guarded (older skipped, deletion wins over an older state), and the
 * service's own events land in its outbox.
 */
import { randomUUID } from 'node:crypto';
import { RoadmapsReleaseUpdated } from '@carve/roadmaps-contracts';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Pool } from 'pg';
import { applyLegacyEvent, ROADMAPS_TABLES, emitRoadmapsEvents, findState, listStates, migrateRoadmaps, roadmapsEvent } from './index';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('roadmaps_data_access');
  await migrateRoadmaps(db.url);
  pool = new Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const event = (type: string, aggregateType: string, version: number, data: Record<string, any>) =>
  ({ id: randomUUID(), type, version: '1.0', source: 'legacy', tenantId: data.workspaceId, aggregateType, aggregateId: data.id, aggregateVersion: version, occurredAt: new Date().toISOString(), correlationId: null, causationId: null, origin: 'legacy', data }) as any;

it('migrates schema roadmaps (and again, with nothing to do)', async () => {
  await migrateRoadmaps(db.url);
  const { rows } = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'roadmaps' ORDER BY 1`);
  const tables = rows.map((r) => `roadmaps.${r.table_name}`);
  for (const t of Object.values(ROADMAPS_TABLES)) expect(tables).toContain(t);
});

it('applies release events version-guarded; a deletion is not undone by an older state', async () => {
  const id = randomUUID();
  const workspaceId = randomUUID();
  const at = '2025-03-01T10:00:00.000Z';
  const title = 'Second';
  const v2 = { id, workspaceId, name: title, description: '', startsOn: '2025-04-01', endsOn: '2025-06-30', state: 'planned' as const, featureIds: [], createdAt: at, updatedAt: at };
  const v1 = { ...v2, updatedAt: '2025-02-01T10:00:00.000Z' };
  expect(await applyLegacyEvent(pool, event('release.updated', 'release', 2, v2))).toBe('applied');
  expect(await applyLegacyEvent(pool, event('release.created', 'release', 1, v1))).toBe('stale');
  expect(await findState(pool, 'release', workspaceId, id)).toEqual(v2);
  expect((await listStates(pool, 'release', workspaceId, { limit: 10 })).items).toEqual([v2]);
  expect(await findState(pool, 'release', randomUUID(), id)).toBeUndefined();

  expect(await applyLegacyEvent(pool, event('release.deleted', 'release', 3, { id, workspaceId }))).toBe('applied');
  expect(await findState(pool, 'release', workspaceId, id)).toBeUndefined();
  expect(await applyLegacyEvent(pool, event('release.updated', 'release', 2, v2))).toBe('stale');
  expect(await findState(pool, 'release', workspaceId, id)).toBeUndefined();
});

it('ignores aggregates the context does not keep', async () => {
  expect(await applyLegacyEvent(pool, event('widget.created', 'widget', 1, { id: randomUUID(), workspaceId: randomUUID() }))).toBe('ignored');
});

it('appends its own events to roadmaps.outbox, with its origin', async () => {
  const id = randomUUID();
  const workspaceId = randomUUID();
  const at = new Date().toISOString();
  const title = 'Mine';
  const state = { id, workspaceId, name: title, description: '', startsOn: '2025-04-01', endsOn: '2025-06-30', state: 'planned' as const, featureIds: [], createdAt: at, updatedAt: at };
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await emitRoadmapsEvents(client, [roadmapsEvent(RoadmapsReleaseUpdated, { tenantId: workspaceId, aggregateId: id, aggregateVersion: 2, data: state })]);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const { rows } = await pool.query(`SELECT topic, envelope FROM roadmaps.outbox WHERE key = $1`, [id]);
  expect(rows).toHaveLength(1);
  expect(rows[0].topic).toBe('roadmaps.releases.v1');
});
