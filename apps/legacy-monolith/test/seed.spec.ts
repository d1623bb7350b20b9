import { DEMO_IDS } from '@carve/legacy-domain';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createDataSource } from '@carve/shared-persistence';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import type { DataSource } from 'typeorm';
import { legacyDataSourceSpec, migrateLegacy } from '../src/database/legacy-data-source';
import { seedBulk, type SeedProgress, seedDemo } from '../src/seed';
import { collectAll, type Harness, startHarness } from './support';

describe('seeding', () => {
  let db: TestDatabase;
  let ds: DataSource;
  beforeAll(async () => {
    db = await createTestDatabase('legacy_seed');
    await migrateLegacy(db.url);
    ds = createDataSource(legacyDataSourceSpec(db.url));
    await ds.initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const count = async (table: string, where = 'true', params: unknown[] = []) =>
    (await ds.query(`SELECT count(*)::int AS n FROM legacy.${table} WHERE ${where}`, params))[0].n as number;

  it('seedDemo fills every table with deterministic ids, and a second run inserts nothing', async () => {
    const first = await seedDemo(ds);
    for (const [table, n] of Object.entries(first.inserted)) expect({ table, some: n > 0 }).toEqual({ table, some: true });
    expect(first.workspaces[0]).toMatchObject({ id: DEMO_IDS.workspaceId, slug: 'acme', admin: DEMO_IDS.adminId, maker: DEMO_IDS.makerId, viewer: DEMO_IDS.viewerId });
    const [{ role }] = await ds.query('SELECT role FROM legacy.members WHERE id = $1', [DEMO_IDS.viewerId]);
    expect(role).toBe('viewer');
    const second = await seedDemo(ds);
    expect(Object.values(second.inserted).every((n) => n === 0)).toBe(true);
    expect(second.workspaces.map((w) => w.id)).toEqual(first.workspaces.map((w) => w.id));
    expect(await count('workspaces')).toBe(3);
  });

  it('seedBulk streams realistic, consistent rows with progress and rates', async () => {
    const progress: SeedProgress[] = [];
    const before = await count('notes');
    const result = await seedBulk({ url: db.url, workspaces: 4, notes: 6000, features: 80, releases: 8, onProgress: (p) => progress.push(p), progressIntervalMs: 0 });
    expect(result.rows).toMatchObject({ workspaces: 4, members: 24, features: 80, feature_comments: 80, notes: 6000, releases: 8 });
    expect(result.rows.note_features).toBeGreaterThan(1000);
    expect(result.totalRows).toBe(Object.values(result.rows).reduce((a, b) => a + b, 0));
    expect(result.rowsPerSecond).toBeGreaterThan(0);
    expect(await count('notes')).toBe(before + 6000);
    // Statistics are fresh once it returns (a manual ANALYZE, not autovacuum's).
    const analyzed = await ds.query(`SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'legacy' AND last_analyze IS NOT NULL AND relname = ANY($1)`, [Object.keys(result.rows)]);
    expect(analyzed.map((r: any) => r.relname).sort()).toEqual(Object.keys(result.rows).sort());
    const finals = progress.filter((p) => p.done);
    expect(finals.map((p) => p.table)).toEqual(['workspaces', 'members', 'features', 'feature_comments', 'notes', 'note_features', 'releases', 'release_features']);
    expect(finals.find((p) => p.table === 'notes')).toMatchObject({ rows: 6000, total: 6000 });
    expect(progress.some((p) => !p.done && p.table === 'notes' && p.rows < 6000 && p.rowsPerSecond > 0)).toBe(true);

    // Skewed tenants: the first workspace is the biggest; customers repeat within a workspace.
    const perWs = await ds.query('SELECT workspace_id, count(*)::int AS n FROM legacy.notes WHERE workspace_id = ANY($1) GROUP BY 1', [result.workspaceIds]);
    const byId = new Map<string, number>(perWs.map((r: any) => [r.workspace_id, r.n]));
    expect(byId.get(result.workspaceIds[0])).toBe(Math.max(...byId.values()));
    const [{ repeats }] = await ds.query(
      'SELECT count(*)::int AS repeats FROM (SELECT customer_email FROM legacy.notes WHERE workspace_id = $1 AND customer_email IS NOT NULL GROUP BY 1 HAVING count(*) > 1) x',
      [result.workspaceIds[0]],
    );
    expect(repeats).toBeGreaterThan(10);
    // Every role present per workspace, every link inside its own workspace (the composite FKs guarantee it).
    expect(await count('members', "workspace_id = $1 AND role = 'admin'", [result.workspaceIds[3]])).toBe(1);
  });

  it('a failing bulk seed leaves nothing behind (one transaction)', async () => {
    const before = { workspaces: await count('workspaces'), notes: await count('notes'), features: await count('features') };
    await ds.query("ALTER TABLE legacy.notes ADD CONSTRAINT test_no_slack CHECK (source <> 'slack') NOT VALID");
    try {
      await expect(seedBulk({ url: db.url, workspaces: 2, notes: 500, features: 10 })).rejects.toThrow(/test_no_slack/);
    } finally {
      await ds.query('ALTER TABLE legacy.notes DROP CONSTRAINT test_no_slack');
    }
    expect({ workspaces: await count('workspaces'), notes: await count('notes'), features: await count('features') }).toEqual(before);
  });
});

describe('demo data through the API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('legacy_demo_api');
    await seedDemo(h.ds);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists the demo notes of the first workspace with a token for its admin', async () => {
    const token = signToken({ sub: DEMO_IDS.adminId, tid: DEMO_IDS.workspaceId, role: 'admin' }, DEV_JWT_SECRET);
    const notes = await collectAll(h, `/api/v1/workspaces/${DEMO_IDS.workspaceId}/notes?limit=4`, { token });
    expect(notes.items).toHaveLength(15);
    expect(notes.items.some((n) => n.customer?.email)).toBe(true);
    const features = await h.api('GET', `/api/v1/workspaces/${DEMO_IDS.workspaceId}/features`, { token });
    expect(features.body.items).toHaveLength(8);
    const releases = await h.api('GET', `/api/v1/workspaces/${DEMO_IDS.workspaceId}/releases`, { token });
    expect(releases.body.items.map((r: any) => r.state)).toEqual(['released', 'in-progress', 'planned']);
  });
});
