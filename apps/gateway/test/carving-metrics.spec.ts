/**
 * The carving gauges on the gateway's /metrics: read from the control plane at each scrape, as
 * the carving commands leave it (a context's stage, workspaces at a stage of their own, an open
 * handover holding the fence, a finished one's fence window, the last verify's drift).
 */
import type { TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import type { RunningGateway } from '../src';
import { admin, gateway, RouteFiles, testDatabase } from './support/harness';
import { TestUpstream } from './support/upstream';

describe('carving metrics on the gateway', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let gw: RunningGateway;
  let c: Client;

  beforeAll(async () => {
    [db, monolith] = await Promise.all([testDatabase('gateway_carving_metrics'), TestUpstream.start('monolith')]);
    files = new RouteFiles();
    gw = await gateway(db, files.write(`upstreams:\n  monolith: { url: ${monolith.url} }\ndefault: monolith\nroutes: []\n`));
    c = new Client({ connectionString: db.url });
    await c.connect();
  });

  afterAll(async () => {
    await c?.end();
    await gw?.close();
    await monolith?.close();
    await db?.drop();
    files?.remove();
  });

  const scrape = async () => (await admin(gw, 'GET', '/metrics')).text;
  const value = (text: string, series: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('declares every gauge with no carve under way, and no series', async () => {
    const text = await scrape();
    for (const name of ['stage', 'workspaces', 'handover_open', 'handover_fence_open_seconds', 'handover_last_fence_seconds', 'verify_drifted', 'verify_last_run_timestamp_seconds']) {
      expect(text).toContain(`# TYPE carve_carving_${name} gauge`);
      expect(text).not.toMatch(new RegExp(`^carve_carving_${name}\\{`, 'm'));
    }
  });

  it('reports the stage, the workspaces, the open handover and its fence, the last fence window and the drift, as the control plane holds them now', async () => {
    await c.query(`INSERT INTO carve.context_stages (context, stage) VALUES ('insights', 'canary')`);
    await c.query(
      `INSERT INTO carve.workspace_stages (context, workspace_id, stage, owner, updated_by, reason, version)
       VALUES ('insights', 'ws-1', 'writes-switched', 'service', 'test', 'test', 1), ('insights', 'ws-2', 'writes-switched', 'service', 'test', 'test', 1)`,
    );
    const handover = (id: string, scope: string, phase: string, fencedAgo: string | null, fenceMs: number | null, finishedAgo: string | null) =>
      c.query(
        `INSERT INTO carve.handovers (id, context, scope, command, from_owner, to_owner, target_stage, phase, fence_deadline, actor, reason, fenced_at, fence_ms, finished_at)
         VALUES ($1, 'insights', $2, 'cutover --writes', 'monolith', 'service', 'writes-switched', $3, now() + interval '1 minute', 'test', 'test',
                 clock_timestamp() - $4::interval, $5, clock_timestamp() - $6::interval)`,
        [id, scope, phase, fencedAgo, fenceMs, finishedAgo],
      );
    await handover('h-old', '*', 'done', '2 hours', 900, '2 hours');
    await handover('h-last', 'ws-1', 'undone', '1 hour', 1250, '1 hour');
    await handover('h-open', 'ws-2', 'draining', '3 seconds', null, null);
    await c.query(
      `INSERT INTO carve.verify_runs (context, started_at, finished_at, ok, workspaces, drifted, result) VALUES
         ('insights', now() - interval '2 hours', now() - interval '2 hours', true, 5, 0, '{}'),
         ('insights', now() - interval '1 minute', '2026-01-02T03:04:05Z', false, 5, 2, '{}')`,
    );

    const text = await scrape();
    expect(value(text, 'carve_carving_stage{context="insights",stage="canary",carve_service="gateway"}')).toBe(1);
    expect(value(text, 'carve_carving_stage{context="insights",stage="shadow",carve_service="gateway"}')).toBe(0);
    expect(value(text, 'carve_carving_workspaces{context="insights",stage="writes-switched",carve_service="gateway"}')).toBe(2);
    expect(value(text, 'carve_carving_handover_open{context="insights",scope="ws-2",phase="draining",carve_service="gateway"}')).toBe(1);
    expect(text).not.toMatch(/carve_carving_handover_open\{[^}]*phase="(done|undone)"/);
    expect(value(text, 'carve_carving_handover_fence_open_seconds{context="insights",scope="ws-2",carve_service="gateway"}')).toBeGreaterThanOrEqual(3);
    expect(value(text, 'carve_carving_handover_fence_open_seconds{context="insights",scope="ws-2",carve_service="gateway"}')).toBeLessThan(60);
    expect(value(text, 'carve_carving_handover_last_fence_seconds{context="insights",carve_service="gateway"}')).toBe(1.25);
    expect(value(text, 'carve_carving_verify_drifted{context="insights",carve_service="gateway"}')).toBe(2);
    expect(value(text, 'carve_carving_verify_last_run_timestamp_seconds{context="insights",carve_service="gateway"}')).toBe(Date.parse('2026-01-02T03:04:05Z') / 1000);

    // The handover finishes and the context moves on: the next scrape follows, nothing stale left.
    await c.query(`UPDATE carve.handovers SET phase = 'done', fence_ms = 40, finished_at = clock_timestamp() WHERE id = 'h-open'`);
    await c.query(`UPDATE carve.context_stages SET stage = 'reads-switched'`);
    const after = await scrape();
    expect(after).not.toMatch(/^carve_carving_handover_open\{/m);
    expect(after).not.toMatch(/^carve_carving_handover_fence_open_seconds\{/m);
    expect(value(after, 'carve_carving_handover_last_fence_seconds{context="insights",carve_service="gateway"}')).toBe(0.04);
    expect(value(after, 'carve_carving_stage{context="insights",stage="reads-switched",carve_service="gateway"}')).toBe(1);
    expect(value(after, 'carve_carving_stage{context="insights",stage="canary",carve_service="gateway"}')).toBe(0);
  });
});
