/**
 * The roadmaps service on real Postgres: the platform (health, readiness and its drain, metrics,
 * JWT, problem+json), configuration refusals, ownership (the write fence of its database: 409
 * until a handover gives it the writes, 503 while one holds them), forward sync on the embedded Postgres transport (the monolith's
 * workspace, feature and release events written to legacy.outbox and shipped by a relay, as the
 * monolith's runs, become what the API answers; redelivery, an older version and the service's
 * own origin change nothing; a deletion removes the release), and its own writes going out
 * through its relay on roadmaps.releases.v1.
 */
import { randomUUID } from 'node:crypto';
import { FeatureCreated, ReleaseCreated, ReleaseDeleted, type ReleaseStateV1, ReleaseUpdated, WorkspaceCreated } from '@carve/legacy-events';
import { request } from '@carve/shared-contract-kit';
import { ConfigError } from '@carve/shared-config';
import {
  appendToOutbox,
  createEvent,
  createPostgresTransport,
  type Envelope,
  type OutboxEvent,
  outboxMigrationSql,
  pgTransactions,
  type PostgresTransport,
  type RelayHandle,
  startConsumer,
  startRelay,
} from '@carve/shared-messaging';
import { fenceSide, unfenceSide } from '@carve/shared-persistence';
import { createTestDatabase } from '@carve/shared-testing';
import { Pool } from 'pg';
import { loadRoadmapsConfig } from '../src';
import { type ServiceHarness, startServiceHarness, tokenFor, waitFor } from './support';

let h: ServiceHarness;
let legacyRelay: RelayHandle;
let transport: PostgresTransport;
let pool: Pool;

beforeAll(async () => {
  const db = await createTestDatabase('roadmaps_service');
  // The monolith's outbox, as its migration creates it (the monolith itself is not needed here).
  const p = new Pool({ connectionString: db.url, max: 1 });
  await p.query(outboxMigrationSql('legacy'));
  await p.end();
  h = await startServiceHarness('roadmaps_service', { CARVE_FORWARD_SYNC: 'true', CARVE_OUTBOX_RELAY: 'true', CARVE_TRANSPORT: 'postgres' }, { db });
  pool = new Pool({ connectionString: db.url, max: 2 });
  transport = createPostgresTransport({ databaseUrl: db.url, pollIntervalMs: 100 });
  legacyRelay = await startRelay({ databaseUrl: db.url, schema: 'legacy', transport, pollIntervalMs: 100 });
});
afterAll(async () => {
  await legacyRelay?.stop();
  await transport?.close();
  await pool?.end();
  await h?.close();
});

const get = (path: string, token?: string) => request(h.url, 'GET', path, { token });
const write = (events: OutboxEvent[]) => pgTransactions(pool)((tx) => appendToOutbox(tx, 'legacy', events));
const legacy = <T>(contract: Parameters<typeof createEvent<T>>[0], args: Omit<Parameters<typeof createEvent<T>>[1], 'origin'> & { origin?: string }) => createEvent(contract, { origin: 'legacy', ...args });

