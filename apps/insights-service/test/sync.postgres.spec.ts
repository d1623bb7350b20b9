/**
 * Forward sync on the embedded Postgres transport, inside the running service: the monolith's
 * events (written to legacy.outbox, shipped by a relay) become the service's notes; a
 * redelivered event applies once; an older version is skipped; an event of the service's own
 * origin is skipped; a delete removes the note. The service's own writes go out through its
 * relay on insights.notes.v1.
 */
import { appendToOutbox, createPostgresTransport, outboxMigrationSql, pgTransactions, type PostgresTransport, type RelayHandle, startConsumer, startRelay } from '@carve/shared-messaging';
import { request } from '@carve/shared-contract-kit';
import { createTestDatabase } from '@carve/shared-testing';
import { Pool } from 'pg';
import { updateNote } from '@carve/insights-data-access';
import { NoteUpdated } from '@carve/legacy-events';
import { legacyEvent, monolithView, scenario } from './sync-events';
import { type ServiceHarness, startServiceHarness, sql, tokenFor, waitFor } from './support';

let h: ServiceHarness;
let legacyRelay: RelayHandle;
let transport: PostgresTransport;
let pool: Pool;

beforeAll(async () => {
  const db = await createTestDatabase('insights_sync_pg');
  // The monolith's outbox, as its migration creates it (the monolith itself is not needed here).
  await sql(db.url, outboxMigrationSql('legacy'));
  h = await startServiceHarness('insights_sync_pg', { CARVE_FORWARD_SYNC: 'true', CARVE_OUTBOX_RELAY: 'true', CARVE_TRANSPORT: 'postgres' }, { db });
  pool = new Pool({ connectionString: db.url, max: 2 });
  transport = createPostgresTransport({ databaseUrl: db.url, pollIntervalMs: 200 });
  legacyRelay = await startRelay({ databaseUrl: db.url, schema: 'legacy', transport, pollIntervalMs: 200 });
});
afterAll(async () => {
  await legacyRelay?.stop();
  await transport?.close();
  await pool?.end();
  await h?.close();
});

const write = (events: Parameters<typeof appendToOutbox>[2]) => pgTransactions(pool)((tx) => appendToOutbox(tx, 'legacy', events));
const stats = () => h.service.sync!.stats();

it('applies the monolith\'s events: the service then answers what the monolith would', async () => {
  const s = scenario();
  await write(s.initial);
  const url = `/api/v1/workspaces/${s.workspaceId}/notes/${s.note.id}`;
  const token = tokenFor(s.workspaceId, 'viewer');
  const res = await waitFor('the synced note', async () => {
    const r = await request(h.url, 'GET', url, { token });
    return r.status === 200 && r.body.features.length === 1 ? r : undefined;
  });
  expect(res!.body).toEqual(monolithView(s.note, 1, [{ featureId: s.features[0], importance: 'high' }]));
  expect((await request(h.url, 'GET', `/api/v1/workspaces/${s.workspaceId}/notes?customerEmail=sam%40globex.test`, { token })).body.items.map((n: any) => n.id)).toEqual([s.note.id]);
  expect((await h.admin.query('SELECT title, status FROM insights.feature_titles WHERE workspace_id = $1 ORDER BY title', [s.workspaceId])).rows).toEqual([
    { title: 'Feature 0', status: 'new' },
    { title: 'Feature 1', status: 'new' },
  ]);

  // Newer, then the same event again (a relay retry), then an older one, then the service's own echo.
  await write([s.updated]);
  await transport.publish([{ topic: s.updated.topic, key: s.note.id, value: JSON.stringify(s.updated.envelope) }]);
  await write([s.older, s.ownOrigin]);
  await waitFor('duplicate, stale and own-origin outcomes', () => {
    const st = stats();
    return st.duplicate >= 1 && st.stale >= 1 && st.ownOrigin >= 1;
  });
  expect((await request(h.url, 'GET', url, { token })).body).toEqual(monolithView(s.updated.envelope.data, 2, [{ featureId: s.features[0], importance: 'high' }]));
  const outcomes = await h.admin.query(`SELECT event_id, outcome FROM insights.inbox WHERE aggregate_id = $1 ORDER BY received_at, event_id`, [s.note.id]);
  expect(outcomes.rows.map((r) => [r.event_id, r.outcome])).toEqual([
    [s.initial[3].envelope.id, 'applied'],
    [s.updated.envelope.id, 'applied'],
    [s.older.envelope.id, 'stale'],
    [s.ownOrigin.envelope.id, 'own-origin'],
  ]);

  await write([s.deleted]);
  await waitFor('the note gone', async () => (await request(h.url, 'GET', url, { token })).status === 404);
  expect((await h.admin.query('SELECT count(*)::int AS n FROM insights.note_features WHERE note_id = $1', [s.note.id])).rows[0].n).toBe(0);
});

