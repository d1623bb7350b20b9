/**
 * Shadow copies are bounded: with CARVE_SHADOW_MAX_IN_FLIGHT copies outstanding, the next ones
 * are dropped and counted as skipped (never queued), and the client never waits for them.
 */
import type { TestDatabase } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { admin, gateway, http, RouteFiles, testDatabase, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

describe('gateway shadow saturation', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let service: TestUpstream;
  let gw: RunningGateway;

  beforeAll(async () => {
    [db, monolith, service] = await Promise.all([testDatabase('gateway_shadow_busy'), TestUpstream.start('monolith'), TestUpstream.start('service')]);
    files = new RouteFiles();
    const file = files.write(`
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${service.url} }
default: monolith
routes:
  - id: notes
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: shadow
`);
    gw = await gateway(db, file, { shadow: { timeoutMs: 1500, maxBodyBytes: 64 * 1024, maxInFlight: 2 } });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([monolith?.close(), service?.close()]);
    await db?.drop();
    files?.remove();
  });

  it('drops and counts the copies beyond the limit while two hang, and the client never waits', async () => {
    monolith.reset(() => ({ body: { n: 1 } }));
    service.reset(() => 'hang');
    const auth = { authorization: `Bearer ${token('ws-1')}` };
    for (let i = 0; i < 6; i++) {
      const r = await http(`${gw.url}/api/v1/workspaces/ws-1/notes/${i}`, { headers: auth });
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(500);
    }
    const status = (await admin(gw, 'GET', '/admin/status')).json;
    expect(status.shadow.inFlight).toBe(2);
    const route = (await admin(gw, 'GET', '/admin/routes/notes')).json;
    expect(route.counters.shadow.skipped).toBe(4);
    const metrics = await http(`${gw.url}/metrics`);
    expect(metrics.text).toMatch(/carve_gateway_shadow_comparisons_total\{route="notes",result="skipped",service="gateway"\} 4/);
    // The two that hang time out (errors), and the slots are free again.
    await waitFor('the hanging copies to time out', async () => (await admin(gw, 'GET', '/admin/routes/notes')).json.counters.shadow.error >= 2, 5000);
    expect((await admin(gw, 'GET', '/admin/status')).json.shadow.inFlight).toBe(0);
    expect(service.count()).toBe(2);
  });
});
