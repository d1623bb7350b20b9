/**
 * Timed canary ramps applied by real gateway processes (real Postgres): the replica alive raises
 * the percent on schedule; killed mid-ramp (SIGKILL, no clean stop), the replicas started after it
 * carry the ramp on from where it was, to its last step, each step applied exactly once (the
 * audit rows) though two replicas run the scheduler; a guard trip recorded on the context pauses
 * the next ramp with the percent unchanged; the CLI shows and steers it.
 */
import fs from 'node:fs';
import { type CarvableContext, Carving } from '@carve/shared-carving';
import { carve, devRoutesFile, freePorts, type Proc, startProcess, type TestDatabase, waitHealthy } from '@carve/shared-testing';
import { ADMIN_TOKEN, testDatabase, waitFor } from './support/harness';

/** What the carving commands know of the insights context: its name and routes (the descriptor lives in scope insights). */
const insights = { name: 'insights', routes: [{ id: 'notes-read', kind: 'read' }, { id: 'notes-write', kind: 'write' }] } as unknown as CarvableContext;

describe('timed ramps across gateway restarts', () => {
  let db: TestDatabase;
  let carving: Carving;
  let routes: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    db = await testDatabase('gateway_ramps');
    routes = devRoutesFile('ramps', {});
    carving = await Carving.connect({ url: db.url, actor: 'alice', transport: 'postgres' });
  });

  afterAll(async () => {
    for (const p of procs) await p.stop();
    await carving?.close();
    await db?.drop();
    if (routes) fs.rmSync(routes, { force: true });
  });

  /** A gateway process (the scheduler ticks at the control-plane poll interval, 100 ms here). */
  async function startGatewayProcess(id: string): Promise<Proc & { adminUrl: string }> {
    const port = await freePorts(2);
    const adminPort = port + 1;
    const p = startProcess(id, 'apps/gateway/src/main.ts', {
      PORT: String(port),
      CARVE_ADMIN_PORT: String(adminPort),
      CARVE_ROUTES_FILE: routes,
      DATABASE_URL: db.url,
      CARVE_ADMIN_TOKEN: ADMIN_TOKEN,
      CARVE_GATEWAY_ID: id,
      CARVE_CONTROL_POLL_MS: '100',
      CARVE_ACCESS_LOG: 'false',
      LOG_LEVEL: 'info',
    });
    procs.push(p);
    await waitHealthy(p, `http://127.0.0.1:${port}/readyz`);
    return Object.assign(p, { adminUrl: `http://127.0.0.1:${adminPort}` });
  }

  const ramp = () => carving.ramps.get('insights');
  /** Every audited step of a ramp since `sinceId`: who applied it, its step and percent. */
  const stepAudits = async (sinceId: number) =>
    (
      await carving.cp.pool.query(`SELECT actor, after FROM carve.audit WHERE target = 'context:insights' AND action = 'stage.set' AND id > $1 AND after ? 'ramp' ORDER BY id`, [sinceId])
    ).rows.map((r) => ({ actor: r.actor as string, step: r.after.ramp.step as number, percent: r.after.percent as number }));
  const lastAuditId = async () => Number((await carving.cp.pool.query('SELECT coalesce(max(id), 0) AS id FROM carve.audit')).rows[0].id);
  const effectiveRead = async (adminUrl: string) => {
    const res = await fetch(`${adminUrl}/admin/routes`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const body = (await res.json()) as { routes: Array<{ id: string; mode: string; percent?: number }> };
    return body.routes.find((r) => r.id === 'notes-read');
  };

  it('carries a ramp on after the gateway running it is killed, each step once, to its last step', async () => {
    const a = await startGatewayProcess('gw-a');
    await carving.stages.set('insights', { stage: 'shadow' }, { actor: 'test', reason: 'setup', action: 'stage.set' });
    const since = await lastAuditId();
    await carving.startRamp(insights, { steps: [10, 20, 30, 40, 50], everyMs: 1000, reason: 'ramp across restarts' });

    // gw-a applies the second step, then dies without a word.
    await waitFor('gw-a to apply step 2', async () => (await ramp())!.step >= 1, 15_000, 50);
    process.kill(a.pid, 'SIGKILL');
    await a.exited;
    const atKill = (await ramp())!;
    expect(atKill.state).toBe('running');

    // Two new replicas carry it on.
    const [b] = await Promise.all([startGatewayProcess('gw-b'), startGatewayProcess('gw-c')]);
    await waitFor('the ramp to finish', async () => (await ramp())!.state === 'done', 30_000, 50);

    const audits = await stepAudits(since);
    expect(audits.map((x) => x.step)).toEqual([2, 3, 4, 5]);
    expect(audits.map((x) => x.percent)).toEqual([20, 30, 40, 50]);
    expect(audits[0].actor).toBe('gateway gw-a');
    const after = audits.filter((x) => x.step > atKill.step + 1);
    expect(after.length).toBeGreaterThan(0);
    for (const x of after) expect(['gateway gw-b', 'gateway gw-c']).toContain(x.actor);
    expect((await carving.stage(insights)).canaryPercent).toBe(50);
    // Every replica follows the change (NOTIFY): the live one serves the last percent.
    await waitFor('gw-b to serve canary 50%', async () => {
      const r = await effectiveRead(b.adminUrl);
      return r?.mode === 'canary' && r.percent === 50;
    });

    // The CLI shows it.
    const shown = await carve(db.url, ['ramp', 'insights', '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ context: 'insights', state: 'done', step: 4, percent: 50, steps: [10, 20, 30, 40, 50], everyMs: 1000 });
  }, 120_000);

  it('pauses a short-interval ramp on a guard trip with the percent unchanged; the CLI shows why and refuses to resume; acknowledged and resumed, it goes on to its last step', async () => {
    const everyMs = 2000;
    await carving.startRamp(insights, { steps: [60, 70, 80], everyMs, reason: 'short ramp' });
    await carving.cp.recordGuardTrip({ routeId: 'notes-read', reason: 'error rate 40.0% > 5.0% over the last 30s', gateway: 'gw-b' });
    const paused = await waitFor('a gateway to pause the ramp', async () => {
      const r = await ramp();
      return r?.state === 'paused' ? r : undefined;
    }, 15_000, 50);
    expect(paused).toMatchObject({ step: 0, percent: 60, next: { percent: 70, at: null } });
    expect(paused.pausedWhy).toBe('the guard tripped on notes-read: error rate 40.0% > 5.0% over the last 30s');
    expect(paused.updatedBy).toMatch(/^gateway gw-[bc]$/);
    const since = await lastAuditId();

    // The pause outlasts the steps that were due meanwhile: two intervals on, the schedulers (every 100 ms) applied none.
    const pausedAt = Date.parse(paused.updatedAt);
    await waitFor('two ramp intervals to pass while paused', async () => Date.now() > pausedAt + 2 * everyMs, 15_000, 100);
    expect(await ramp()).toMatchObject({ state: 'paused', step: 0, percent: 60 });
    expect(await stepAudits(since)).toEqual([]);
    expect((await carving.stage(insights)).canaryPercent).toBe(60);

    const status = await carve(db.url, ['status', 'insights']);
    expect(status.stdout).toMatch(/ramp {8}PAUSED step 1 of 3 \(60%\), steps \[60\],70,80% every 2s; next 70%; the guard tripped on notes-read/);
    const resume = await carve(db.url, ['ramp', 'insights', 'resume']);
    expect(resume.code).toBe(3);
    expect(resume.stderr).toContain('the guard tripped on notes-read');
    expect(resume.stderr).toContain('--ack-guard-trip');

    // The cause found: the trip acknowledged (the stage set again with it), the ramp resumed, the gateways finish it.
    await carving.moveTo(insights, 'canary', { percent: 60, reason: 'cause found', ackGuardTrip: true });
    const resumed = await carve(db.url, ['ramp', 'insights', 'resume', '--reason', 'cause found', '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ state: 'running', pausedWhy: null, next: { percent: 70 } });
    await waitFor('the resumed ramp to finish', async () => (await ramp())!.state === 'done', 30_000, 50);
    const audits = await stepAudits(since);
    expect(audits.map((x) => [x.step, x.percent])).toEqual([[2, 70], [3, 80]]);
    for (const x of audits) expect(x.actor).toMatch(/^gateway gw-[bc]$/);
    expect((await carving.stage(insights)).canaryPercent).toBe(80);
  }, 90_000);

  it('stops a ramp from the CLI, the percent left where it is', async () => {
    await carving.startRamp(insights, { steps: [85, 90], everyMs: 3_600_000, reason: 'slow ramp' });
    const stop = await carve(db.url, ['ramp', 'insights', 'stop', '--reason', 'cause unknown', '--json']);
    expect(stop.code).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ state: 'stopped', pausedWhy: expect.stringContaining('cause unknown') });
    expect((await carving.stage(insights)).canaryPercent).toBe(85);
  }, 60_000);

  it('refuses bad ramp input on the command line with the usage exit code', async () => {
    for (const [args, msg] of [
      [['--ramp', '1,5', '--every', '10x'], '--every must be a whole number of seconds, minutes or hours'],
      [['--ramp', '5,1', '--every', '1m'], '--ramp steps must rise'],
      [['--ramp', '1,5'], 'a ramp needs both --ramp and --every'],
      [['--ramp', '1,5', '--every', '1m', '--percent', '5'], '--ramp takes no --percent'],
    ] as const) {
      const r = await carve(db.url, ['stage', 'insights', 'canary', ...args]);
      expect({ code: r.code, err: r.stderr }).toMatchObject({ code: 2, err: expect.stringContaining(msg) });
    }
    const r = await carve(db.url, ['ramp', 'insights', 'faster']);
    expect(r.code).toBe(2);
  }, 60_000);
});
