/**
 * The roadmaps-service as generated, on real Postgres: health, readiness (and its drain on
 * shutdown), metrics, JWT and tenancy, problem+json; configuration refusals; and forward sync on
 * the embedded Postgres transport: the monolith's events written to legacy.outbox (shipped by a
 * relay, as the monolith's runs) become the service's state, older versions are skipped, and a
 * deletion removes it.
 */
import { randomUUID } from 'node:crypto';
import { createEvent, createPostgresTransport, outboxMigrationSql, pgTransactions, appendToOutbox, type OutboxEvent, type PostgresTransport, type RelayHandle, startRelay } from '@carve/shared-messaging';
import { ConfigError } from '@carve/shared-config';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { ReleaseCreated, ReleaseDeleted, ReleaseUpdated } from '@carve/legacy-contracts';
import { Client, Pool } from 'pg';
import { loadRoadmapsConfig, type RunningRoadmapsService, startRoadmapsService } from '../src';

const token = (workspaceId: string, role: 'admin' | 'maker' | 'viewer' = 'viewer') => signToken({ sub: randomUUID(), tid: workspaceId, role }, DEV_JWT_SECRET);

async function waitFor<T>(what: string, probe: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let db: TestDatabase;
let service: RunningRoadmapsService;
let legacyRelay: RelayHandle;
let transport: PostgresTransport;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('roadmaps_service');
  // The monolith's outbox, as its migration creates it (the monolith itself is not needed here).
  const c = new Client({ connectionString: db.url });
  await c.connect();
  await c.query(outboxMigrationSql('legacy'));
  await c.end();
  service = await startRoadmapsService(
    loadRoadmapsConfig({ DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'silent', CARVE_TRANSPORT: 'postgres', CARVE_STAGE_CACHE_MS: '0' }),
  );
  pool = new Pool({ connectionString: db.url, max: 2 });
  transport = createPostgresTransport({ databaseUrl: db.url, pollIntervalMs: 100 });
  legacyRelay = await startRelay({ databaseUrl: db.url, schema: 'legacy', transport, pollIntervalMs: 100 });
});
afterAll(async () => {
  await legacyRelay?.stop();
  await transport?.close();
  await pool?.end();
  await service?.close();
  await db?.drop();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${service.url}${path}`, { headers });
const write = (events: OutboxEvent[]) => pgTransactions(pool)((tx) => appendToOutbox(tx, 'legacy', events));

describe('the platform', () => {
  it('answers health, readiness and metrics without a token', async () => {
    expect(await (await get('/healthz')).json()).toEqual({ status: 'ok', service: 'roadmaps-service' });
    expect((await get('/readyz')).status).toBe(200);
    expect(await (await get('/metrics')).text()).toContain('http_server_request_duration_seconds');
  });

  it('wants a token for the path\'s workspace, and answers problems', async () => {
    const ws = randomUUID();
    const none = await get(`/api/v1/workspaces/${ws}/releases`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toContain('application/problem+json');
    const other = await get(`/api/v1/workspaces/${ws}/releases`, { authorization: `Bearer ${token(randomUUID())}` });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ code: 'workspace_mismatch' });
    const missing = await get(`/api/v1/workspaces/${ws}/releases/${randomUUID()}`, { authorization: `Bearer ${token(ws)}` });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'not_found' });
    const badPage = await get(`/api/v1/workspaces/${ws}/releases?limit=0`, { authorization: `Bearer ${token(ws)}` });
    expect(badPage.status).toBe(400);
    expect(await badPage.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'limit' }] });
    const nowhere = await get('/nowhere', { authorization: `Bearer ${token(ws)}` });
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toMatchObject({ code: 'route_not_found' });
  });

  it('refuses bad configuration with the variable\'s name', () => {
    expect(() => loadRoadmapsConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadRoadmapsConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadRoadmapsConfig({ LEGACY_DATABASE_URL: 'postgres://x@y/z' })).toThrow(/LEGACY_DATABASE_URL/);
    expect(() => loadRoadmapsConfig({ PLATFORM: 'kubernetes' })).toThrow(/DATABASE_URL/);
    expect(loadRoadmapsConfig({}).port).toBe(3102);
  });
});

describe('forward sync (postgres transport)', () => {

  it('keeps the monolith\'s releases: created, an older version skipped, updated, deleted', async () => {
    const id = randomUUID();
    const workspaceId = randomUUID();
    const at = '2025-03-01T10:00:00.000Z';
    const title = 'First';
    const v1 = { id, workspaceId, name: title, description: '', startsOn: '2025-04-01', endsOn: '2025-06-30', state: 'planned' as const, featureIds: [], createdAt: at, updatedAt: at };
    const v2 = { ...v1, updatedAt: '2025-03-02T10:00:00.000Z' };
    const t = { tenantId: workspaceId, aggregateId: id, origin: 'legacy' };
    const auth = { authorization: `Bearer ${token(workspaceId)}` };
    const url = `/api/v1/workspaces/${workspaceId}/releases/${id}`;

    await write([createEvent(ReleaseCreated, { ...t, aggregateVersion: 1, data: v1 })]);
    expect(await waitFor('the synced release', async () => ((await get(url, auth)).status === 200 ? true : undefined))).toBe(true);
    expect(await (await get(url, auth)).json()).toEqual(v1);

    await write([createEvent(ReleaseUpdated, { ...t, aggregateVersion: 2, data: v2 }), createEvent(ReleaseUpdated, { ...t, aggregateVersion: 1, data: v1 })]);
    await waitFor('the update', async () => (((await (await get(url, auth)).json()) as { updatedAt?: string }).updatedAt === v2.updatedAt ? true : undefined));
    const list = await (await get(`/api/v1/workspaces/${workspaceId}/releases`, auth)).json();
    expect(list).toEqual({ items: [v2], nextCursor: null });

    await write([createEvent(ReleaseDeleted, { ...t, aggregateVersion: 3, data: { id, workspaceId } })]);
    await waitFor('the deletion', async () => ((await get(url, auth)).status === 404 ? true : undefined));
    const outcomes = await pool.query(`SELECT outcome FROM roadmaps.inbox WHERE aggregate_id = $1 ORDER BY received_at`, [id]);
    expect(outcomes.rows.map((r) => r.outcome)).toEqual(['applied', 'applied', 'stale', 'applied']);
  });

});

describe('shutdown', () => {
  it('turns readiness off as soon as draining begins', async () => {
    service.http.beginDrain();
    expect((await get('/readyz')).status).toBe(503);
  });
});
