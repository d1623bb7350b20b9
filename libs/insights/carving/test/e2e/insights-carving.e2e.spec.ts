/**
 * The carving drill, end to end, on real processes on loopback: the monolith, the insights service
 * and the gateway started as child processes (stopped by PID), one database, the carve CLI as a
 * process for every step. Once on Kafka (a broker of this suite's own: the topic names are the
 * real ones, so a shared broker would mix in other suites' events) and once on the embedded
 * Postgres transport.
 *
 * A steady mixed load runs through the gateway the whole time (test/support/drill-load.ts: reads,
 * creates, renames, and pairs of concurrent PATCHes of the same notes), while insights goes
 * backfill → verify → shadow → canary → reads → writes cut over → rollback. Both handovers of the
 * writes are fenced: a write is refused (503 write_fenced, retried) only inside the fence window.
 * At the end, for every note, the acknowledged write with the highest version is what BOTH the
 * monolith and the service hold (0 lost), no note was acknowledged twice at one version, no
 * sync conflict was recorded, nothing else but a retried fence refusal failed, and verify finds
 * no drift. On the Postgres transport a second drill kills the service while it owns the writes:
 * writes fail and none lands on the monolith; the service comes back and rolls back losing nothing.
 */
import { startProcess, waitFor, waitHealthy } from '@carve/shared-testing';
import { type DrillLoad, startDrillLoad } from '../support/drill-load';
import { type DrillStack, expectNothingLost as nothingLost, startDrillStack } from '../support/drill-stack';

const TRANSPORTS = ['kafka', 'postgres'] as const;

