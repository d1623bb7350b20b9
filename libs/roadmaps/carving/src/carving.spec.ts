/**
 * The roadmaps descriptor on the real schemas: the monolith's schema and bulk data from its own
 * seed process (as `carve seed` runs it; nothing of the monolith is imported), schema `roadmaps`
 * from its migrations, forward sync simulated with the service's own version-guarded apply
 * functions (what its consumer runs). The generic backfill copies releases with their plans while
 * "forward sync" applies a newer plan and a deletion; verify finds no drift, and a corrupted plan
 * shows up by its release's id.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { applyLegacyEvent, migrateRoadmaps } from '@carve/roadmaps-data-access';
import { descriptorProblems, findCarvableContext, readCheckpoints, runBackfill, runVerify } from '@carve/shared-carving';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { parse } from 'yaml';
import { roadmapsCarving } from './index';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

function seedMonolith(url: string): Promise<void> {
  const args = ['-r', path.join(ROOT, 'tools/scripts/register-ts.js'), path.join(ROOT, 'apps/legacy-monolith/src/seed/main.ts'), '--workspaces', '3', '--notes', '60', '--releases', '300', '--seed', '7'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`the monolith's seed failed (${code}): ${stderr}`));
    });
  });
}

/** A release row of the monolith as its event's data (ReleaseState), plan included. */
async function releaseState(c: Client, id: string): Promise<any> {
  const [r] = (await c.query('SELECT * FROM legacy.releases WHERE id = $1', [id])).rows;
  const plan = (await c.query('SELECT feature_id FROM legacy.release_features WHERE release_id = $1 ORDER BY created_at, feature_id', [id])).rows.map((p) => p.feature_id);
  const day = (d: Date | string) => (typeof d === 'string' ? d : `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`);
  return {
    id: r.id, workspaceId: r.workspace_id, name: r.name, description: r.description, startsOn: day(r.starts_on), endsOn: day(r.ends_on), state: r.state,
    featureIds: plan, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(), version: r.version,
  };
}

