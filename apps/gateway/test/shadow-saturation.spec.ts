/**
 * Shadow copies are bounded: with CARVE_SHADOW_MAX_IN_FLIGHT copies outstanding, the next ones
 * are dropped and counted as skipped (never queued), and the client never waits for them.
 */
import { admin, http, type Stack, startStack, token, waitFor } from './support/harness';

describe('gateway shadow saturation', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_shadow_busy',
      `
  - id: notes
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: shadow
`,
      { gateway: { shadow: { timeoutMs: 1500, maxBodyBytes: 64 * 1024, maxInFlight: 2 } } },
    );
  });

  afterAll(() => stack?.close());

  it('drops and counts the copies beyond the limit while two hang, and the client never waits', async () => {
    stack.monolith.reset(() => ({ body: { n: 1 } }));
    stack.service.reset(() => 'hang');
    const auth = { authorization: `Bearer ${token('ws-1')}` };
    for (let i = 0; i < 6; i++) {
      const r = await http(`${stack.gw.url}/api/v1/workspaces/ws-1/notes/${i}`, { headers: auth });
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(1500); // the shadow timeout: a client that waited for a hanging copy would wait it out
    }
    const status = (await admin(stack.gw, 'GET', '/admin/status')).json;
    expect(status.shadow.inFlight).toBe(2);
    const route = (await admin(stack.gw, 'GET', '/admin/routes/notes')).json;
    expect(route.counters.shadow.skipped).toBe(4);
    const metrics = await admin(stack.gw, 'GET', '/metrics');
    expect(metrics.text).toMatch(/carve_gateway_shadow_comparisons_total\{route="notes",result="skipped",carve_service="gateway"\} 4/);
    // The two that hang time out (errors), and the slots are free again.
    await waitFor('the hanging copies to time out', async () => (await admin(stack.gw, 'GET', '/admin/routes/notes')).json.counters.shadow.error >= 2, 5000);
    expect((await admin(stack.gw, 'GET', '/admin/status')).json.shadow.inFlight).toBe(0);
    expect(stack.service.count()).toBe(2);
  });
});