describe.each(TRANSPORTS)('carving insights end to end (%s transport)', (transport) => {
  let s: DrillStack;

  beforeAll(async () => {
    s = await startDrillStack({ name: `insights-e2e-${transport}`, transport, workspaces: 3, notes: 300 });
  }, 150_000);

  afterAll(() => s?.stop(), 90_000);

  const api = async (method: string, url: string, token: string, body?: unknown) => {
    const res = await fetch(`${s.gatewayUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  const ok = (...args: string[]) => s.ok(...args);
  const cli = (...args: string[]) => s.cli(...args);
  const status = () => s.status();

  /** Waits (bounded) until the gateway applies `mode` to a route; says what it saw if not. */
  const waitForRoute = async (id: string, mode: string) => {
    let seen: unknown;
    await waitFor(
      `the gateway to set ${id} to ${mode}`,
      async () => {
        const st = await status();
        seen = { route: st.routes.find((r: any) => r.id === id), gateway: st.gateway, guard: st.guard };
        return st.routes.find((r: any) => r.id === id).effective.mode === mode;
      },
      20_000,
      300,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; status: ${JSON.stringify(seen)}`);
    });
  };

  /** What the last verify found, with both sides' rows of each drifted note (a failure's message). */
  const explainDrift = async (): Promise<string> => {
    const run = (await s.c.query(`SELECT result FROM carve.verify_runs WHERE context = 'insights' ORDER BY id DESC LIMIT 1`)).rows[0]?.result;
    const drifted = (run?.projections ?? []).flatMap((p: any) => p.drifted.map((d: any) => ({ projection: p.name, ...d })));
    const ids = drifted.flatMap((d: any) => [...(d.missing ?? []), ...(d.extra ?? []), ...(d.different ?? [])]);
    const mono = (await s.c.query('SELECT id, title, version, customer_email, customer_name, updated_at FROM legacy.notes WHERE id::text = ANY($1)', [ids])).rows;
    const svc = (await s.c.query('SELECT n.id, n.title, n.aggregate_version, c.email, c.name FROM insights.notes n LEFT JOIN insights.customers c ON c.id = n.customer_id WHERE n.id::text = ANY($1)', [ids])).rows;
    return `drift: ${JSON.stringify(drifted)}\nmonolith: ${JSON.stringify(mono)}\nservice: ${JSON.stringify(svc)}`;
  };

  const load = (label: string): DrillLoad => startDrillLoad({ gatewayUrl: s.gatewayUrl, workspaces: s.workspaces, ratePerSecond: 50, label: `${transport} ${label}` });

  /** Backfilled and verified to reads-switched, with the gateway following each stage. */
  const toReads = async (canary: number) => {
    await ok('stage', 'insights', 'shadow', '--reason', 'drill: compare');
    await waitForRoute('notes-read', 'shadow');
    await ok('stage', 'insights', 'canary', '--percent', String(canary), '--reason', 'drill: canary');
    await ok('stage', 'insights', 'reads', '--reason', 'drill: all reads');
  };

  const expectNothingLost = (l: DrillLoad) => nothingLost(s, l);

  it('drills the whole carve under load: no acknowledged write lost across both fenced handovers', async () => {
    const l = load('drill');
    try {
      await waitFor('the first writes', () => l.counts.acked >= 5, 20_000);

      // --- backfill and verify while the load runs
      const backfill = await ok('backfill', 'insights', '--batch-size', '200');
      expect(backfill.stdout).toContain('insights: backfill complete; stage backfilled');
      const verified = await ok('verify', 'insights');
      expect(verified.stdout).toMatch(/3 workspace\(s\) compared in .*; no drift/);

      // --- shadow: the service answers in the shadow of the monolith, and agrees
      await ok('stage', 'insights', 'shadow', '--reason', 'drill: compare');
      await waitForRoute('notes-read', 'shadow');
      const shadow = await waitFor(
        'the shadow comparisons',
        async () => {
          const s = await status();
          const r = s.routes.find((x: any) => x.id === 'notes-read');
          return r.shadow && r.shadow.compared >= 30 ? s : undefined;
        },
        30_000,
        500,
      );
      expect(shadow.routes.find((x: any) => x.id === 'notes-read').shadow.mismatches).toBe(0);

      // --- canary 50%, then all reads
      await ok('stage', 'insights', 'canary', '--percent', '50', '--reason', 'drill: half the tenants');
      expect((await status()).routes.find((r: any) => r.id === 'notes-read').effective).toMatchObject({ mode: 'canary', percent: 50 });
      await ok('stage', 'insights', 'reads', '--reason', 'drill: all reads');

      // --- writes cut over: a fenced handover, the load still running
      const cutover = await cli('cutover', 'insights', '--writes', '--reason', 'drill: the service owns notes');
      if (cutover.code !== 0) throw new Error(`cutover exited ${cutover.code}: ${cutover.stderr}\n${await explainDrift()}`);
      expect(cutover.stdout).toContain('writes cut over');
      expect(cutover.stdout).toMatch(/fenced handover: writes refused for/);
      const acked = l.counts.acked;
      await waitFor('writes acknowledged by the service', async () => (await s.c.query(`SELECT count(*)::int AS n FROM insights.outbox WHERE envelope->>'origin' = 'insights-service'`)).rows[0].n >= 10, 30_000, 300);
      expect(l.counts.acked).toBeGreaterThan(acked);
      const st = await status();
      expect(st.stage).toMatchObject({ stage: 'writes-switched', owner: 'service' });
      expect(st.handover).toMatchObject({ open: null, last: { command: 'cutover', phase: 'done' } });

      // --- rollback: the second fenced handover, the load still running
      const rollback = await ok('rollback', 'insights', '--reason', 'drill: roll back');
      expect(rollback.stdout).toContain('rolled back from writes-switched to backfilled');
      await waitFor('writes acknowledged by the monolith again', () => l.counts.acked >= acked + 30, 30_000, 200);
    } finally {
      await l.stop();
    }
    await expectNothingLost(l);
    const final = await status();
    expect(final.stage).toMatchObject({ stage: 'backfilled', owner: 'monolith' });
    expect(final.routes.map((r: any) => [r.id, r.effective.mode])).toEqual([['notes-read', 'monolith'], ['notes-write', 'monolith']]);
    expect(final.handover.last).toMatchObject({ command: 'rollback', phase: 'done' });
    const handovers = (await s.c.query(`SELECT command, fence_ms FROM carve.handovers WHERE context = 'insights' ORDER BY started_at`)).rows;
    s.step(`fence windows: ${handovers.map((h) => `${h.command} ${Math.round(h.fence_ms)} ms`).join(', ')}`);
    expect(handovers.map((h) => h.command)).toEqual(['cutover', 'rollback']);
    expect((await ok('verify', 'insights')).stdout).toContain('no drift');
  }, 300_000);

  if (transport === 'postgres') {
    it('kills the service while it owns the writes: writes fail, none lands on the monolith, nothing acknowledged is lost', async () => {
      const l = load('kill');
      let titles: string[] = [];
      let probe: { noteId: string; workspaceId: string; title: string; version: number } | undefined;
      try {
        await toReads(100);
        await ok('cutover', 'insights', '--writes', '--reason', 'drill: cut over before the kill');
        await waitFor('writes acknowledged by the service', async () => (await s.c.query(`SELECT count(*)::int AS n FROM insights.outbox WHERE envelope->>'origin' = 'insights-service'`)).rows[0].n >= 20, 30_000, 300);
        await l.stop();

        const service = s.procs.find((p) => p.name === 'insights-service')!;
        process.kill(service.pid, 'SIGKILL');
        await service.exited;
        s.step('service killed');
        const w = s.workspaces[0];
        const outcomes: number[] = [];
        titles = Array.from({ length: 10 }, (_, i) => `${transport} while the service is dead ${i}`);
        for (const title of titles) {
          const res = await api('POST', `/api/v1/workspaces/${w.id}/notes`, w.token, { title, content: 'must not be written anywhere' });
          outcomes.push(res.status);
          // Refused before anything reached the service (then the breaker opens): 503, safe to retry.
          expect([res.status, res.body?.code]).toEqual([503, 'upstream_unavailable']);
        }
        const patched = await api('PATCH', `/api/v1/workspaces/${w.id}/notes/${w.hot[0]}`, w.token, { title: `${transport} patch while dead` });
        outcomes.push(patched.status);
        s.step(`writes while the service is dead: ${JSON.stringify(outcomes)}`);
        expect([patched.status, patched.body?.code]).toEqual([503, 'upstream_unavailable']);
        // The monolith refuses them at its database too, whoever asks.
        await expect(s.c.query(`UPDATE legacy.notes SET title = 'split' WHERE id = $1`, [w.hot[0]])).rejects.toMatchObject({ code: 'CV409' });

        const again = startProcess('insights-service', 'apps/insights-service/src/main.ts', s.serviceEnv);
        s.procs.splice(s.procs.indexOf(service), 1, again);
        await waitHealthy(again, `${s.serviceUrl}/readyz`);
        s.step('service restarted');
        // The gateway's breaker for the service opened while it was dead; it lets a write through
        // again after its cool-down. Until then writes get 503 upstream_unavailable, refused, not lost.
        probe = await waitFor(
          'a write through the gateway to reach the restarted service',
          async () => {
            const res = await api('POST', `/api/v1/workspaces/${w.id}/notes`, w.token, { title: `${transport} probe after the restart`, content: 'probe' });
            return res.status === 201 ? { noteId: res.body.id, workspaceId: w.id, title: res.body.title, version: res.body.version } : undefined;
          },
          60_000,
          500,
        );
      } finally {
        await l.stop();
      }
      const l2 = load('after the kill');
      try {
        await waitFor('writes acknowledged by the restarted service', () => l2.counts.acked >= 10, 30_000, 200);
        await ok('rollback', 'insights', '--reason', 'drill: roll back after the kill');
        await waitFor('writes acknowledged by the monolith again', () => l2.counts.acked >= 30, 30_000, 200);
      } finally {
        await l2.stop();
      }
      const dead = await s.c.query(`SELECT (SELECT count(*) FROM legacy.notes WHERE title = ANY($1))::int AS mono, (SELECT count(*) FROM insights.notes WHERE title = ANY($1))::int AS svc`, [titles]);
      expect(dead.rows[0]).toEqual({ mono: 0, svc: 0 });
      // Both loads' acknowledged writes, the older state per note giving way to the newer.
      for (const [id, a] of [...l.latest, [probe!.noteId, probe!] as const]) if (!l2.latest.has(id) || l2.latest.get(id)!.version < a.version) l2.latest.set(id, a);
      await expectNothingLost(l2);
      expect(l.sameVersion).toEqual([]);
      expect(Object.fromEntries(l.unexpected)).toEqual({});
      expect((await ok('verify', 'insights')).stdout).toContain('no drift');
    }, 300_000);
  }
});
