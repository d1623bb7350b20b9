/**
 * The pieces a context's backfill merges are written with, run against a service's tables and
 * tombstones: what the guards let through and hold back, and a merge that never goes back in time.
 */
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { stagingColumn, tombstoneGuards, versionGuardedUpsert } from '../src';

describe('backfill SQL: tombstone guards and version-guarded merges', () => {
  let db: TestDatabase;
  let c: Client;

  beforeAll(async () => {
    db = await createTestDatabase('carving_backfill_sql');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(`CREATE SCHEMA svc;
      CREATE TABLE svc.tombstones (aggregate_type text NOT NULL, aggregate_id text NOT NULL, aggregate_version bigint NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id));
      INSERT INTO svc.tombstones VALUES ('workspace', '00000000-0000-0000-0000-00000000000a', 3), ('note', 'n1', 5);
      CREATE TABLE svc.items (id text PRIMARY KEY, title text NOT NULL, created text, aggregate_version integer NOT NULL, synced_at timestamptz);
      CREATE TABLE svc.staged (id text, title text, created text, version integer)`);
  });

  afterAll(async () => {
    await c?.end();
    await db?.drop();
  });

  const holds = async (condition: string) => (await c.query<{ ok: boolean }>(`SELECT (${condition}) AS ok`)).rows[0]?.ok;

  it('lets a workspace through unless it has a tombstone', async () => {
    const { workspaceAlive } = tombstoneGuards('svc');
    expect(await holds(workspaceAlive(`'00000000-0000-0000-0000-00000000000a'::uuid`))).toBe(false);
    expect(await holds(workspaceAlive(`'00000000-0000-0000-0000-00000000000b'::uuid`))).toBe(true);
  });

  it('holds back a version at or below the tombstone of that aggregate, not a later one or another type', async () => {
    const { notBuried } = tombstoneGuards('svc');
    expect(await holds(notBuried('note', `'n1'`, '4'))).toBe(false);
    expect(await holds(notBuried('note', `'n1'`, '5'))).toBe(false);
    expect(await holds(notBuried('note', `'n1'`, '6'))).toBe(true);
    expect(await holds(notBuried('release', `'n1'`, '4'))).toBe(true);
  });

  it('refuses a schema that is not a plain identifier, and names a staging column as given', () => {
    expect(() => tombstoneGuards('svc; DROP TABLE x')).toThrow('schema must be a plain lower-case identifier');
    expect(stagingColumn('title', 'text', 'f.title')).toEqual({ name: 'title', type: 'text', expr: 'f.title' });
  });

  it('merges staged rows only over older versions, writes only the columns it updates, and lets a tombstone win', async () => {
    const { notBuried, deleteBuried } = tombstoneGuards('svc');
    await c.query(`INSERT INTO svc.items VALUES ('old', 'stored', 'c0', 1, NULL), ('new', 'stored', 'c0', 9, NULL), ('n1', 'stored', 'c0', 6, NULL);
      INSERT INTO svc.staged VALUES ('old', 'staged', 'c1', 2), ('new', 'staged', 'c1', 3), ('fresh', 'staged', 'c1', 1), ('buried', 'staged', 'c1', 1), ('n1', 'staged', 'c1', 7);
      INSERT INTO svc.tombstones VALUES ('note', 'buried', 1)`);
    const sql = versionGuardedUpsert('svc.staged', {
      into: 'svc.items',
      columns: { id: 's.id', title: 's.title', created: 's.created', aggregate_version: 's.version' },
      conflict: ['id'],
      update: ['title'],
      where: [notBuried('note', 's.id', 's.version')],
      alsoSet: ['synced_at = now()'],
    });
    const merged = await c.query(sql);
    expect(merged.rowCount).toBe(3);
    await c.query(`UPDATE svc.tombstones SET aggregate_version = 8 WHERE aggregate_id = 'n1'`);
    await c.query(deleteBuried('svc.staged', 'svc.items', 'note'));
    const { rows } = await c.query('SELECT id, title, created, aggregate_version AS v, synced_at IS NOT NULL AS synced FROM svc.items ORDER BY id');
    expect(rows).toEqual([
      { id: 'fresh', title: 'staged', created: 'c1', v: 1, synced: false },
      { id: 'new', title: 'stored', created: 'c0', v: 9, synced: false },
      { id: 'old', title: 'staged', created: 'c0', v: 2, synced: true },
    ]);
    expect(() => versionGuardedUpsert('svc.staged', { into: 'svc.items', columns: { id: 's.id' }, conflict: ['id'], update: [] })).toThrow('needs an aggregate_version column');
  });
});
