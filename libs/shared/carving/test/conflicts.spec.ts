/**
 * `status` shows the open sync conflicts of both sides (real Postgres): those the service's
 * forward sync kept in its schema and those the monolith's reverse sync kept in its own; a
 * side whose conflicts table is not there yet is reported, not fatal.
 */
import { syncConflictsSqlV1, outboxMigrationSql } from '@carve/shared-messaging';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { Carving } from '../src';
import { widgets } from './support/widgets';

describe('status: sync conflicts', () => {
  let db: TestDatabase;
  let carving: Carving;
  let c: Client;

  beforeAll(async () => {
    db = await createTestDatabase('carving_conflicts');
    carving = await Carving.connect({ url: db.url, actor: 'alice', transport: 'postgres' });
    c = new Client({ connectionString: db.url });
    await c.connect();
  });

  afterAll(async () => {
    await c?.end();
    await carving?.close();
    await db?.drop();
  });

  const conflict = (schema: string, consumer: string, aggregateId: string, version: number, resolved = false) =>
    c.query(
      `INSERT INTO ${schema}.sync_conflicts (consumer, context, event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version, event_origin, local_origin, event_payload, local_payload, resolved_at)
       VALUES ($1, 'widgets', gen_random_uuid(), 't.widgets.v1', 'widget.updated', 'widget', $2, $3, 'other', 'this', '{"data":{}}', '{"name":"mine"}', $4)`,
      [consumer, aggregateId, version, resolved ? new Date() : null],
    );

  it('counts the open conflicts of each side, oldest first, and says when a side cannot be read', async () => {
    const fwd = widgets.forwardSync.inboxSchema;
    const rev = widgets.reverseSync.inboxSchema;
    let st = await carving.status(widgets);
    expect(st.conflicts.forward).toMatchObject({ schema: fwd, open: 0, error: expect.stringContaining('does not exist') });

    for (const s of [fwd, rev]) {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await c.query(outboxMigrationSql(s, { createSchema: false }) + syncConflictsSqlV1(s, `${s}-side`));
    }
    await conflict(fwd, widgets.forwardSync.group, 'w-1', 3);
    await conflict(fwd, widgets.forwardSync.group, 'w-2', 7);
    await conflict(fwd, widgets.forwardSync.group, 'w-3', 1, true); // resolved: not shown
    await conflict(rev, widgets.reverseSync.group, 'w-1', 3);
    st = await carving.status(widgets);
    expect(st.conflicts.forward).toMatchObject({ schema: fwd, open: 2 });
    expect(st.conflicts.forward!.error).toBeUndefined();
    expect(st.conflicts.forward!.oldest.map((x) => [x.aggregateId, x.aggregateVersion, x.consumer])).toEqual([
      ['w-1', 3, widgets.forwardSync.group],
      ['w-2', 7, widgets.forwardSync.group],
    ]);
    expect(st.conflicts.reverse).toMatchObject({ schema: rev, open: 1, oldest: [{ aggregateId: 'w-1', eventOrigin: 'other', localOrigin: 'this' }] });
    expect((await carving.status('not-registered')).conflicts).toEqual({ forward: null, reverse: null });
  });
});
