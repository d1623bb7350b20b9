/**
 * Shadow mode: the monolith answers, the service gets a copy off the hot path, the answers are
 * compared with the route's rules, mismatches are counted and sampled into the control plane,
 * writes are never copied, and a slow service never slows the client.
 */
import type { TestDatabase } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { admin, gateway, http, pool, RouteFiles, testDatabase, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

const SHADOW_TIMEOUT_MS = 1000;

describe('gateway shadow', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let service: TestUpstream;
  let gw: RunningGateway;

  const items = (over: Partial<{ title: string; updatedAt: string }> = {}, order = [1, 2, 3]) =>
    order.map((id) => ({ id, title: id === 2 && over.title ? over.title : `note ${id}`, updatedAt: over.updatedAt ?? '2025-01-01T00:00:00.000Z' }));

  beforeAll(async () => {
    [db, monolith, service] = await Promise.all([testDatabase('gateway_shadow'), TestUpstream.start('monolith'), TestUpstream.start('service')]);
    files = new RouteFiles();
    const file = files.write(`
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${service.url} }
default: monolith
routes:
  - id: notes
    match: { path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: shadow
    compare:
      ignore: ['$.items[*].updatedAt', '$.generatedAt']
      sortArraysBy: { "$.items": id }
  - id: releases
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/releases/* }
    target: insights
    mode: shadow
    guard: { maxErrorRate: 0.5, maxMismatchRate: 0.1, window: 30s, minRequests: 10 }
`);
    gw = await gateway(db, file, { shadow: { timeoutMs: SHADOW_TIMEOUT_MS, maxBodyBytes: 64 * 1024, maxInFlight: 100 } });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([monolith?.close(), service?.close()]);
    await db?.drop();
    files?.remove();
  });

  const url = (tid = 'ws-1') => `${gw.url}/api/v1/workspaces/${tid}/notes`;
  const auth = (tid = 'ws-1') => ({ authorization: `Bearer ${token(tid)}` });
  const route = async () => (await admin(gw, 'GET', '/admin/routes/notes')).json;

  it('honours ignore paths and array keys: different timestamps and order are no mismatch', async () => {
    monolith.reset(() => ({ body: { items: items(), generatedAt: 'now' } }));
    service.reset(() => ({ body: { items: items({ updatedAt: '2031-05-05T05:05:05.000Z' }, [3, 1, 2]), generatedAt: 'later' } }));
    for (let i = 0; i < 5; i++) {
      const r = await http(url(), { headers: auth() });
      expect(r.json.items).toEqual(items()); // the client gets the monolith's answer
    }
    const r = await waitFor('5 comparisons', async () => {
      const j = await route();
      return j.counters.shadow.match >= 5 ? j : undefined;
    });
    expect(r.counters.shadow.mismatch).toBe(0);
    expect(service.count((s) => s.headers['x-carve-shadow'] === '1' && s.headers['x-carve-tenant'] === 'ws-1')).toBe(5);
  });

  it('finds a mismatch, counts it and stores a sample in the control plane', async () => {
    monolith.reset(() => ({ body: { items: items(), generatedAt: 'now' } }));
    service.reset(() => ({ body: { items: items({ title: 'renamed' }, [2, 1, 3]), generatedAt: 'now' } }));
    const r = await http(`${url()}?page=1`, { headers: auth() });
    expect(r.json.items[1].title).toBe('note 2');
    const j = await waitFor('the mismatch', async () => {
      const d = await route();
      return d.counters.shadow.mismatch >= 1 && d.mismatches.latest.length > 0 ? d : undefined;
    });
    const sample = j.mismatches.latest[0];
    expect(sample).toMatchObject({
      routeId: 'notes',
      request: { method: 'GET', path: '/api/v1/workspaces/ws-1/notes?page=1', tenantId: 'ws-1' },
      monolithStatus: 200,
      serviceStatus: 200,
    });
    expect(sample.differences).toEqual([{ path: '$.items[id=2].title', kind: 'changed', monolith: 'note 2', service: 'renamed' }]);
    const metrics = await admin(gw, 'GET', '/metrics');
    expect(metrics.text).toMatch(/carve_gateway_shadow_mismatches_total\{route="notes",carve_service="gateway"\} 1/);
    expect(metrics.text).toMatch(/carve_gateway_shadow_comparisons_total\{route="notes",result="match",carve_service="gateway"\} 5/);
  });

  it('compares statuses too', async () => {
    monolith.reset(() => ({ status: 404, body: { code: 'not_found' } }));
    service.reset(() => ({ status: 200, body: { code: 'not_found' } }));
    const before = (await route()).counters.shadow.mismatch;
    expect((await http(`${url()}/missing`, { headers: auth() })).status).toBe(404);
    await waitFor('the status mismatch', async () => (await route()).counters.shadow.mismatch > before);
  });

  it('never copies writes', async () => {
    monolith.reset();
    service.reset();
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const r = await http(`${url()}/n1`, { method, headers: { ...auth(), 'content-type': 'application/json' }, body: '{"title":"x"}' });
      expect(r.json.who).toBe('monolith');
    }
    // A read after them is copied: once its copy has arrived, any copy of the writes would have too.
    expect((await http(`${url()}/n1`, { headers: auth() })).status).toBe(200);
    await waitFor('the read to be copied', () => service.count() >= 1);
    expect(service.seen.map((s) => s.method)).toEqual(['GET']);
    expect(monolith.count()).toBe(5);
  });

  it('never delays the client: every answer comes while the service in shadow has not answered one copy', async () => {
    monolith.reset(() => ({ body: { items: items() } }));
    // The service holds every copy until the clients have all their answers: no client answer can
    // have waited for it, whatever the machine's speed.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let answered = 0;
    service.reset(async () => {
      await held;
      answered++;
      return { body: { items: items() } };
    });
    const settled = async () => {
      const c = (await route()).counters.shadow;
      return c.match + c.mismatch + c.error;
    };
    const before = await settled();
    const results = await pool(Array.from({ length: 40 }, (_, i) => i), 8, () => http(url(), { headers: auth() }));
    expect(results.every((r) => r.status === 200 && r.json.items)).toBe(true);
    expect(answered).toBe(0);
    await waitFor('the copies to reach the service', () => service.count() >= 1);
    release();
    // Released, the copies finish (compared, or past the shadow timeout if the machine was slow).
    await waitFor('the held copies to settle', async () => (await settled()) > before, 30_000);
  });

  it('counts a service that fails or times out as a shadow error, and the client never notices', async () => {
    service.reset(() => 'hang');
    const before = (await route()).counters.shadow.error;
    const r = await http(url(), { headers: auth() });
    expect([r.status, r.json.items.length]).toEqual([200, 3]);
    // Had the client waited for the hanging copy, it would have waited out the shadow timeout.
    expect(r.ms).toBeLessThan(SHADOW_TIMEOUT_MS);
    await waitFor('the shadow timeout', async () => (await route()).counters.shadow.error > before, 3000);
  });

  it('rolls a shadowed route back to the monolith when its mismatch rate passes the guard', async () => {
    monolith.reset(() => ({ body: { n: 1 } }));
    let i = 0;
    service.reset(() => ({ body: { n: i++ % 4 === 0 ? 2 : 1 } })); // one in four differs: 25% > 10%
    for (let k = 0; k < 20; k++) expect((await http(`${gw.url}/api/v1/workspaces/ws-1/releases`, { headers: auth() })).status).toBe(200);
    const r = await waitFor('the mismatch rollback', async () => {
      const j = (await admin(gw, 'GET', '/admin/routes/releases')).json;
      return j.mode === 'monolith' ? j : undefined;
    });
    expect(r.override).toMatchObject({ updatedBy: 'guard' });
    expect(r.guard.lastTrip.reason).toMatch(/^mismatch rate \d+\.\d% > 10\.0%/);
    // No more copies once it is on the monolith.
    const copies = service.count();
    await http(`${gw.url}/api/v1/workspaces/ws-1/releases`, { headers: auth() });
    await new Promise((res) => setTimeout(res, 50));
    expect(service.count()).toBe(copies);
  });
});