describe('the platform', () => {
  it('answers health, readiness and metrics without a token', async () => {
    expect((await get('/healthz')).body).toEqual({ status: 'ok', service: 'roadmaps-service' });
    expect((await get('/readyz')).status).toBe(200);
    expect(String((await get('/metrics')).body)).toContain('http_server_request_duration_seconds');
  });

  it('refuses bad configuration with the variable\'s name', () => {
    expect(() => loadRoadmapsConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadRoadmapsConfig({ LEGACY_DATABASE_URL: 'postgres://x@y/z' })).toThrow(/LEGACY_DATABASE_URL/);
    expect(() => loadRoadmapsConfig({ PLATFORM: 'kubernetes' })).toThrow(/DATABASE_URL/);
    expect(() => loadRoadmapsConfig({ CARVE_TRANSPORT: 'kafka' })).toThrow(/KAFKA_BROKERS/);
    expect(loadRoadmapsConfig({}).port).toBe(3102);
  });

  const releases = async (ws: string) => (await h.admin.query('SELECT count(*)::int AS n FROM roadmaps.releases WHERE workspace_id = $1', [ws])).rows[0].n as number;
  const outboxRows = async () => (await h.admin.query('SELECT count(*)::int AS n FROM roadmaps.outbox')).rows[0].n as number;

  it('refuses writes while the monolith owns them (the write fence: 409 not_source_of_truth, Retry-After), writing nothing', async () => {
    const ws = await h.workspace();
    await h.setStage('reads-switched');
    const before = await outboxRows();
    const res = await request(h.url, 'POST', `/api/v1/workspaces/${ws.id}/releases`, { token: ws.token(), body: { name: 'x', timeframe: { start: '2025-01-01', end: '2025-01-02' } } });
    expect({ status: res.status, code: res.body.code, context: res.body.context, retryAfter: res.headers['retry-after'] }).toEqual({
      status: 409,
      code: 'not_source_of_truth',
      context: 'roadmaps',
      retryAfter: '1',
    });
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect({ releases: await releases(ws.id), outbox: await outboxRows() }).toEqual({ releases: 0, outbox: before });
    // Tenancy and roles still come first, as in the monolith.
    expect((await request(h.url, 'POST', `/api/v1/workspaces/${ws.id}/releases`, { token: ws.token('viewer'), body: {} })).body.code).toBe('forbidden_role');
  });

  it('answers 503 write_fenced with Retry-After while a handover holds the writes, writing nothing', async () => {
    const ws = await h.workspace();
    await h.setStage('writes-switched');
    const before = await outboxRows();
    await fenceSide(h.admin, 'roadmaps', { context: 'roadmaps', scopes: [], ttlMs: 60_000, handoverId: 'test-handover', ownerIfNew: false });
    const body = { name: 'x', timeframe: { start: '2025-01-01', end: '2025-01-02' } };
    try {
      const res = await request(h.url, 'POST', `/api/v1/workspaces/${ws.id}/releases`, { token: ws.token(), body });
      expect({ status: res.status, code: res.body.code, retryAfter: res.headers['retry-after'] }).toEqual({ status: 503, code: 'write_fenced', retryAfter: '1' });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((await get(`/api/v1/workspaces/${ws.id}/releases`, ws.token())).status).toBe(200);
      expect({ releases: await releases(ws.id), outbox: await outboxRows() }).toEqual({ releases: 0, outbox: before });
    } finally {
      await unfenceSide(h.admin, 'roadmaps', { context: 'roadmaps', handoverId: 'test-handover' });
    }
    expect((await request(h.url, 'POST', `/api/v1/workspaces/${ws.id}/releases`, { token: ws.token(), body })).status).toBe(201);
    await h.setStage('reads-switched');
  });
});

