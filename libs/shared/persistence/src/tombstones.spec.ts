import { Pool } from 'pg';
import { specDatabase } from './spec-support';
import { featureTitles, tombstones } from './tombstones';

const WS = '00000000-0000-4000-a000-000000000001';
const OTHER_WS = '00000000-0000-4000-a000-000000000002';

describe('tombstones (real Postgres): a deletion forward sync applied is not undone by an older state', () => {
  let db: Awaited<ReturnType<typeof specDatabase>>;
  let pool: Pool;
  const t = tombstones<'workspace' | 'note' | 'link'>('side');

  beforeAll(async () => {
    db = await specDatabase('persistence_tombstones');
    pool = new Pool({ connectionString: db.url, max: 2 });
    await pool.query(`CREATE SCHEMA side;
      CREATE TABLE side.tombstones (aggregate_type text NOT NULL, aggregate_id text NOT NULL, workspace_id uuid NOT NULL,
        aggregate_version integer NOT NULL, deleted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (aggregate_type, aggregate_id));
      CREATE TABLE side.feature_titles (feature_id uuid PRIMARY KEY, workspace_id uuid NOT NULL, title text NOT NULL, status text NOT NULL, aggregate_version integer NOT NULL)`);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('buries an aggregate at its version: that version and older ones are buried, newer ones not', async () => {
    expect(await t.buried(pool, WS, [['note', 'n1']], 1)).toBe(false);
    await t.bury(pool, 'note', 'n1', WS, 3);
    expect(await t.buried(pool, WS, [['note', 'n1']], 2)).toBe(true);
    expect(await t.buried(pool, WS, [['note', 'n1']], 3)).toBe(true);
    expect(await t.buried(pool, WS, [['note', 'n1']], 4)).toBe(false);
    expect(await t.buried(pool, WS, [['link', 'n1']], 1)).toBe(false);
    expect(await t.buried(pool, WS, [['link', 'x'], ['note', 'n1']], 1)).toBe(true);
  });

  it('only ever moves a tombstone to a later version', async () => {
    await t.bury(pool, 'note', 'n2', WS, 5);
    await t.bury(pool, 'note', 'n2', WS, 2);
    const { rows } = await pool.query(`SELECT aggregate_version FROM side.tombstones WHERE aggregate_type = 'note' AND aggregate_id = 'n2'`);
    expect(rows).toEqual([{ aggregate_version: 5 }]);
    await t.bury(pool, 'note', 'n2', WS, 7);
    expect(await t.buried(pool, WS, [['note', 'n2']], 6)).toBe(true);
  });

  it("buries everything of a deleted workspace, at any version, and nothing of another workspace", async () => {
    await t.bury(pool, 'workspace', OTHER_WS, OTHER_WS, 1);
    expect(await t.buried(pool, OTHER_WS, [], 100)).toBe(true);
    expect(await t.buried(pool, OTHER_WS, [['note', 'fresh']], 100)).toBe(true);
    expect(await t.buried(pool, WS, [['note', 'fresh']], 100)).toBe(false);
  });

  it("keeps the monolith's feature titles version-guarded; a deletion is not undone by an older state", async () => {
    const titles = featureTitles('side');
    const f = { id: '00000000-0000-4000-a000-0000000000f1', workspaceId: WS, title: 'Export', status: 'new' };
    const held = async () => (await pool.query(`SELECT title, status, aggregate_version FROM side.feature_titles WHERE feature_id = $1`, [f.id])).rows;
    expect(await titles.applyState(pool, f, 2)).toBe('applied');
    expect(await titles.applyState(pool, { ...f, title: 'Older' }, 1)).toBe('stale');
    expect(await titles.applyState(pool, { ...f, status: 'planned' }, 2)).toBe('applied');
    expect(await held()).toEqual([{ title: 'Export', status: 'planned', aggregate_version: 2 }]);
    expect(await titles.applyDeleted(pool, f, 3)).toBe('applied');
    expect(await held()).toEqual([]);
    expect(await titles.applyState(pool, f, 2)).toBe('stale');
    expect(await held()).toEqual([]);
  });

  it('refuses a schema that is no plain identifier', () => {
    expect(() => tombstones('side; DROP')).toThrow(/Invalid schema/);
  });
});
