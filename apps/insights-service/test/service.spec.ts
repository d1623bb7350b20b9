/**
 * The service beyond the shared contract: platform endpoints, who owns writes (the write fence of
 * its database, as a handover leaves it), the events its own writes leave in insights.outbox,
 * customers kept once per email, and its configuration rules.
 */
import { validateInsightsEvent } from '@carve/insights-events';
import { request } from '@carve/shared-contract-kit';
import { validateLegacyEvent } from '@carve/legacy-events';
import { ConfigError } from '@carve/shared-config';
import { fenceSide, unfenceSide } from '@carve/shared-persistence';
import { loadInsightsConfig } from '../src/config';
import { type ServiceHarness, startServiceHarness, tokenFor } from './support';

let h: ServiceHarness;
beforeAll(async () => {
  h = await startServiceHarness('insights_service');
});
afterAll(async () => {
  await h?.close();
});

const outbox = async (aggregateId?: string) =>
  (
    await h.admin.query(
      `SELECT topic, key, envelope FROM insights.outbox WHERE $1::text IS NULL OR envelope->>'aggregateId' LIKE $1 || '%' ORDER BY seq`,
      [aggregateId ?? null],
    )
  ).rows as Array<{ topic: string; key: string; envelope: any }>;

describe('platform', () => {
  it('serves health, readiness and metrics, and propagates x-request-id', async () => {
    expect((await request(h.url, 'GET', '/healthz')).body).toEqual({ status: 'ok', service: 'insights-service' });
    expect((await request(h.url, 'GET', '/readyz')).body).toEqual({ status: 'ready', service: 'insights-service' });
    const ws = await h.workspace();
    await request(h.url, 'GET', `/api/v1/workspaces/${ws.id}/notes`, { token: ws.token() });
    const metrics = await request(h.url, 'GET', '/metrics');
    expect(metrics.body).toContain('http_server_request_duration_seconds_bucket');
    expect(metrics.body).toContain('route="/api/v1/workspaces/:workspaceId/notes"');
  });
});

