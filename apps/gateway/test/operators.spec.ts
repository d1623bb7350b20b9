/**
 * Named operators on the admin API: a token per operator (stored hashed in the control plane),
 * its role (viewer reads, operator changes), its name as the audit's actor whatever the client
 * says, revocation from the next request, and the configured CARVE_ADMIN_TOKEN as operator
 * `bootstrap`.
 */
import { OperatorStore } from '@carve/shared-control-plane';
import { gatewayConfigFromEnv } from '../src';
import { ADMIN_TOKEN, http, type Stack, startStack } from './support/harness';

describe('admin API operators', () => {
  let stack: Stack;
  let store: OperatorStore;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_operators',
      (u) => `
upstreams:
  monolith: { url: ${u.monolith} }
  insights: { url: ${u.monolith} }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET, HEAD], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
`,
    );
    store = new OperatorStore(stack.gw.controlPlane.pool);
  });

  afterAll(() => stack?.close());

  const call = (tok: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    http(stack.gw.adminUrl + path, {
      method,
      headers: { authorization: `Bearer ${tok}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it("records the operator's name as the actor, never the x-carve-actor header", async () => {
    const { token } = await store.create({ name: 'ops-alice', role: 'operator', actor: 'test' });
    const put = await call(token, 'PUT', '/admin/routes/notes-read', { mode: 'canary', percent: 5, reason: 'first tenants' }, { 'x-carve-actor': 'guard' });
    expect(put.status).toBe(200);
    expect(put.json.route.override).toMatchObject({ updatedBy: 'ops-alice' });
    const rollback = await call(token, 'POST', '/admin/routes/notes-read/rollback', { reason: 'paged' }, { 'x-carve-actor': 'someone-else' });
    expect(rollback.status).toBe(200);
    const audit = (await call(token, 'GET', '/admin/audit?route=notes-read')).json.entries;
    expect(audit.map((e: any) => [e.actor, e.action])).toEqual([
      ['ops-alice', 'route.rollback'],
      ['ops-alice', 'route.set'],
    ]);
  });

  it('lets a viewer read (routes, audit, status, metrics) and refuses its changes with 403, changing nothing', async () => {
    const { token } = await store.create({ name: 'dashboard', role: 'viewer', actor: 'test' });
    for (const path of ['/admin/routes', '/admin/routes/notes-read', '/admin/audit', '/admin/status', '/metrics']) {
      expect([path, (await call(token, 'GET', path)).status]).toEqual([path, 200]);
    }
    const before = await stack.gw.controlPlane.version();
    for (const [method, path, body] of [
      ['PUT', '/admin/routes/notes-read', { mode: 'service', reason: 'x' }],
      ['POST', '/admin/routes/notes-read/rollback', { reason: 'x' }],
      ['DELETE', '/admin/routes/notes-read/override', { reason: 'x' }],
    ] as const) {
      const r = await call(token, method, path, body);
      expect([method, r.status, r.json.code]).toEqual([method, 403, 'operator_role']);
    }
    expect(await stack.gw.controlPlane.version()).toBe(before);
  });

  it('refuses a revoked token from the next request', async () => {
    const { token } = await store.create({ name: 'leaver', role: 'operator', actor: 'test' });
    expect((await call(token, 'GET', '/admin/routes')).status).toBe(200);
    await store.revoke('leaver', 'test');
    const r = await call(token, 'GET', '/admin/routes');
    expect([r.status, r.json.code]).toEqual([401, 'admin_token_invalid']);
  });

  it('binds the admin port to 127.0.0.1 on every platform unless CARVE_ADMIN_HOST says otherwise', () => {
    const deployed = { PLATFORM: 'kubernetes', DATABASE_URL: 'postgres://u@db/x', CARVE_ADMIN_TOKEN: 'a'.repeat(32), CARVE_JWT_SECRET: 'b'.repeat(32) };
    expect(gatewayConfigFromEnv({}).adminHost).toBe('127.0.0.1');
    expect(gatewayConfigFromEnv(deployed)).toMatchObject({ host: '0.0.0.0', adminHost: '127.0.0.1' });
    expect(gatewayConfigFromEnv({ ...deployed, CARVE_ADMIN_HOST: '0.0.0.0' }).adminHost).toBe('0.0.0.0');
    // This test's gateway: bound to loopback.
    expect(new URL(stack.gw.adminUrl).hostname).toBe('127.0.0.1');
  });

  it('accepts the configured admin token as operator "bootstrap", and no customer JWT or guessed token', async () => {
    const put = await call(ADMIN_TOKEN, 'DELETE', '/admin/routes/notes-read/override', { reason: 'back to the file' }, { 'x-carve-actor': 'ops-alice' });
    expect(put.status).toBe(200);
    expect((await stack.gw.controlPlane.audit({ target: 'route:notes-read', limit: 1 }))[0]).toMatchObject({ actor: 'bootstrap', action: 'route.clear' });
    for (const bad of ['carve_op_' + 'A'.repeat(43), `${ADMIN_TOKEN}x`, 'eyJhbGciOiJIUzI1NiJ9.e30.x']) {
      const r = await call(bad, 'GET', '/admin/routes');
      expect([r.status, r.json.code]).toEqual([401, 'admin_token_invalid']);
    }
  });
});
