/**
 * Carving one tenant at a time, end to end on real processes (test/support/drill-stack.ts, the
 * Postgres transport): four workspaces under a steady mixed load through the gateway; the two of
 * cohort `internal` get their reads, then their writes, moved to the service (a fenced handover of
 * each workspace's fence rows only) while the other two stay on the monolith, both groups writing;
 * one of the two is rolled back alone. At the end every acknowledged write's final state is what
 * both sides hold (0 lost), nothing failed but a retried fence refusal, and verify finds no drift
 * in any workspace.
 *
 * And the one-owner promise per workspace: a workspace still on the monolith never reaches the
 * service's write path, and one on the service never reaches the monolith's, through the gateway
 * (the side that answered, the events each side originated) and directly (each side's own write
 * path refuses with 409 not_source_of_truth, from its database's fence).
 */
import { waitFor } from '@carve/shared-testing';
import { type DrillLoad, startDrillLoad } from '../support/drill-load';
import { type DrillStack, type DrillWorkspaceInfo, expectNothingLost, startDrillStack } from '../support/drill-stack';

describe('carving insights one tenant at a time (postgres transport)', () => {
  let s: DrillStack;
  let internal: DrillWorkspaceInfo[];
  let rest: DrillWorkspaceInfo[];

  beforeAll(async () => {
    s = await startDrillStack({ name: 'insights-per-tenant', transport: 'postgres', workspaces: 4, notes: 200, gatewayEnv: { CARVE_SERVED_BY_HEADER: 'true' } });
    internal = s.workspaces.slice(0, 2);
    rest = s.workspaces.slice(2);
  }, 150_000);

  afterAll(() => s?.stop(), 90_000);

  const post = async (base: string, w: DrillWorkspaceInfo, title: string) => {
    const res = await fetch(`${base}/api/v1/workspaces/${w.id}/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title, content: 'per-tenant probe' }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, servedBy: res.headers.get('x-carve-served-by'), body: (await res.json()) as any };
  };
  /** Notes events each side originated for these workspaces (the service's own writes; the monolith's own). */
  const originated = async (workspaceIds: string[], since = new Date(0)) =>
    (
      await s.c.query(
        `SELECT (SELECT count(*) FROM insights.outbox WHERE envelope->>'origin' = 'insights-service' AND envelope->>'tenantId' = ANY($1) AND created_at > $2)::int AS service,
                (SELECT count(*) FROM legacy.outbox WHERE envelope->>'origin' = 'legacy' AND envelope->>'aggregateType' = 'note' AND envelope->>'tenantId' = ANY($1) AND created_at > $2)::int AS monolith`,
        [workspaceIds, since],
      )
    ).rows[0] as { service: number; monolith: number };
  const ids = (ws: DrillWorkspaceInfo[]) => ws.map((w) => w.id);
  const acked = (l: DrillLoad, ws: DrillWorkspaceInfo[]) => ws.reduce((n, w) => n + (l.ackedBy.get(w.id) ?? 0), 0);

  it('cuts two workspaces over under load while the others stay, rolls one back alone: nothing acknowledged lost', async () => {
    const l = startDrillLoad({ gatewayUrl: s.gatewayUrl, workspaces: s.workspaces, ratePerSecond: 40, label: 'per-tenant' });
    let cutAt: Date;
    try {
      await waitFor('a first acknowledged write in every workspace', () => s.workspaces.every((w) => (l.ackedBy.get(w.id) ?? 0) >= 1), 30_000, 200);
      expect((await s.ok('backfill', 'insights', '--batch-size', '500')).stdout).toContain('backfill complete');
      expect((await s.ok('verify', 'insights')).stdout).toContain('4 workspace(s) compared');
      expect((await s.ok('cohort', 'set', 'internal', ids(internal).join(','), '--reason', 'our own workspaces first')).stdout).toContain('cohort internal: 2 workspace(s) (new)');

      const reads = await s.ok('stage', 'insights', 'reads', '--cohort', 'internal', '--reason', 'drill: internal reads');
      expect(reads.stdout).toContain('insights: 2 workspace(s) → reads-switched');
      const cut = await s.ok('cutover', 'insights', '--writes', '--cohort', 'internal', '--reason', 'drill: internal writes');
      expect(cut.stdout).toContain('writes of 2 workspace(s) cut over');
      expect(cut.stdout.match(/fenced handover: its writes refused for/g)).toHaveLength(2);
      cutAt = new Date();

      // Writes keep being acknowledged in both groups: by the service for internal, by the monolith for the rest.
      const before = { internal: acked(l, internal), rest: acked(l, rest) };
      await waitFor('writes acknowledged in both groups', () => acked(l, internal) >= before.internal + 15 && acked(l, rest) >= before.rest + 15, 30_000, 200);
      const own = await originated(ids(internal), cutAt);
      expect(own.service).toBeGreaterThan(0);
      expect(own.monolith).toBe(0);

      const st = await s.status();
      expect(st.stage).toMatchObject({ stage: 'backfilled', owner: 'monolith' });
      expect(st.workspaces).toMatchObject({ total: 4, complete: false });
      expect(st.workspaces.byStage.map((g: any) => [g.stage, g.count, g.workspaces])).toEqual([
        ['backfilled', 2, ids(rest)],
        ['writes-switched', 2, ids(internal)],
      ]);
      const text = (await s.ok('status', 'insights')).stdout;
      expect(text).toMatch(/workspaces {2}4 in all: 2 at backfilled \(the context's\), 2 at writes-switched \(.+\); not complete/);
      // The gateway itself says it sends those two to the service on both routes.
      expect(st.routes.map((r: any) => [r.id, r.effective.mode, r.workspaces])).toEqual([
        ['notes-read', 'monolith', { service: 2, monolith: 0 }],
        ['notes-write', 'monolith', { service: 2, monolith: 0 }],
      ]);
      expect(text).toMatch(/route {7}notes-write .*per workspace: 2 → service, 0 → monolith/);

      // A whole-context cutover from here is refused before anything moves (the context is not at reads).
      expect((await s.cli('cutover', 'insights', '--writes')).code).toBe(3);

      // One of the two back alone, the load still running.
      const [back, stays] = internal;
      const rolled = await s.ok('rollback', 'insights', '--workspace', back.id, '--reason', 'drill: one internal workspace back');
      expect(rolled.stdout).toContain('1 workspace(s) rolled back');
      expect(rolled.stdout).toContain("(the context's stage: it follows the context again)");
      const after = { back: l.ackedBy.get(back.id) ?? 0, stays: l.ackedBy.get(stays.id) ?? 0 };
      await waitFor('writes acknowledged in both after the rollback', () => (l.ackedBy.get(back.id) ?? 0) >= after.back + 8 && (l.ackedBy.get(stays.id) ?? 0) >= after.stays + 8, 30_000, 200);
    } finally {
      await l.stop();
    }
    await expectNothingLost(s, l);
    // The rest never reached the service's write path; the workspace still on the service never reached the monolith's.
    expect((await originated(ids(rest))).service).toBe(0);
    expect((await originated([internal[1].id], cutAt!)).monolith).toBe(0);
    const final = await s.status();
    expect(final.workspaces.byStage.map((g: any) => [g.stage, g.count])).toEqual([
      ['backfilled', 3],
      ['writes-switched', 1],
    ]);
    const handovers = (await s.c.query(`SELECT command, scope, phase, fence_ms FROM carve.handovers WHERE context = 'insights' ORDER BY started_at`)).rows;
    s.step(`handovers: ${handovers.map((h) => `${h.command} ${h.scope.slice(0, 8)} ${h.phase} ${Math.round(h.fence_ms)} ms`).join(', ')}`);
    expect(handovers.map((h) => [h.command, h.scope, h.phase])).toEqual([
      ['cutover', internal[0].id, 'done'],
      ['cutover', internal[1].id, 'done'],
      ['rollback', internal[0].id, 'done'],
    ]);
    const verified = await s.ok('verify', 'insights', ...s.workspaces.flatMap((w) => ['--workspace', w.id]));
    expect(verified.stdout).toMatch(/4 workspace\(s\) compared in .*; no drift/);
    // A backfill of one workspace still on the monolith copies only its rows; one on the service is refused.
    expect((await s.ok('backfill', 'insights', '--workspace', rest[0].id)).stdout).toContain('insights: backfill of 1 workspace(s) complete; stage backfilled (unchanged)');
    const refused = await s.cli('backfill', 'insights', '--workspace', internal[1].id);
    expect([refused.code, refused.stderr]).toEqual([3, expect.stringContaining('the service owns the writes of 1 workspace(s) of insights')]);
  }, 240_000);

  it('never lets a request reach the write path of the side that does not own its workspace, through the gateway or directly', async () => {
    const onService = internal[1];
    const onMonolith = rest[0];
    const since = new Date();
    // Through the gateway: each workspace's write is answered by its owner.
    const viaService = await post(s.gatewayUrl, onService, 'per-tenant: through the gateway, service-owned');
    const viaMonolith = await post(s.gatewayUrl, onMonolith, 'per-tenant: through the gateway, monolith-owned');
    expect([viaService.status, viaService.servedBy]).toEqual([201, 'insights']);
    expect([viaMonolith.status, viaMonolith.servedBy]).toEqual([201, 'monolith']);
    expect(await originated([onMonolith.id], since)).toMatchObject({ service: 0 });
    expect(await originated([onService.id], since)).toMatchObject({ monolith: 0 });
    // Directly: each side's own write path refuses the workspace it does not own, from its fence.
    const serviceRefuses = await post(s.serviceUrl, onMonolith, 'per-tenant: straight to the service');
    const monolithRefuses = await post(s.monolithUrl, onService, 'per-tenant: straight to the monolith');
    expect([serviceRefuses.status, serviceRefuses.body.code]).toEqual([409, 'not_source_of_truth']);
    expect([monolithRefuses.status, monolithRefuses.body.code]).toEqual([409, 'not_source_of_truth']);
    // While each still takes the workspace it owns.
    expect((await post(s.serviceUrl, onService, 'per-tenant: straight to the service, owned')).status).toBe(201);
    expect((await post(s.monolithUrl, onMonolith, 'per-tenant: straight to the monolith, owned')).status).toBe(201);
    const refusedTitles = ['per-tenant: straight to the service', 'per-tenant: straight to the monolith'];
    const written = await s.c.query(`SELECT (SELECT count(*) FROM legacy.notes WHERE title = ANY($1))::int + (SELECT count(*) FROM insights.notes WHERE title = ANY($1))::int AS n`, [refusedTitles]);
    expect(written.rows[0].n).toBe(0);
  });

  it('refuses a whole-context cutover past a workspace held on the monolith (exit 6) unless told to include it, and then leaves no workspace behind', async () => {
    await s.ok('stage', 'insights', 'shadow');
    await s.ok('stage', 'insights', 'canary', '--percent', '50');
    await s.ok('stage', 'insights', 'reads');
    // The workspace still on the service goes back alone: it is held at backfilled while the context is at reads.
    await s.ok('rollback', 'insights', '--workspace', internal[1].id);
    const refused = await s.cli('cutover', 'insights', '--writes');
    expect([refused.code, refused.stderr]).toEqual([6, expect.stringContaining(`${internal[1].id} (backfilled)`)]);
    expect(refused.stderr).toContain('--include-overrides');
    expect((await s.status()).stage).toMatchObject({ stage: 'reads-switched', owner: 'monolith' });

    expect((await s.ok('cutover', 'insights', '--writes', '--include-overrides')).stdout).toContain('writes cut over');
    const st = await s.status();
    expect(st.stage).toMatchObject({ stage: 'writes-switched', owner: 'service' });
    expect(st.workspaces).toMatchObject({ total: 4, complete: false, overrides: [], byStage: [{ stage: 'writes-switched', count: 4, followsContext: true }] });
    // Every workspace is written by the service only.
    for (const w of [internal[1], rest[0]]) {
      expect((await post(s.monolithUrl, w, 'per-tenant: after the whole-context cutover')).status).toBe(409);
      // (the gateway follows within 2 s; a write it still sent to the monolith meanwhile is refused there, not written)
      await waitFor('the gateway to send the workspace to the service', async () => (await post(s.gatewayUrl, w, 'per-tenant: through the gateway after the whole-context cutover')).servedBy === 'insights', 10_000, 200);
    }
  });
});
