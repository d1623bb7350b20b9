/**
 * Reverse sync of Insights, on a real database and the Postgres transport: the monolith (built
 * in-process with CARVE_REVERSE_SYNC=true) consumes what the insights service writes to
 * `insights.outbox` (here: appended by the test, shipped by a real relay) and applies it to its
 * legacy tables, links arriving before their notes included.
 */
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  INSIGHTS_ORIGIN,
  InsightsNoteCreated,
  InsightsNoteDeleted,
  InsightsNoteLinkCreated,
  InsightsNoteLinkDeleted,
  InsightsNoteUpdated,
  noteLinkAggregateId,
} from '@carve/insights-events';
import { appendToOutbox, createEvent, createPostgresTransport, type OutboxEvent, outboxMigrationSql, type PostgresTransport, type RelayHandle, startRelay } from '@carve/shared-messaging';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createApp } from '../src/app';
import { loadMonolithConfig } from '../src/config';
import { NotesService } from '../src/notes/notes.service';
import { waitFor } from './events-support';

describe('reverse sync of insights (service events applied to the legacy tables)', () => {
  let db: TestDatabase;
  let app: NestFastifyApplication;
  let ds: DataSource;
  let c: Client;
  let transport: PostgresTransport;
  let relay: RelayHandle;
  const ws = randomUUID();
  let featureA: string;
  let featureB: string;

  beforeAll(async () => {
    db = await createTestDatabase('legacy_reverse_insights');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(outboxMigrationSql('insights')); // what the insights service's migrations create
    app = await createApp(loadMonolithConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'silent', CARVE_REVERSE_SYNC: 'true', CARVE_TRANSPORT: 'postgres' }));
    await app.getHttpAdapter().getInstance().ready();
    ds = app.get(DataSource);
    await ds.query('INSERT INTO legacy.workspaces (id, name, slug) VALUES ($1, $2, $3)', [ws, 'Reverse', `reverse-${ws.slice(0, 8)}`]);
    [featureA, featureB] = (await ds.query(`INSERT INTO legacy.features (workspace_id, title) VALUES ($1, 'A'), ($1, 'B') RETURNING id`, [ws])).map((r: any) => r.id);
    transport = createPostgresTransport({ databaseUrl: db.url });
    relay = await startRelay({ databaseUrl: db.url, schema: 'insights', transport, pollIntervalMs: 100 });
  });

  afterAll(async () => {
    await relay?.stop();
    await transport?.close();
    await app?.close();
    await c?.end();
    await db?.drop();
  });

  const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();
  const noteState = (id: string, v: number, extra: Record<string, unknown> = {}) => ({
    id, workspaceId: ws, title: `note v${v}`, content: 'body', source: 'email' as const, customerEmail: 'Ann@Example.com', customerName: 'Ann', customerCompany: 'Acme',
    tags: ['b', 'a'], state: 'unprocessed' as const, createdAt: at(0), updatedAt: at(v), ...extra,
  });
  const args = (aggregateId: string, version: number) => ({ tenantId: ws, aggregateId, aggregateVersion: version, origin: INSIGHTS_ORIGIN });
  /** The service's write: its events in one outbox transaction. */
  const serviceWrites = async (...events: OutboxEvent[]) => {
    await c.query('BEGIN');
    await appendToOutbox(c, 'insights', events);
    await c.query('COMMIT');
  };
  const link = (noteId: string, featureId: string, v: number) =>
    createEvent(InsightsNoteLinkCreated, { ...args(noteLinkAggregateId(noteId, featureId), v), data: { noteId, featureId, workspaceId: ws, importance: 'high', createdAt: at(v), updatedAt: at(v) } });
  const applied = (eventId: string) => async () => (await c.query(`SELECT 1 FROM legacy.inbox WHERE consumer = 'legacy-reverse-sync' AND event_id = $1`, [eventId])).rowCount === 1;

  it('applies a note and its link, even when the link arrives first (parked, then applied with the note)', async () => {
    const id = randomUUID();
    const l = link(id, featureA, 1);
    await serviceWrites(l); // the link's topic is read on its own: it reaches the monolith before the note
    await waitFor('the link to be received', applied(l.envelope.id));
    expect((await c.query('SELECT waits_for FROM legacy.reverse_sync_parked')).rows).toEqual([{ waits_for: `note:${id}` }]);
    const created = createEvent(InsightsNoteCreated, { ...args(id, 1), data: noteState(id, 1) });
    await serviceWrites(created);
    await waitFor('the note', applied(created.envelope.id));
    const [note] = (await c.query('SELECT title, customer_email, customer_name, tags, version FROM legacy.notes WHERE id = $1', [id])).rows;
    expect(note).toEqual({ title: 'note v1', customer_email: 'Ann@Example.com', customer_name: 'Ann', tags: ['b', 'a'], version: 1 });
    expect((await c.query('SELECT feature_id, importance FROM legacy.note_features WHERE note_id = $1', [id])).rows).toEqual([{ feature_id: featureA, importance: 'high' }]);
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.reverse_sync_parked')).rows[0].n).toBe(0);
    // The monolith's own events say so, with the service's origin and correlation: nothing echoes.
    const out = (await c.query(`SELECT envelope FROM legacy.outbox WHERE envelope->>'causationId' IN ($1, $2) ORDER BY seq`, [created.envelope.id, l.envelope.id])).rows.map((r) => r.envelope);
    expect(out.map((e) => [e.type, e.origin, e.aggregateVersion])).toEqual([
      ['note.created', 'insights-service', 1],
      ['note-feature-link.created', 'insights-service', 1],
    ]);
  });

  it('applies updates in version order, drops links to features the monolith deleted, and deletes', async () => {
    const id = randomUUID();
    await serviceWrites(createEvent(InsightsNoteCreated, { ...args(id, 1), data: noteState(id, 1) }), link(id, featureA, 1));
    const v2 = createEvent(InsightsNoteUpdated, { ...args(id, 2), data: noteState(id, 2, { title: 'renamed', customerEmail: null, customerName: null, customerCompany: null }) });
    await serviceWrites(v2);
    await waitFor('v2', applied(v2.envelope.id));
    expect((await c.query('SELECT title, customer_email, version FROM legacy.notes WHERE id = $1', [id])).rows[0]).toEqual({ title: 'renamed', customer_email: null, version: 2 });

    await ds.query('DELETE FROM legacy.features WHERE id = $1', [featureB]);
    const toGone = link(id, featureB, 3);
    await serviceWrites(createEvent(InsightsNoteUpdated, { ...args(id, 3), data: noteState(id, 3, { title: 'renamed' }) }), toGone);
    await waitFor('the link to a deleted feature', applied(toGone.envelope.id));
    expect((await c.query('SELECT feature_id FROM legacy.note_features WHERE note_id = $1', [id])).rows).toEqual([{ feature_id: featureA }]);

    const unlink = createEvent(InsightsNoteLinkDeleted, { ...args(noteLinkAggregateId(id, featureA), 4), data: { noteId: id, featureId: featureA, workspaceId: ws } });
    const del = createEvent(InsightsNoteDeleted, { ...args(id, 5), data: { id, workspaceId: ws } });
    await serviceWrites(createEvent(InsightsNoteUpdated, { ...args(id, 4), data: noteState(id, 4, { title: 'renamed' }) }), unlink);
    await serviceWrites(del);
    await waitFor('the delete', applied(del.envelope.id));
    await waitFor('the unlink', applied(unlink.envelope.id));
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.notes WHERE id = $1', [id])).rows[0].n).toBe(0);
    // a late link (another feature) of the deleted note is not parked forever
    const [{ id: featureC }] = await ds.query(`INSERT INTO legacy.features (workspace_id, title) VALUES ($1, 'C') RETURNING id`, [ws]);
    const late = link(id, featureC, 3);
    await serviceWrites(late);
    await waitFor('the late link', applied(late.envelope.id));
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.reverse_sync_parked')).rows[0].n).toBe(0);
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.note_features WHERE note_id = $1', [id])).rows[0].n).toBe(0);
  });

  it('the same PATCH accepted by the monolith and the service at one version: a conflict with both payloads, counted, the monolith keeps its write; a newer event still applies, an echo is still skipped', async () => {
    const id = randomUUID();
    const created = createEvent(InsightsNoteCreated, { ...args(id, 1), data: noteState(id, 1) });
    await serviceWrites(created, link(id, featureA, 1));
    await waitFor('the note', applied(created.envelope.id));
    const patch = { title: 'the same PATCH on both sides' };
    // The monolith accepts the PATCH through its own write path (v2, its own origin)...
    const mine = await app.get(NotesService).update(ws, id, patch);
    expect(mine.note.version).toBe(2);
    // ...and so did the service, at the same version.
    const theirs = createEvent(InsightsNoteUpdated, { ...args(id, 2), data: noteState(id, 2, patch) });
    await serviceWrites(theirs);
    await waitFor('the conflict', applied(theirs.envelope.id));
    const [conflict] = (await c.query('SELECT * FROM legacy.sync_conflicts WHERE event_id = $1', [theirs.envelope.id])).rows;
    expect(conflict).toMatchObject({
      consumer: 'legacy-reverse-sync', context: 'insights', topic: 'insights.notes.v1', event_type: 'note.updated', aggregate_type: 'note', aggregate_id: id,
      aggregate_version: '2', event_origin: 'insights-service', local_origin: 'legacy', resolved_at: null,
    });
    expect(conflict.event_payload).toMatchObject({ id: theirs.envelope.id, origin: 'insights-service', data: { title: patch.title, updatedAt: at(2) } });
    expect(conflict.local_payload).toMatchObject({ id, title: patch.title, version: 2, links: [{ feature_id: featureA, importance: 'high' }] });
    expect((await c.query(`SELECT outcome FROM legacy.inbox WHERE consumer = 'legacy-reverse-sync' AND event_id = $1`, [theirs.envelope.id])).rows).toEqual([{ outcome: 'conflict' }]);
    const [row] = (await c.query('SELECT version, updated_at FROM legacy.notes WHERE id = $1', [id])).rows;
    expect(row.version).toBe(2);
    expect(row.updated_at.toISOString()).toBe(new Date(mine.note.updatedAt).toISOString()); // the monolith's own write, untouched
    // Nothing went out for it: the monolith emitted its own v2 only.
    expect((await c.query(`SELECT count(*)::int AS n FROM legacy.outbox WHERE envelope->>'causationId' = $1`, [theirs.envelope.id])).rows[0].n).toBe(0);
    const metrics = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/carve_sync_conflicts_total\{context="insights",consumer="legacy-reverse-sync"[^}]*\} 1\b/);

    // A newer change of the service applies as usual; the monolith's own change coming back is skipped.
    const newer = createEvent(InsightsNoteUpdated, { ...args(id, 3), data: noteState(id, 3, { title: 'settled by the service' }) });
    const echo = createEvent(InsightsNoteUpdated, { ...args(id, 4), origin: 'legacy', data: noteState(id, 4, { title: 'echo' }) });
    await serviceWrites(newer, echo);
    await waitFor('the echo', applied(echo.envelope.id));
    expect((await c.query('SELECT title, version FROM legacy.notes WHERE id = $1', [id])).rows).toEqual([{ title: 'settled by the service', version: 3 }]);
    expect((await c.query(`SELECT event_id, outcome FROM legacy.inbox WHERE consumer = 'legacy-reverse-sync' AND event_id IN ($1, $2) ORDER BY aggregate_version`, [newer.envelope.id, echo.envelope.id])).rows).toEqual([
      { event_id: newer.envelope.id, outcome: 'applied' },
      { event_id: echo.envelope.id, outcome: 'own-origin' },
    ]);
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.sync_conflicts WHERE aggregate_id = $1', [id])).rows[0].n).toBe(1);
  });
});
