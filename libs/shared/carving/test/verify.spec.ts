import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { lastVerify, runBackfill, runVerify } from '../src';
import { createWidgetSchemas, seedWidgets, TENANTS, widgets } from './support/widgets';

describe('verify (real Postgres)', () => {
  let db: TestDatabase;
  let c: Client;

  beforeAll(async () => {
    db = await createTestDatabase('carving_verify');
    c = new Client({ connectionString: db.url });
    await c.connect();
    await createWidgetSchemas(c);
    await seedWidgets(c, 1200);
    await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url });
  });

  afterAll(async () => {
    await c?.end();
    await db?.drop();
  });

  const verify = (extra: Partial<Parameters<typeof runVerify>[0]> = {}) =>
    runVerify({ context: widgets, monolithUrl: db.url, serviceUrl: db.url, recheck: { rounds: 1, delayMs: 50 }, actor: 'tester', ...extra });

  it('finds no drift after a backfill, and records the run', async () => {
    const phases: string[] = [];
    const r = await verify({ onProgress: (p) => phases.push(`${p.phase}:${p.workspacesDone}/${p.workspaces}`) });
    expect(r).toMatchObject({ context: 'widgets', ok: true, workspaces: 3, driftedWorkspaces: 0 });
    expect(r.projections[0]).toMatchObject({ name: 'widgets', monolithRows: 1200, serviceRows: 1200, drifted: [] });
    expect(phases.at(-1)).toBe('checksum:3/3');
    const stored = await lastVerify(c, 'widgets');
    expect(stored).toMatchObject({ id: r.runId, ok: true, workspaces: 3, drifted: 0, actor: 'tester', scope: null });
  });

  it('names the ids of a corrupted row, a missing one and an extra one, in their workspace only', async () => {
    const ids = (await c.query('SELECT id, tenant FROM mono.widgets WHERE tenant = $1 ORDER BY id LIMIT 2', [TENANTS[1]])).rows;
    const [corrupted, missing] = ids.map((r) => r.id as string);
    const extra = '99999999-9999-4999-8999-999999999999';
    await c.query(`UPDATE svc.widgets SET label = 'CORRUPTED' WHERE id = $1`, [corrupted]);
    await c.query('DELETE FROM svc.widgets WHERE id = $1', [missing]);
    await c.query(`INSERT INTO svc.widgets VALUES ($1, $2, 'GHOST', '#000', 1)`, [extra, TENANTS[1]]);
    try {
      const r = await verify();
      expect(r.ok).toBe(false);
      expect(r.driftedWorkspaces).toBe(1);
      const [d] = r.projections[0].drifted;
      expect(d).toMatchObject({ workspaceId: TENANTS[1], different: [corrupted], missing: [missing], extra: [extra], counts: { missing: 1, extra: 1, different: 1 } });
      expect(d.monolith.count).toBe(400);
      expect(d.service.count).toBe(400);
      expect(d.monolith.checksum).not.toBe(d.service.checksum);
      expect((await lastVerify(c, 'widgets'))).toMatchObject({ ok: false, drifted: 1 });

      const scoped = await verify({ workspaces: [TENANTS[0]] });
      expect(scoped).toMatchObject({ ok: true, workspaces: 1, scope: [TENANTS[0]] });
      expect(await lastVerify(c, 'widgets', { wholeContext: true })).toMatchObject({ ok: false });
    } finally {
      await c.query(`UPDATE svc.widgets s SET label = upper(m.name) FROM mono.widgets m WHERE m.id = s.id AND s.id = $1`, [corrupted]);
      await c.query(`DELETE FROM svc.widgets WHERE id = $1`, [extra]);
      await runBackfill({ context: widgets, sourceUrl: db.url, targetUrl: db.url, restart: true });
    }
    expect((await verify()).ok).toBe(true);
  });

  it('does not call a change in flight drift: it settles on a recheck', async () => {
    const id = (await c.query('SELECT id FROM mono.widgets ORDER BY id LIMIT 1')).rows[0].id;
    await c.query(`UPDATE mono.widgets SET name = 'renamed', version = version + 1 WHERE id = $1`, [id]);
    // "forward sync" applies it a moment later
    const applied = new Promise<void>((resolve) =>
      setTimeout(() => void c.query(`UPDATE svc.widgets SET label = 'RENAMED', aggregate_version = aggregate_version + 1 WHERE id = $1`, [id]).then(() => resolve()), 150),
    );
    const r = await verify({ recheck: { rounds: 3, delayMs: 200 } });
    await applied;
    expect(r.ok).toBe(true);
    expect(r.projections[0].settled).toBe(1);
  });
});