describe('forward sync (postgres transport)', () => {
  it("keeps the monolith's releases, their plans and the feature titles they plan", async () => {
    const ws = randomUUID();
    const at = '2025-03-01T10:00:00.000Z';
    const f = [randomUUID(), randomUUID()];
    const r: ReleaseStateV1 = { id: randomUUID(), workspaceId: ws, name: 'Q2', description: '', startsOn: '2025-04-01', endsOn: '2025-06-30', state: 'planned', featureIds: [f[0]], createdAt: at, updatedAt: at };
    const t = (id: string) => ({ tenantId: ws, aggregateId: id });
    await write([
      legacy(WorkspaceCreated, { ...t(ws), aggregateVersion: 1, data: { id: ws, name: 'W', slug: `w-${ws.slice(0, 8)}`, createdAt: at, updatedAt: at } }),
      ...f.map((id, i) => legacy(FeatureCreated, { ...t(id), aggregateVersion: 1, data: { id, workspaceId: ws, title: `Feature ${i}`, description: '', status: 'new' as const, priority: 3, ownerId: null, tags: [], createdAt: at, updatedAt: at } })),
      legacy(ReleaseCreated, { ...t(r.id), aggregateVersion: 1, data: r }),
    ]);
    const token = tokenFor(ws, 'viewer');
    const url = `/api/v1/workspaces/${ws}/releases/${r.id}`;
    const synced = await waitFor('the synced release', async () => {
      const res = await get(url, token);
      return res.status === 200 ? res : undefined;
    });
    expect(synced!.body).toEqual({ id: r.id, workspaceId: ws, name: 'Q2', description: '', timeframe: { start: '2025-04-01', end: '2025-06-30' }, state: 'planned', version: 1, createdAt: at, updatedAt: at, featureIds: [f[0]] });
    expect((await h.admin.query('SELECT title, status FROM roadmaps.feature_titles WHERE workspace_id = $1 ORDER BY title', [ws])).rows).toEqual([
      { title: 'Feature 0', status: 'new' },
      { title: 'Feature 1', status: 'new' },
    ]);

    const v2 = { ...r, featureIds: [f[0], f[1]], updatedAt: '2025-03-02T10:00:00.000Z' };
    const updated = legacy(ReleaseUpdated, { ...t(r.id), aggregateVersion: 2, data: v2 });
    await write([updated]);
    await transport.publish([{ topic: updated.topic, key: r.id, value: JSON.stringify(updated.envelope) }]); // a relay retry
    await write([
      legacy(ReleaseUpdated, { ...t(r.id), aggregateVersion: 1, data: { ...r, name: 'older' } }),
      legacy(ReleaseUpdated, { ...t(r.id), aggregateVersion: 3, data: { ...v2, name: 'mine, coming back' }, origin: 'roadmaps-service' }),
    ]);
    await waitFor('duplicate, stale and own-origin outcomes', () => {
      const s = h.service.sync!.stats();
      return s.duplicate >= 1 && s.stale >= 1 && s.ownOrigin >= 1;
    });
    expect((await get(url, token)).body).toMatchObject({ name: 'Q2', version: 2, featureIds: [f[0], f[1]] });
    expect((await get(`${url}/features/${f[1]}`, token)).body).toEqual({ releaseId: r.id, featureId: f[1], createdAt: v2.updatedAt });

    await write([legacy(ReleaseDeleted, { ...t(r.id), aggregateVersion: 4, data: { id: r.id, workspaceId: ws } })]);
    await waitFor('the release gone', async () => (await get(url, token)).status === 404);
    expect((await h.admin.query('SELECT count(*)::int AS n FROM roadmaps.release_features WHERE release_id = $1', [r.id])).rows[0].n).toBe(0);
  });

  it('ships its own writes through its relay on roadmaps.releases.v1 once it owns writes', async () => {
    const ws = await h.workspace();
    const [feature] = await h.features(ws, ['Planned']);
    await h.setStage('writes-switched');
    const seen: Envelope[] = [];
    const reader = await startConsumer({
      transport,
      group: 'test-reverse-reader',
      topics: ['roadmaps.releases.v1'],
      schema: 'roadmaps',
      pool,
      handle: async (e) => {
        seen.push(e);
      },
    });
    try {
      const created = await request(h.url, 'POST', `/api/v1/workspaces/${ws.id}/releases`, {
        token: ws.token(),
        headers: { 'x-request-id': 'req-roadmaps-1' },
        body: { name: 'Written by the service', timeframe: { start: '2025-01-01', end: '2025-01-31' }, featureIds: [feature] },
      });
      expect(created.status).toBe(201);
      const event = await waitFor("the service's event on roadmaps.releases.v1", () => seen.find((e) => e.aggregateId === created.body.id));
      expect(event).toMatchObject({
        type: 'release.created',
        source: 'roadmaps',
        origin: 'roadmaps-service',
        aggregateVersion: 1,
        correlationId: 'req-roadmaps-1',
        data: { name: 'Written by the service', startsOn: '2025-01-01', endsOn: '2025-01-31', featureIds: [feature] },
      });
      const [row] = (await h.admin.query(`SELECT published_at FROM roadmaps.outbox WHERE key = $1`, [created.body.id])).rows;
      expect(row.published_at).not.toBeNull();
    } finally {
      await reader.stop();
      await h.setStage('reads-switched');
    }
  });
});

describe('shutdown', () => {
  it('turns readiness off as soon as draining begins', async () => {
    h.service.http.beginDrain();
    expect((await get('/readyz')).status).toBe(503);
  });
});

describe('input', () => {
  it('accepts JSON only: a form, plain text or any other body gets 415 unsupported_media_type, writing nothing', async () => {
    const ws = await h.workspace();
    await h.setStage('writes-switched');
    const url = `/api/v1/workspaces/${ws.id}/releases`;
    const count = async () => (await h.admin.query('SELECT count(*)::int AS n FROM roadmaps.releases')).rows[0].n as number;
    const before = await count();
    for (const [type, raw] of [
      ['application/x-www-form-urlencoded', 'name=x&title=t&content=c'],
      ['text/plain', JSON.stringify({ name: 'x', timeframe: { start: '2025-01-01', end: '2025-01-02' } })],
      ['application/xml', '<x/>'],
    ]) {
      const res = await request(h.url, 'POST', url, { token: ws.token(), raw, headers: { 'content-type': type } });
      expect({ type, status: res.status, code: res.body?.code }).toEqual({ type, status: 415, code: 'unsupported_media_type' });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(await count()).toBe(before);
  });

  it('answers list queries naming prototype properties (?sort=constructor, __proto__, toString) with 400 problem+json, never 500', async () => {
    const ws = await h.workspace();
    const url = `/api/v1/workspaces/${ws.id}/releases`;
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      for (const query of [`sort=${key}`, `sort=-${key}`, `${key}=x`]) {
        const res = await request(h.url, 'GET', `${url}?${query}`, { token: ws.token() });
        expect({ query, status: res.status, code: res.body?.code, field: res.body?.errors?.[0]?.field }).toEqual({ query, status: 400, code: 'validation_failed', field: query.startsWith('sort=') ? 'sort' : key });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
  });
});
