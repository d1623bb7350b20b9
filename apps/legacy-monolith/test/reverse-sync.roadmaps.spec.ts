/**
 * Reverse sync of Roadmaps, on a real database and the Postgres transport: the monolith (built
 * in-process with CARVE_REVERSE_SYNC=true) consumes what the roadmaps service writes to
 * `roadmaps.outbox` (here: appended by the test, shipped by a real relay) and applies it to its
 * legacy tables: releases with their plans, updates in version order, deletions; its own events
 * keep the service's origin, so nothing echoes.
 */
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ROADMAPS_ORIGIN, RoadmapsReleaseCreated, RoadmapsReleaseDeleted, RoadmapsReleaseUpdated } from '@carve/roadmaps-events';
import { appendToOutbox, createEvent, createPostgresTransport, type OutboxEvent, outboxMigrationSql, type PostgresTransport, type RelayHandle, startRelay } from '@carve/shared-messaging';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createApp } from '../src/app';
import { loadMonolithConfig } from '../src/config';
import { ReleasesService } from '../src/releases/releases.service';
import { waitFor } from './events-support';

describe('reverse sync of roadmaps (service events applied to the legacy tables)', () => {
  let db: TestDatabase;
  let app: NestFastifyApplication;
  let ds: DataSource;
  let c: Client;
  let transport: PostgresTransport;
  let relay: RelayHandle;
  const ws = randomUUID();
  let features: string[];

  beforeAll(async () => {
    db = await createTestDatabase('legacy_reverse_roadmaps');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(outboxMigrationSql('roadmaps')); // what the roadmaps service's migrations create
    app = await createApp(loadMonolithConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'silent', CARVE_REVERSE_SYNC: 'true', CARVE_TRANSPORT: 'postgres' }));
    await app.getHttpAdapter().getInstance().ready();
    ds = app.get(DataSource);
    await ds.query('INSERT INTO legacy.workspaces (id, name, slug) VALUES ($1, $2, $3)', [ws, 'Reverse', `reverse-${ws.slice(0, 8)}`]);
    features = (await ds.query(`INSERT INTO legacy.features (workspace_id, title) VALUES ($1, 'A'), ($1, 'B'), ($1, 'C') RETURNING id`, [ws])).map((r: any) => r.id);
    transport = createPostgresTransport({ databaseUrl: db.url });
    relay = await startRelay({ databaseUrl: db.url, schema: 'roadmaps', transport, pollIntervalMs: 100 });
  });

  afterAll(async () => {
    await relay?.stop();
    await transport?.close();
    await app?.close();
    await c?.end();
    await db?.drop();
  });

  const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();
  const state = (id: string, v: number, featureIds: string[], extra: Record<string, unknown> = {}) => ({
    id, workspaceId: ws, name: `release v${v}`, description: '', startsOn: '2025-04-01', endsOn: '2025-06-30', state: 'planned' as const, featureIds, createdAt: at(0), updatedAt: at(v), ...extra,
  });
  const args = (id: string, version: number) => ({ tenantId: ws, aggregateId: id, aggregateVersion: version, origin: ROADMAPS_ORIGIN });
  const serviceWrites = async (...events: OutboxEvent[]) => {
    await c.query('BEGIN');
    await appendToOutbox(c, 'roadmaps', events);
    await c.query('COMMIT');
  };
  const applied = (eventId: string) => async () => (await c.query(`SELECT 1 FROM legacy.inbox WHERE consumer = 'legacy-reverse-sync' AND event_id = $1`, [eventId])).rowCount === 1;
  const plan = async (id: string) => (await c.query('SELECT feature_id, created_at FROM legacy.release_features WHERE release_id = $1 ORDER BY created_at, feature_id', [id])).rows.map((r) => [r.feature_id, r.created_at.toISOString()]);

  it('applies a release with its plan, then re-plans it keeping what stays', async () => {
    const id = randomUUID();
    const created = createEvent(RoadmapsReleaseCreated, { ...args(id, 1), data: state(id, 1, [features[0], features[1]]) });
    await serviceWrites(created);
    await waitFor('the release', applied(created.envelope.id));
    const [row] = (await c.query(`SELECT name, to_char(starts_on, 'YYYY-MM-DD') AS starts_on, version FROM legacy.releases WHERE id = $1`, [id])).rows;
    expect(row).toEqual({ name: 'release v1', starts_on: '2025-04-01', version: 1 });
    expect(await plan(id)).toEqual([[features[0], at(1)], [features[1], at(1)]].sort((x, y) => x[0].localeCompare(y[0])));

    const replanned = createEvent(RoadmapsReleaseUpdated, { ...args(id, 2), data: state(id, 2, [features[0], features[1], features[2]].filter((f) => f !== features[1])) });
    const older = createEvent(RoadmapsReleaseUpdated, { ...args(id, 1), data: state(id, 1, [], { name: 'stale' }) });
    await serviceWrites(replanned, older);
    await waitFor('v2', applied(older.envelope.id));
    expect((await c.query('SELECT name, version FROM legacy.releases WHERE id = $1', [id])).rows[0]).toEqual({ name: 'release v2', version: 2 });
    expect(await plan(id)).toEqual([[features[0], at(1)], [features[2], at(2)]]);

    // The monolith's own events say so, with the service's origin: nothing echoes.
    const out = (await c.query(`SELECT envelope FROM legacy.outbox WHERE envelope->>'aggregateId' = $1 ORDER BY seq`, [id])).rows.map((r) => r.envelope);
    expect(out.map((e) => [e.type, e.origin, e.aggregateVersion, e.data.featureIds.length])).toEqual([
      ['release.created', 'roadmaps-service', 1, 2],
      ['release.updated', 'roadmaps-service', 2, 2],
    ]);
  });

  it('leaves out a feature the monolith deleted meanwhile, and deletes', async () => {
    const id = randomUUID();
    const [{ id: doomed }] = await ds.query(`INSERT INTO legacy.features (workspace_id, title) VALUES ($1, 'Doomed') RETURNING id`, [ws]);
    await ds.query('DELETE FROM legacy.features WHERE id = $1', [doomed]);
    const created = createEvent(RoadmapsReleaseCreated, { ...args(id, 1), data: state(id, 1, [features[0], doomed]) });
    await serviceWrites(created);
    await waitFor('the release', applied(created.envelope.id));
    expect((await plan(id)).map(([f]) => f)).toEqual([features[0]]);

    const del = createEvent(RoadmapsReleaseDeleted, { ...args(id, 2), data: { id, workspaceId: ws } });
    await serviceWrites(del);
    await waitFor('the delete', applied(del.envelope.id));
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.releases WHERE id = $1', [id])).rows[0].n).toBe(0);
    expect((await c.query('SELECT count(*)::int AS n FROM legacy.release_features WHERE release_id = $1', [id])).rows[0].n).toBe(0);
    const [last] = (await c.query(`SELECT envelope FROM legacy.outbox WHERE envelope->>'aggregateId' = $1 ORDER BY seq DESC LIMIT 1`, [id])).rows;
    expect(last.envelope).toMatchObject({ type: 'release.deleted', origin: 'roadmaps-service', aggregateVersion: 2 });
  });

  it('the same PATCH accepted by the monolith and the service at one version: a conflict with both payloads, the monolith keeps its write; a newer event still applies', async () => {
    const id = randomUUID();
    const created = createEvent(RoadmapsReleaseCreated, { ...args(id, 1), data: state(id, 1, [features[0]]) });
    await serviceWrites(created);
    await waitFor('the release', applied(created.envelope.id));
    const mine = await app.get(ReleasesService).update(ws, id, { name: 'the same PATCH' });
    expect(mine.release.version).toBe(2);
    const theirs = createEvent(RoadmapsReleaseUpdated, { ...args(id, 2), data: state(id, 2, [features[0]], { name: 'the same PATCH' }) });
    await serviceWrites(theirs);
    await waitFor('the conflict', applied(theirs.envelope.id));
    const [conflict] = (await c.query('SELECT * FROM legacy.sync_conflicts WHERE event_id = $1', [theirs.envelope.id])).rows;
    expect(conflict).toMatchObject({
      consumer: 'legacy-reverse-sync', context: 'roadmaps', topic: 'roadmaps.releases.v1', aggregate_type: 'release', aggregate_id: id, aggregate_version: '2',
      event_origin: 'roadmaps-service', local_origin: 'legacy',
    });
    expect(conflict.event_payload).toMatchObject({ data: { name: 'the same PATCH', updatedAt: at(2) } });
    expect(conflict.local_payload).toMatchObject({ id, name: 'the same PATCH', version: 2, featureIds: [features[0]] });
    expect((await c.query(`SELECT outcome FROM legacy.inbox WHERE consumer = 'legacy-reverse-sync' AND event_id = $1`, [theirs.envelope.id])).rows).toEqual([{ outcome: 'conflict' }]);
    expect((await c.query('SELECT updated_at FROM legacy.releases WHERE id = $1', [id])).rows[0].updated_at.toISOString()).toBe(new Date(mine.release.updatedAt).toISOString());

    const newer = createEvent(RoadmapsReleaseUpdated, { ...args(id, 3), data: state(id, 3, [features[0]], { name: 'settled by the service' }) });
    await serviceWrites(newer);
    await waitFor('v3', applied(newer.envelope.id));
    expect((await c.query('SELECT name, version FROM legacy.releases WHERE id = $1', [id])).rows[0]).toEqual({ name: 'settled by the service', version: 3 });
  });
});
