/**
 * The tombstone guards a context's backfill merges are written with, run against a service's
 * tombstones: what they let through and what they hold back.
 */
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { stagingColumn, tombstoneGuards } from '../src';

describe('backfill SQL: tombstone guards', () => {
  let db: TestDatabase;
  let c: Client;

  beforeAll(async () => {
    db = await createTestDatabase('carving_backfill_sql');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(`CREATE SCHEMA svc;
      CREATE TABLE svc.tombstones (aggregate_type text NOT NULL, aggregate_id text NOT NULL, aggregate_version bigint NOT NULL, PRIMARY KEY (aggregate_type, aggregate_id));
      INSERT INTO svc.tombstones VALUES ('workspace', '00000000-0000-0000-0000-00000000000a', 3), ('note', 'n1', 5)`);
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
});