it('the same PATCH accepted by the monolith and the service at one version: a conflict with both payloads, counted, nothing applied over the service\'s write; a newer event still applies, an echo is still skipped', async () => {
  const s = scenario();
  await write(s.initial);
  await waitFor('the synced note', async () => (await h.admin.query('SELECT 1 FROM insights.note_features WHERE note_id = $1', [s.note.id])).rowCount);
  const patch = { title: 'Dark mode, the same PATCH on both sides' };
  // The service accepts the PATCH (v2) through its own write path (the repository: the note
  // bumped, its event in insights.outbox). Both sides accepting one version is what the write
  // fence exists to prevent; this simulates a side that did anyway (no fence, or a stale owner).
  const mine = await pgTransactions(pool)(async (tx) => {
    await tx.query(`SELECT set_config('carve.sync_apply', 'on', true)`);
    return updateNote(tx, s.workspaceId, s.note.id, patch);
  });
  expect(mine.version).toBe(2);
  // ...and so did the monolith, at the same version, with its own origin.
  const theirs = legacyEvent(NoteUpdated, { tenantId: s.workspaceId, aggregateId: s.note.id, aggregateVersion: 2, data: { ...s.note, ...patch, updatedAt: '2025-03-05T10:00:00.000Z' } });
  await write([theirs]);
  const conflict = await waitFor('the conflict recorded', async () => (await h.admin.query('SELECT * FROM insights.sync_conflicts WHERE event_id = $1', [theirs.envelope.id])).rows[0]);
  expect(conflict).toMatchObject({
    consumer: 'insights-service', context: 'insights', topic: 'legacy.notes.v1', event_type: 'note.updated', aggregate_type: 'note', aggregate_id: s.note.id,
    aggregate_version: '2', event_origin: 'legacy', local_origin: 'insights-service', resolved_at: null,
  });
  expect(conflict.event_payload).toMatchObject({ id: theirs.envelope.id, origin: 'legacy', data: { title: patch.title, updatedAt: '2025-03-05T10:00:00.000Z' } });
  expect(conflict.local_payload).toMatchObject({ id: s.note.id, title: patch.title, aggregate_version: 2, links: [{ feature_id: s.features[0], importance: 'high' }] });
  expect(conflict.local_payload.updated_at).not.toBe('2025-03-05T10:00:00+00:00');
  // The service's row is its own write, untouched; the inbox says why.
  const [row] = (await h.admin.query('SELECT aggregate_version, updated_at FROM insights.notes WHERE id = $1', [s.note.id])).rows;
  expect(row.aggregate_version).toBe(2);
  expect(row.updated_at.toISOString()).not.toBe('2025-03-05T10:00:00.000Z');
  expect((await h.admin.query('SELECT outcome FROM insights.inbox WHERE event_id = $1', [theirs.envelope.id])).rows).toEqual([{ outcome: 'conflict' }]);
  expect(stats().conflicts).toBe(1);
  const metrics = await request(h.url, 'GET', '/metrics');
  expect(String(metrics.body)).toMatch(/carve_sync_conflicts_total\{context="insights",consumer="insights-service"[^}]*\} 1\b/);

  // A newer change of the monolith applies as usual; the service's own change coming back is skipped.
  const newer = legacyEvent(NoteUpdated, { tenantId: s.workspaceId, aggregateId: s.note.id, aggregateVersion: 3, data: { ...s.note, title: 'Settled by the monolith', updatedAt: '2025-03-06T10:00:00.000Z' } });
  const echo = legacyEvent(NoteUpdated, { tenantId: s.workspaceId, aggregateId: s.note.id, aggregateVersion: 4, origin: 'insights-service', data: { ...s.note, title: 'Echo', updatedAt: '2025-03-07T10:00:00.000Z' } });
  await write([newer, echo]);
  await waitFor('the echo skipped', async () => (await h.admin.query(`SELECT 1 FROM insights.inbox WHERE event_id = $1 AND outcome = 'own-origin'`, [echo.envelope.id])).rowCount);
  expect((await h.admin.query('SELECT title, aggregate_version FROM insights.notes WHERE id = $1', [s.note.id])).rows).toEqual([{ title: 'Settled by the monolith', aggregate_version: 3 }]);
  expect((await h.admin.query('SELECT outcome FROM insights.inbox WHERE event_id = $1', [newer.envelope.id])).rows).toEqual([{ outcome: 'applied' }]);
  expect((await h.admin.query('SELECT count(*)::int AS n FROM insights.sync_conflicts WHERE aggregate_id = $1', [s.note.id])).rows[0].n).toBe(1);
});

it('ships its own writes through its relay on insights.notes.v1 once it owns writes', async () => {
  const s = scenario();
  await write(s.initial.slice(0, 2));
  await waitFor('the workspace in the read model', async () => (await h.admin.query('SELECT 1 FROM insights.workspaces WHERE id = $1', [s.workspaceId])).rowCount);
  await h.setStage('writes-switched');
  const created = await request(h.url, 'POST', `/api/v1/workspaces/${s.workspaceId}/notes`, { token: tokenFor(s.workspaceId), body: { title: 'Written by the service', content: 'c' } });
  expect(created.status).toBe(201);
  // Read back as the monolith's reverse-sync consumer will: a consumer group on insights.notes.v1.
  const seen: any[] = [];
  const reader = await startConsumer({
    transport,
    group: 'test-reverse-reader',
    topics: ['insights.notes.v1'],
    schema: 'insights',
    pool,
    handle: async (e) => {
      seen.push(e);
    },
  });
  try {
    const event = await waitFor('the service\'s event on insights.notes.v1', () => seen.find((e) => e.aggregateId === created.body.id));
    expect(event).toMatchObject({ type: 'note.created', source: 'insights', origin: 'insights-service', aggregateVersion: 1, data: { title: 'Written by the service', customerEmail: null } });
    const [row] = (await h.admin.query(`SELECT published_at, log_pos FROM insights.outbox WHERE envelope->>'aggregateId' = $1`, [created.body.id])).rows;
    expect(row.published_at).not.toBeNull();
    expect(row.log_pos).not.toBeNull();
  } finally {
    await reader.stop();
    await h.setStage('reads-switched');
  }
});
