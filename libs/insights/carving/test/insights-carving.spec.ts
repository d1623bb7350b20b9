/**
 * The Insights descriptor against the real schemas: the monolith's bulk seed, the insights
 * migrations, forward sync simulated with the service's own version-guarded apply functions
 * (@carve/insights-data-access, what its consumer runs), and the CLI as a process.
 */
import { applyLegacyEvent } from '@carve/insights-data-access';
import { readCheckpoints, runBackfill, runVerify } from '@carve/shared-carving';
import { carve, createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { insightsCarving } from '../src';
import { seedLegacyAndInsights } from './support/legacy';

const noteState = (r: any) => ({
  id: r.id, workspaceId: r.workspace_id, title: r.title, content: r.content, source: r.source,
  customerEmail: r.customer_email, customerName: r.customer_name, customerCompany: r.customer_company,
  tags: r.tags, state: r.state, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(),
});

describe('insights carving on the real schemas', () => {
  let db: TestDatabase;
  let c: Client;

  beforeAll(async () => {
    db = await createTestDatabase('insights_carving');
    await seedLegacyAndInsights(db.url, 3, 1500);
    c = new Client({ connectionString: db.url });
    await c.connect();
    // `c` plays forward sync (and the hand that corrupts the service's rows): it passes the write
    // fence of the service's tables as the sync appliers do.
    await c.query(`SELECT set_config('carve.sync_apply', 'on', false)`);
  });

  afterAll(async () => {
    await c?.end();
    await db?.drop();
  });

  const verify = (workspaces?: string[]) => runVerify({ context: insightsCarving, monolithUrl: db.url, serviceUrl: db.url, workspaces, recheck: { rounds: 1, delayMs: 50 } });

  it('backfills the reshaped model while forward sync applies newer changes and a deletion, and verifies without drift', async () => {
    const ids = (await c.query('SELECT id FROM legacy.notes ORDER BY id')).rows.map((r) => r.id as string);
    const [early, late, doomed] = [ids[5], ids[1200], ids[1300]];
    const report = await runBackfill({
      context: insightsCarving,
      sourceUrl: db.url,
      targetUrl: db.url,
      batchSize: 250,
      hooks: {
        afterBatch: async ({ source, batch }) => {
          if (source !== 'notes' || batch !== 2) return;
          // A user edits two notes in the monolith (one already copied, one not yet) and deletes a
          // third; forward sync applies the events at once.
          for (const id of [early, late]) {
            const [r] = (await c.query(`UPDATE legacy.notes SET title = 'edited during the backfill', version = version + 1, updated_at = now() WHERE id = $1 RETURNING *`, [id])).rows;
            await applyLegacyEvent(c, { type: 'note.updated', aggregateVersion: r.version, occurredAt: new Date().toISOString(), data: noteState(r) });
          }
          const [d] = (await c.query('DELETE FROM legacy.notes WHERE id = $1 RETURNING workspace_id, version', [doomed])).rows;
          await applyLegacyEvent(c, { type: 'note.deleted', aggregateVersion: d.version + 1, occurredAt: new Date().toISOString(), data: { id: doomed, workspaceId: d.workspace_id } });
        },
      },
    });
    expect(report.complete).toBe(true);
    expect(report.sources.map((s) => s.name)).toEqual(['workspaces', 'features', 'notes', 'note-features']);
    const titles = (await c.query('SELECT id, title FROM insights.notes WHERE id = ANY($1)', [[early, late, doomed]])).rows;
    expect(titles.map((r) => r.title)).toEqual(['edited during the backfill', 'edited during the backfill']);
    expect(titles.map((r) => r.id).sort()).toEqual([early, late].sort());

    const counts = (await c.query(`SELECT (SELECT count(*) FROM insights.notes)::int AS notes, (SELECT count(*) FROM legacy.notes)::int AS legacy,
       (SELECT count(*) FROM insights.customers)::int AS customers,
       (SELECT count(DISTINCT (workspace_id, lower(customer_email))) FROM legacy.notes WHERE customer_email IS NOT NULL)::int AS emails,
       (SELECT count(*) FROM insights.note_features)::int AS links, (SELECT count(*) FROM legacy.note_features)::int AS legacy_links`)).rows[0];
    expect(counts.notes).toBe(counts.legacy);
    expect(counts.customers).toBe(counts.emails); // one customer per workspace and email
    expect(counts.links).toBe(counts.legacy_links);

    const r = await verify();
    expect(r.ok).toBe(true);
    expect(r.projections.map((p) => [p.name, p.monolithRows === p.serviceRows])).toEqual([['workspaces', true], ['features', true], ['notes', true]]);
    expect((await readCheckpoints(c, 'insights')).every((cp) => cp.finishedAt !== null)).toBe(true);
  });

  it('a second backfill (--restart) writes nothing and leaves the same result', async () => {
    const before = (await c.query('SELECT count(*)::int AS n, max(updated_at) AS u FROM insights.customers')).rows[0];
    const again = await runBackfill({ context: insightsCarving, sourceUrl: db.url, targetUrl: db.url, restart: true });
    expect(again.rowsWritten).toBe(0);
    expect((await c.query('SELECT count(*)::int AS n, max(updated_at) AS u FROM insights.customers')).rows[0]).toEqual(before);
    expect((await verify()).ok).toBe(true);
  });

  it('carve verify names a corrupted and a missing note and exits non-zero', async () => {
    const [a, b] = (await c.query('SELECT id, workspace_id FROM insights.notes ORDER BY id LIMIT 2')).rows;
    await c.query(`UPDATE insights.notes SET content = content || ' (corrupted)' WHERE id = $1`, [a.id]);
    await c.query('DELETE FROM insights.notes WHERE id = $1', [b.id]);
    const run = await carve(db.url, ['verify', 'insights']);
    expect(run.code).toBe(4); // drift
    expect(run.stderr).toContain('carve: drift in');
    expect(run.stderr).toContain('next: ');
    expect(run.stdout).toContain(`different (1): ${a.id}`);
    expect(run.stdout).toContain(`missing in the service (1): ${b.id}`);
    const json = await carve(db.url, ['verify', 'insights', '--json', '--workspace', a.workspace_id]);
    expect(json.code).toBe(4);
    const result = JSON.parse(json.stdout);
    expect(result.projections.find((p: any) => p.name === 'notes').drifted[0]).toMatchObject({ workspaceId: a.workspace_id, different: [a.id] });

    const status = await carve(db.url, ['status', 'insights', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ context: 'insights', stage: { stage: 'created' }, lastVerify: { ok: false }, gateway: { reachable: false } });

    const fixed = await carve(db.url, ['backfill', 'insights', '--restart', '--source', 'notes', '--source', 'note-features']);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain('notes: 1,499 rows');
    // corrupted content is not newer by version: a re-copy leaves it (the version guard), the missing one is back
    expect((await verify()).projections.find((p) => p.name === 'notes')!.drifted[0]).toMatchObject({ different: [a.id], missing: [] });
    // the repair of a row that differs at the same version: remove it on the service side, copy again
    await c.query('DELETE FROM insights.notes WHERE id = $1', [a.id]);
    await runBackfill({ context: insightsCarving, sourceUrl: db.url, targetUrl: db.url, restart: true, sources: ['notes'] });
    expect((await verify()).ok).toBe(true);
  });

  it('verify compares content: a note that differs from the monolith in one compared field only is named as different', async () => {
    const [n] = (
      await c.query(`SELECT n.id, n.workspace_id, n.customer_id, n.source, n.state FROM insights.notes n
                      WHERE n.customer_id IS NOT NULL AND EXISTS (SELECT 1 FROM insights.note_features l WHERE l.note_id = n.id) ORDER BY n.id LIMIT 1`)
    ).rows;
    const [link] = (await c.query('SELECT feature_id, importance FROM insights.note_features WHERE note_id = $1 ORDER BY feature_id LIMIT 1', [n.id])).rows;
    const otherSource = n.source === 'email' ? 'slack' : 'email';
    const otherState = n.state === 'processed' ? 'archived' : 'processed';
    const otherImportance = link.importance === 'low' ? 'high' : 'low';
    // The customer's company is every note of that customer's.
    const ofCustomer = (await c.query('SELECT id FROM insights.notes WHERE customer_id = $1', [n.customer_id])).rows.map((r) => r.id as string);
    // One field at a time, each undone before the next.
    const fields: Array<[string, string, unknown[], string, unknown[], string[]?]> = [
      ['title', `UPDATE insights.notes SET title = title || '.' WHERE id = $1`, [n.id], `UPDATE insights.notes SET title = left(title, -1) WHERE id = $1`, [n.id]],
      ['source', `UPDATE insights.notes SET source = $2 WHERE id = $1`, [n.id, otherSource], `UPDATE insights.notes SET source = $2 WHERE id = $1`, [n.id, n.source]],
      ['state', `UPDATE insights.notes SET state = $2 WHERE id = $1`, [n.id, otherState], `UPDATE insights.notes SET state = $2 WHERE id = $1`, [n.id, n.state]],
      ['tags', `UPDATE insights.notes SET tags = tags || '{zz-extra}'::text[] WHERE id = $1`, [n.id], `UPDATE insights.notes SET tags = array_remove(tags, 'zz-extra') WHERE id = $1`, [n.id]],
      ['customer company', `UPDATE insights.customers SET company = coalesce(company, '') || '.' WHERE id = $1`, [n.customer_id], `UPDATE insights.customers SET company = nullif(left(company, -1), '') WHERE id = $1`, [n.customer_id], ofCustomer],
      ['link importance', `UPDATE insights.note_features SET importance = $3 WHERE note_id = $1 AND feature_id = $2`, [n.id, link.feature_id, otherImportance], `UPDATE insights.note_features SET importance = $3 WHERE note_id = $1 AND feature_id = $2`, [n.id, link.feature_id, link.importance]],
    ];
    const notesDrift = async () => {
      const d = (await verify([n.workspace_id])).projections.find((p) => p.name === 'notes')!.drifted[0];
      return { different: d?.different ?? [], missing: d?.counts.missing ?? 0, extra: d?.counts.extra ?? 0 };
    };
    const before = await notesDrift();
    expect(before.different).not.toContain(n.id);
    for (const [field, change, params, undo, undoParams, affected = [n.id]] of fields) {
      await c.query(change, params);
      try {
        const after = await notesDrift();
        expect({ field, ...after }).toEqual({ field, different: [...new Set([...before.different, ...affected])].sort(), missing: before.missing, extra: before.extra });
      } finally {
        await c.query(undo, undoParams);
      }
    }
    expect(await notesDrift()).toEqual(before);
  });
});