describe('ownership of writes (the write fence of the service\'s database)', () => {
  it('refuses writes with 409 not_source_of_truth and Retry-After until a handover gives it the writes, reads always work', async () => {
    const ws = await h.workspace();
    const base = `/api/v1/workspaces/${ws.id}/notes`;
    const body = { title: 'Early', content: 'c' };
    for (const stage of [undefined, 'backfilled', 'shadow', 'canary', 'reads-switched']) {
      if (stage) await h.setStage(stage);
      const res = await request(h.url, 'POST', base, { token: ws.token(), body });
      expect({ stage, status: res.status, code: res.body.code, context: res.body.context, retryAfter: res.headers['retry-after'] }).toEqual({
        stage,
        status: 409,
        code: 'not_source_of_truth',
        context: 'insights',
        retryAfter: '1',
      });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    // Tenancy and roles come first, as in the monolith.
    expect((await request(h.url, 'POST', base, { token: ws.token('viewer'), body })).body.code).toBe('forbidden_role');
    const other = await h.workspace();
    expect((await request(h.url, 'POST', base, { token: other.token(), body })).body.code).toBe('workspace_mismatch');
    expect((await request(h.url, 'GET', base, { token: ws.token() })).status).toBe(200);
    // A write the fence refused left nothing: no note, no customer, no event in the outbox.
    expect(await outbox()).toEqual([]);
    expect((await h.admin.query('SELECT count(*)::int AS n FROM insights.notes WHERE workspace_id = $1', [ws.id])).rows[0].n).toBe(0);

    await h.setStage('writes-switched');
    expect((await request(h.url, 'POST', base, { token: ws.token(), body })).status).toBe(201);
    await h.setStage('complete');
    expect((await request(h.url, 'POST', base, { token: ws.token(), body })).status).toBe(201);
    await h.setStage('reads-switched'); // rollback: the monolith owns writes again, at once (no stage cache)
    expect((await request(h.url, 'POST', base, { token: ws.token(), body })).status).toBe(409);
  });

  it('answers 503 write_fenced with Retry-After while a handover holds the writes, and writes nothing', async () => {
    const ws = await h.workspace();
    const base = `/api/v1/workspaces/${ws.id}/notes`;
    await h.setStage('writes-switched');
    const before = (await outbox()).length;
    await fenceSide(h.admin, 'insights', { context: 'insights', scopes: [], ttlMs: 60_000, handoverId: 'test-handover', ownerIfNew: false });
    try {
      const res = await request(h.url, 'POST', base, { token: ws.token(), body: { title: 'During the handover', content: 'c', customer: { email: 'fenced@example.com' } } });
      expect({ status: res.status, code: res.body.code, retryAfter: res.headers['retry-after'] }).toEqual({ status: 503, code: 'write_fenced', retryAfter: '1' });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((await request(h.url, 'GET', base, { token: ws.token() })).status).toBe(200);
      expect((await outbox()).length).toBe(before);
      expect((await h.admin.query('SELECT count(*)::int AS n FROM insights.notes WHERE workspace_id = $1', [ws.id])).rows[0].n).toBe(0);
      expect((await h.admin.query('SELECT count(*)::int AS n FROM insights.customers WHERE workspace_id = $1', [ws.id])).rows[0].n).toBe(0);
    } finally {
      await unfenceSide(h.admin, 'insights', { context: 'insights', handoverId: 'test-handover' });
    }
    expect((await request(h.url, 'POST', base, { token: ws.token(), body: { title: 'After the handover', content: 'c' } })).status).toBe(201);
    await h.setStage('reads-switched');
  });
});

describe('writes as the source of truth', () => {
  beforeAll(async () => {
    await h.setStage('writes-switched');
  });

  it('appends legacy-shaped events with origin insights-service to insights.outbox in the same transaction', async () => {
    const ws = await h.workspace();
    const [f1, f2] = await h.features(ws, ['Export', 'SSO']);
    const base = `/api/v1/workspaces/${ws.id}/notes`;
    const created = await request(h.url, 'POST', base, {
      token: ws.token(),
      body: { title: 'Needs export', content: 'c', customer: { email: 'ana@example.com', name: 'Ana', company: null }, features: [{ featureId: f1, importance: 'high' }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    await request(h.url, 'PATCH', `${base}/${id}`, { token: ws.token(), body: { state: 'processed' } });
    await request(h.url, 'POST', `${base}/${id}/features`, { token: ws.token(), body: { featureId: f2 } });
    await request(h.url, 'DELETE', `${base}/${id}/features/${f1}`, { token: ws.token() });
    expect((await request(h.url, 'GET', `${base}/${id}`, { token: ws.token() })).body).toMatchObject({ version: 4, features: [{ featureId: f2, importance: 'medium' }] });
    await request(h.url, 'DELETE', `${base}/${id}`, { token: ws.token() });

    const rows = await outbox(id);
    expect(rows.map((r) => [r.topic, r.envelope.type, r.envelope.aggregateVersion, r.key])).toEqual([
      ['insights.notes.v1', 'note.created', 1, id],
      ['insights.note-features.v1', 'note-feature-link.created', 1, `${id}:${f1}`],
      ['insights.notes.v1', 'note.updated', 2, id],
      ['insights.notes.v1', 'note.updated', 3, id],
      ['insights.note-features.v1', 'note-feature-link.created', 3, `${id}:${f2}`],
      ['insights.notes.v1', 'note.updated', 4, id],
      ['insights.note-features.v1', 'note-feature-link.deleted', 4, `${id}:${f1}`],
      ['insights.note-features.v1', 'note-feature-link.deleted', 5, `${id}:${f2}`],
      ['insights.notes.v1', 'note.deleted', 5, id],
    ]);
    for (const { envelope } of rows) {
      expect(envelope).toMatchObject({ source: 'insights', origin: 'insights-service', tenantId: ws.id });
      expect([envelope.type, validateInsightsEvent(envelope), validateLegacyEvent(envelope)]).toEqual([envelope.type, null, null]);
    }
    expect(rows[0].envelope.data).toEqual({
      id,
      workspaceId: ws.id,
      title: 'Needs export',
      content: 'c',
      source: 'manual',
      customerEmail: 'ana@example.com',
      customerName: 'Ana',
      customerCompany: null,
      tags: [],
      state: 'unprocessed',
      createdAt: created.body.createdAt,
      updatedAt: created.body.updatedAt,
    });
    expect(rows[0].envelope.correlationId).toBe(created.headers['x-request-id']);
  });

  it('appends nothing and changes nothing when a write fails', async () => {
    const ws = await h.workspace();
    const before = (await outbox()).length;
    const res = await request(h.url, 'POST', `/api/v1/workspaces/${ws.id}/notes`, {
      token: ws.token(),
      body: { title: 't', content: 'c', customer: { email: 'x@example.com' }, features: [{ featureId: '00000000-0000-4000-a000-00000000f00d' }] },
    });
    expect(res.status).toBe(400);
    expect((await outbox()).length).toBe(before);
    expect((await h.admin.query('SELECT count(*)::int AS n FROM insights.customers WHERE workspace_id = $1', [ws.id])).rows[0].n).toBe(0);
  });

  it('keeps one customer per (workspace, email): the newest note written with it names it', async () => {
    const ws = await h.workspace();
    const base = `/api/v1/workspaces/${ws.id}/notes`;
    const first = (await request(h.url, 'POST', base, { token: ws.token(), body: { title: 'a', content: 'c', customer: { email: 'Sam@Globex.test', name: 'Sam', company: 'Globex' } } })).body;
    const second = (await request(h.url, 'POST', base, { token: ws.token(), body: { title: 'b', content: 'c', customer: { email: 'sam@globex.test', name: 'Samantha', company: 'Globex' } } })).body;
    expect(second.customer).toEqual({ email: 'sam@globex.test', name: 'Samantha', company: 'Globex' });
    expect((await request(h.url, 'GET', `${base}/${first.id}`, { token: ws.token() })).body.customer.name).toBe('Samantha');
    const { rows } = await h.admin.query('SELECT email, name FROM insights.customers WHERE workspace_id = $1', [ws.id]);
    expect(rows).toEqual([{ email: 'sam@globex.test', name: 'Samantha' }]);
  });

  it('refuses a note for a workspace it has never heard of (404)', async () => {
    const ws = { id: '00000000-0000-4000-a000-00000000c0de' };
    const res = await request(h.url, 'POST', `/api/v1/workspaces/${ws.id}/notes`, { token: tokenFor(ws.id), body: { title: 't', content: 'c' } });
    expect({ status: res.status, detail: res.body.detail }).toEqual({ status: 404, detail: 'The workspace was not found.' });
  });
});

describe('configuration', () => {
  it('never takes a legacy database URL, needs brokers for kafka, a database and a key when deployed', () => {
    expect(() => loadInsightsConfig({ LEGACY_DATABASE_URL: 'postgres://x@h/db' })).toThrow(ConfigError);
    expect(() => loadInsightsConfig({ LEGACY_DATABASE_URL: 'postgres://x@h/db' })).toThrow(/LEGACY_DATABASE_URL is not allowed/);
    expect(() => loadInsightsConfig({ CARVE_TRANSPORT: 'kafka' })).toThrow(/KAFKA_BROKERS is required/);
    expect(() => loadInsightsConfig({ PLATFORM: 'kubernetes', CARVE_JWT_SECRET: 'x'.repeat(32) })).toThrow(/DATABASE_URL is required/);
    expect(() => loadInsightsConfig({ PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://a@b/c' })).toThrow(/CARVE_JWT_SECRET/);
    expect(loadInsightsConfig({})).toMatchObject({ port: 3101, host: '127.0.0.1', transport: 'postgres', forwardSync: true, outboxRelay: true, migrateOnBoot: true, syncGroup: 'insights-service' });
    expect(loadInsightsConfig({ KAFKA_BROKERS: 'a:9092, b:9092', PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://a@b/c', CARVE_JWT_PUBLIC_KEY: 'pem' })).toMatchObject({
      transport: 'kafka', kafkaBrokers: ['a:9092', 'b:9092'], host: '0.0.0.0', migrateOnBoot: false, jwt: { publicKey: 'pem' },
    });
  });
});

describe('input', () => {
  it('accepts JSON only: a form, plain text or any other body gets 415 unsupported_media_type, writing nothing', async () => {
    const ws = await h.workspace();
    await h.setStage('writes-switched');
    const url = `/api/v1/workspaces/${ws.id}/notes`;
    const count = async () => (await h.admin.query('SELECT count(*)::int AS n FROM insights.notes')).rows[0].n as number;
    const before = await count();
    for (const [type, raw] of [
      ['application/x-www-form-urlencoded', 'name=x&title=t&content=c'],
      ['text/plain', JSON.stringify({ title: 't', content: 'c' })],
      ['application/xml', '<x/>'],
    ]) {
      const res = await request(h.url, 'POST', url, { token: ws.token(), raw, headers: { 'content-type': type } });
      expect({ type, status: res.status, code: res.body?.code }).toEqual({ type, status: 415, code: 'unsupported_media_type' });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(await count()).toBe(before);
  });
});

describe('input', () => {
  it('answers list queries naming prototype properties (?sort=constructor, __proto__, toString) with 400 problem+json, never 500', async () => {
    const ws = await h.workspace();
    const url = `/api/v1/workspaces/${ws.id}/notes`;
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      for (const query of [`sort=${key}`, `sort=-${key}`, `${key}=x`]) {
        const res = await request(h.url, 'GET', `${url}?${query}`, { token: ws.token() });
        expect({ query, status: res.status, code: res.body?.code, field: res.body?.errors?.[0]?.field }).toEqual({ query, status: 400, code: 'validation_failed', field: query.startsWith('sort=') ? 'sort' : key });
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
  });
});
