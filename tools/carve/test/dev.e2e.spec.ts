/**
 * `npm start` (`carve dev`) as a small process manager, each stack on a database and free ports
 * of its own (CARVE_DEV_PORTS): the demo data is served through the gateway; a service killed
 * with SIGKILL is restarted while the gateway keeps answering; SIGTERM or SIGINT sent to the npm
 * process alone stops everything (nothing left listening), and so does a terminal's Ctrl-C (each
 * child drains once); when carve itself is killed outright, its children stop by themselves.
 */
import { createTestDatabase, type TestDatabase, waitFor } from '@carve/shared-testing';
import { type DevStack, devToken, portOpen, startDevStack, WORKSPACE } from './support/dev-stack';

describe('carve dev (npm start)', () => {
  let db: TestDatabase;
  const stacks: DevStack[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('carve_dev');
  });

  afterAll(async () => {
    for (const s of stacks) s.kill();
    await db?.drop();
  });

  const notes = (gatewayPort: number) =>
    fetch(`http://127.0.0.1:${gatewayPort}/api/v1/workspaces/${WORKSPACE}/notes?limit=5`, { headers: { authorization: `Bearer ${devToken()}` }, signal: AbortSignal.timeout(5000) });

  it('serves through the gateway, restarts a killed service while the gateway keeps answering, and stops on SIGTERM to npm', async () => {
    const stack = await startDevStack(db.url);
    stacks.push(stack);
    const { ports } = stack;

    const list = await notes(ports.gateway);
    expect(list.status).toBe(200);
    const body = (await list.json()) as { items: Array<{ workspaceId: string }>; nextCursor: string | null };
    expect(body.items).toHaveLength(5);
    expect(body.items.every((n) => n.workspaceId === WORKSPACE)).toBe(true);

    // The migration console on the admin port (carve dev builds it when it is missing or stale), and its address printed.
    const page = await fetch(`http://127.0.0.1:${ports.admin}/console`, { signal: AbortSignal.timeout(5000) });
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.text()).toContain('<div id="app">');
    expect(stack.output()).toContain(`the console: http://127.0.0.1:${ports.admin}/console`);

    const before = stack.pids()['insights-service'];
    expect(before).toEqual(expect.any(Number));
    const mark = stack.output().length;
    process.kill(before, 'SIGKILL');

    // The gateway answers all along (the notes routes fall back to the monolith).
    const statuses: number[] = [];
    let back = false;
    void stack.waitForLine(/insights-service is back \(pid \d+/, 60_000, mark).then(() => (back = true), () => undefined);
    await waitFor('insights-service to be restarted', async () => {
      statuses.push((await notes(ports.gateway)).status);
      return back;
    }, 60_000, 100);
    expect(stack.output().slice(mark)).toMatch(/insights-service exited \(signal SIGKILL\); restarting it in/);
    expect(statuses.length).toBeGreaterThan(1);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const after = Number(/insights-service is back \(pid (\d+)/.exec(stack.output().slice(mark))![1]);
    expect(after).not.toBe(before);
    expect((await fetch(`http://127.0.0.1:${ports.insights}/readyz`)).status).toBe(200);

    stack.child.kill('SIGTERM'); // npm's PID alone, as an IDE's stop button does
    expect(await stack.exited).toEqual({ code: 0, signal: null });
    await stack.waitNothingListening();
    expect(stack.output()).toContain('carve dev: terminated: stopping everything');
  }, 240_000);

  it('stops everything on SIGINT to the npm process alone', async () => {
    const stack = await startDevStack(db.url, { args: ['--only', 'legacy-monolith,gateway', '--no-seed'] });
    stacks.push(stack);
    expect((await notes(stack.ports.gateway)).status).toBe(200);
    stack.child.kill('SIGINT');
    expect((await stack.exited).code).toBe(0);
    await stack.waitNothingListening();
    expect(stack.output()).toContain('carve dev: interrupted: stopping everything');
  }, 180_000);

  it("Ctrl-C in a terminal (SIGINT to npm's whole process group): every child drains once, cleanly", async () => {
    const stack = await startDevStack(db.url, { args: ['--only', 'legacy-monolith,gateway', '--no-seed'], ownGroup: true, env: { LOG_LEVEL: 'info' } });
    stacks.push(stack);
    process.kill(-stack.child.pid!, 'SIGINT');
    expect((await stack.exited).code).toBe(0);
    await stack.waitNothingListening();
    const out = stack.output();
    expect(out).not.toContain('second signal');
    expect(out.match(/shutdown complete/g)).toHaveLength(2);
    expect(out.match(/carve dev: interrupted: stopping everything/g)).toHaveLength(1);
  }, 180_000);

  it('its children stop by themselves when carve is killed outright (SIGKILL)', async () => {
    const stack = await startDevStack(db.url, { args: ['--only', 'gateway', '--no-seed'], via: 'carve' });
    stacks.push(stack);
    expect(await portOpen(stack.ports.gateway)).toBe(true);
    stack.child.kill('SIGKILL');
    await stack.exited;
    await stack.waitNothingListening(20_000);
  }, 120_000);
});