describe('roadmaps carving', () => {
  it('is a valid descriptor, registered, whose routes and topics exist', () => {
    expect(descriptorProblems(roadmapsCarving)).toEqual([]);
    expect(findCarvableContext('roadmaps')).toBe(roadmapsCarving);
    const routes = parse(fs.readFileSync(path.join(ROOT, 'apps/gateway/routes/dev.yaml'), 'utf8')).routes as Array<{ id: string; target: string }>;
    for (const r of roadmapsCarving.routes) expect(routes.find((x) => x.id === r.id)?.target).toBe('roadmaps');
    const topics = (parse(fs.readFileSync(path.join(ROOT, 'libs/shared/messaging/topics.yaml'), 'utf8')).topics as Array<{ name: string }>).map((t) => t.name);
    for (const t of [...roadmapsCarving.forwardSync.topics, ...roadmapsCarving.reverseSync.topics]) expect(topics).toContain(t);
  });

  describe('on the real schemas', () => {
    let db: TestDatabase;
    let c: Client;

    beforeAll(async () => {
      db = await createTestDatabase('roadmaps_carving');
      await seedMonolith(db.url);
      await migrateRoadmaps(db.url);
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

    const verify = () => runVerify({ context: roadmapsCarving, monolithUrl: db.url, serviceUrl: db.url, recheck: { rounds: 1, delayMs: 20 } });
    const count = async (sql: string) => (await c.query(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0].n as number;

    it('backfills releases with their plans while forward sync applies a newer plan and a deletion, and verifies without drift', async () => {
      const ids = (await c.query('SELECT id FROM legacy.releases ORDER BY id')).rows.map((r) => r.id as string);
      expect(ids.length).toBe(300);
      const [early, late, doomed] = [ids[3], ids[250], ids[260]];
      const report = await runBackfill({
        context: roadmapsCarving,
        sourceUrl: db.url,
        targetUrl: db.url,
        batchSize: 50,
        hooks: {
          afterBatch: async ({ source, batch }) => {
            if (source !== 'releases' || batch !== 2) return;
            // A user plans one more feature in two releases in the monolith (one already copied, one not yet) and
            // deletes a third; forward sync applies the events at once.
            for (const id of [early, late]) {
              // One transaction, as the monolith plans: the plan's createdAt is the release's updatedAt.
              await c.query('BEGIN');
              const [{ workspace_id: ws }] = (await c.query('SELECT workspace_id FROM legacy.releases WHERE id = $1', [id])).rows;
              await c.query(
                `INSERT INTO legacy.release_features (release_id, feature_id, workspace_id)
                 SELECT $1, f.id, f.workspace_id FROM legacy.features f
                  WHERE f.workspace_id = $2 AND f.id NOT IN (SELECT feature_id FROM legacy.release_features WHERE release_id = $1) ORDER BY f.id LIMIT 1`,
                [id, ws],
              );
              await c.query(`UPDATE legacy.releases SET name = 'replanned during the backfill', version = version + 1, updated_at = now() WHERE id = $1`, [id]);
              await c.query('COMMIT');
              const state = await releaseState(c, id);
              await applyLegacyEvent(c, { type: 'release.updated', aggregateVersion: state.version, data: state });
            }
            const [d] = (await c.query('DELETE FROM legacy.releases WHERE id = $1 RETURNING workspace_id, version', [doomed])).rows;
            await applyLegacyEvent(c, { type: 'release.deleted', aggregateVersion: d.version + 1, data: { id: doomed, workspaceId: d.workspace_id } });
          },
        },
      });
      expect(report.complete).toBe(true);
      expect(report.sources.map((s) => s.name)).toEqual(['workspaces', 'features', 'releases']);
      expect((await c.query(`SELECT name FROM roadmaps.releases WHERE id = ANY($1) ORDER BY name`, [[early, late, doomed]])).rows.map((r) => r.name)).toEqual([
        'replanned during the backfill',
        'replanned during the backfill',
      ]);
      expect(await count('roadmaps.releases')).toBe(await count('legacy.releases'));
      expect(await count('roadmaps.release_features')).toBe(await count('legacy.release_features'));
      expect(await count('roadmaps.feature_titles')).toBe(await count('legacy.features'));
      expect(await count('legacy.release_features')).toBeGreaterThan(0);

      const clean = await verify();
      expect(clean.ok).toBe(true);
      expect(clean.projections.map((p) => [p.name, p.monolithRows === p.serviceRows])).toEqual([['releases', true], ['features', true]]);
      expect((await readCheckpoints(c, 'roadmaps')).every((cp) => cp.finishedAt !== null)).toBe(true);
    });

    it('a second backfill (--restart) changes nothing', async () => {
      const before = (await c.query(`SELECT md5(string_agg(r::text, ',' ORDER BY r.id)) AS h FROM (${roadmapsCarving.verify[0].service}) r`)).rows[0].h;
      const report = await runBackfill({ context: roadmapsCarving, sourceUrl: db.url, targetUrl: db.url, restart: true });
      expect(report.complete).toBe(true);
      expect(report.sources.find((s) => s.name === 'releases')!.rowsWritten).toBe(0);
      const after = (await c.query(`SELECT md5(string_agg(r::text, ',' ORDER BY r.id)) AS h FROM (${roadmapsCarving.verify[0].service}) r`)).rows[0].h;
      expect(after).toBe(before);
    });

    it('names a release whose plan drifted, and one that is missing', async () => {
      const [victim, gone] = (await c.query('SELECT DISTINCT release_id FROM roadmaps.release_features ORDER BY release_id LIMIT 2')).rows.map((r) => r.release_id as string);
      await c.query(`UPDATE roadmaps.release_features SET created_at = created_at + interval '1 second' WHERE release_id = $1`, [victim]);
      await c.query('DELETE FROM roadmaps.releases WHERE id = $1', [gone]);
      const drift = await verify();
      expect(drift.ok).toBe(false);
      const releases = drift.projections.find((p) => p.name === 'releases')!;
      expect(releases.drifted.flatMap((d) => d.different)).toEqual([victim]);
      expect(releases.drifted.flatMap((d) => d.missing)).toEqual([gone]);
    });
  });
});
