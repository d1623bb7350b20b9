/**
 * The roadmaps descriptor on the real schemas: the monolith's schema and bulk data from its
 * own seed process (as `carve seed` runs it; nothing of the monolith is imported), schema
 * `roadmaps` from its migrations; then the generic backfill copies what exists, verify finds
 * no drift, and a corrupted row shows up by its id.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { migrateRoadmaps } from '@carve/roadmaps-data-access';
import { descriptorProblems, findCarvableContext, runBackfill, runVerify } from '@carve/shared-carving';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { parse } from 'yaml';
import * as fs from 'node:fs';
import { roadmapsCarving } from './index';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

function seedMonolith(url: string): Promise<void> {
  const args = ['-r', path.join(ROOT, 'tools/scripts/register-ts.js'), path.join(ROOT, 'apps/legacy-monolith/src/seed/main.ts'), '--workspaces', '2', '--notes', '60', '--releases', '8', '--seed', '7'];
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
    });
    afterAll(async () => {
      await c?.end();
      await db?.drop();
    });

    const verify = () => runVerify({ context: roadmapsCarving, monolithUrl: db.url, serviceUrl: db.url, recheck: { rounds: 1, delayMs: 20 } });

    it('backfills every aggregate and verifies without drift; a corrupted row is named', async () => {
      const report = await runBackfill({ context: roadmapsCarving, sourceUrl: db.url, targetUrl: db.url, batchSize: 25 });
      expect(report.complete).toBe(true);
      expect((await c.query('SELECT count(*)::int AS n FROM roadmaps.releases')).rows[0].n).toBe((await c.query('SELECT count(*)::int AS n FROM legacy.releases')).rows[0].n);

      const clean = await verify();
      expect(clean.ok).toBe(true);

      const [victim] = (await c.query('SELECT id FROM roadmaps.releases ORDER BY id LIMIT 1')).rows;
      if (!victim) return; // the seed made none of these
      await c.query(`UPDATE roadmaps.releases SET state = state || '{"corrupted": true}'::jsonb WHERE id = $1`, [victim.id]);
      const drift = await verify();
      expect(drift.ok).toBe(false);
      const projection = drift.projections.find((p) => p.name === 'releases')!;
      expect(projection.drifted.flatMap((d) => d.different)).toEqual([victim.id]);
    });
  });
});
