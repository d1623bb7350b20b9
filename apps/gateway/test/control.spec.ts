/**
 * Runtime control: the admin API (auth, validation, audit, status), the route file's hot
 * reload (and an invalid file refused while the old table keeps serving), and two replicas
 * sharing one control plane: a change through one is in force on the other within 2 seconds,
 * and survives a restart.
 */
import fs from 'node:fs';
import type { TestDatabase } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { ADMIN_TOKEN, admin, gateway, http, RouteFiles, testDatabase, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

describe('gateway runtime control', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let service: TestUpstream;
  let a: RunningGateway;
  let b: RunningGateway;
  let file: string;

  const table = (mode: string, extra = '') => `
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${service.url} }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: ${mode}
  - id: releases-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/releases/* }
    target: insights
    mode: canary
    percent: 10
${extra}`;

  beforeAll(async () => {
    [db, monolith, service] = await Promise.all([testDatabase('gateway_control'), TestUpstream.start('monolith'), TestUpstream.start('service')]);
    files = new RouteFiles();
    file = files.write(table('monolith'));
    [a, b] = await Promise.all([gateway(db, file, { gatewayId: 'gw-a' }), gateway(db, file, { gatewayId: 'gw-b' })]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([monolith?.close(), service?.close()]);
    await db?.drop();
    files?.remove();
  });

  const whoOn = async (gw: RunningGateway, what = 'notes') =>
    (await http(`${gw.url}/api/v1/workspaces/ws-1/${what}`, { headers: { authorization: `Bearer ${token('ws-1')}` } })).json.who as string;

  it('needs the admin token', async () => {
    const none = await http(`${a.adminUrl}/admin/routes`);
    expect([none.status, none.json.code]).toEqual([401, 'admin_token_missing']);
    const wrong = await http(`${a.adminUrl}/admin/routes`, { headers: { authorization: 'Bearer nope' } });
    expect([wrong.status, wrong.json.code]).toEqual([401, 'admin_token_invalid']);
    const ok = await http(`${a.adminUrl}/admin/routes`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    // The admin API is not on the proxy port.
    expect((await http(`${a.url}/admin/routes`)).json?.who).toBe('monolith');
  });

  it('lists routes and shows one with its effective mode and where it comes from', async () => {
    const list = await admin(a, 'GET', '/admin/routes');
    expect(list.json.routes.map((r: any) => [r.id, r.mode, r.percent, r.source])).toEqual([
      ['notes-read', 'monolith', 0, 'file'],
      ['releases-read', 'canary', 10, 'file'],
    ]);
    const one = await admin(a, 'GET', '/admin/routes/releases-read');
    expect(one.json).toMatchObject({
      id: 'releases-read',
      target: 'insights',
      mode: 'canary',
      percent: 10,
      source: 'file',
      stickyBy: 'tenant',
      fallback: true,
      breaker: { state: 'closed' },
      override: null,
      mismatches: { count: 0, latest: [] },
    });
    expect((await admin(a, 'GET', '/admin/routes/nope')).status).toBe(404);
  });

  it('validates changes: bad mode, bad percent, percent off canary, unknown route, missing reason', async () => {
    const bad = async (id: string, body: unknown) => {
      const r = await admin(a, 'PUT', `/admin/routes/${id}`, body);
      expect(r.status).toBe(400);
      expect(r.headers['content-type']).toContain('application/problem+json');
      return r.json;
    };
    expect((await bad('notes-read', { mode: 'sideways', reason: 'x' })).errors).toEqual([
      { field: 'mode', message: 'must be one of monolith, shadow, canary, service, got "sideways"' },
    ]);
    expect((await bad('notes-read', { mode: 'canary', percent: 150, reason: 'x' })).errors[0].field).toBe('percent');
    expect((await bad('notes-read', { mode: 'canary', reason: 'x' })).errors[0].message).toMatch(/percent.*required|is required/);
    expect((await bad('notes-read', { mode: 'service', percent: 5, reason: 'x' })).errors[0].message).toMatch(/only for mode canary/);
    expect((await bad('notes-read', { mode: 'service' })).errors).toEqual([{ field: 'reason', message: 'is required: say why' }]);
    expect((await bad('no-such-route', { mode: 'service', reason: 'x' })).code).toBe('unknown_route');
    expect((await admin(a, 'GET', '/admin/audit')).json.entries).toEqual([]);
  });

  it('applies a change made through one replica on the other within 2 seconds, and audits it', async () => {
    expect(await whoOn(b)).toBe('monolith');
    const t0 = Date.now();
    // The actor is the token's operator (here the configured token: `bootstrap`), never the header.
    const put = await admin(a, 'PUT', '/admin/routes/notes-read', { mode: 'service', reason: 'carve notes reads' }, { 'x-carve-actor': 'alice' });
    expect(put.status).toBe(200);
    expect(put.json.route).toMatchObject({ mode: 'service', percent: 100, source: 'override', override: { updatedBy: 'bootstrap', reason: 'carve notes reads' } });
    expect(await whoOn(a)).toBe('service'); // the replica that made it: at once
    await waitFor('replica b to follow', async () => (await whoOn(b)) === 'service', 2000, 20);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThan(2000);
    const audit = await admin(b, 'GET', '/admin/audit?limit=5');
    expect(audit.json.entries[0]).toMatchObject({
      actor: 'bootstrap',
      action: 'route.set',
      target: 'route:notes-read',
      reason: 'carve notes reads',
      before: { mode: 'monolith', percent: 0, source: 'file' },
      after: { mode: 'service', source: 'override' },
    });
  });

  it('rolls back in one call through either replica', async () => {
    const r = await admin(b, 'POST', '/admin/routes/notes-read/rollback', { reason: 'errors on the dashboard' });
    expect(r.status).toBe(200);
    expect(r.json.route).toMatchObject({ mode: 'monolith', source: 'override', override: { updatedBy: 'bootstrap' } });
    expect(await whoOn(b)).toBe('monolith');
    await waitFor('replica a to follow', async () => (await whoOn(a)) === 'monolith', 2000, 20);
    const audit = await admin(a, 'GET', '/admin/audit?route=notes-read&limit=1');
    expect(audit.json.entries[0]).toMatchObject({ action: 'route.rollback', reason: 'errors on the dashboard', before: { mode: 'service' } });
  });

  it('keeps overrides across a restart', async () => {
    await admin(a, 'PUT', '/admin/routes/notes-read', { mode: 'service', reason: 'again' });
    await a.close();
    a = await gateway(db, file, { gatewayId: 'gw-a2' });
    expect(await whoOn(a)).toBe('service');
    expect((await admin(a, 'GET', '/admin/routes/notes-read')).json).toMatchObject({ mode: 'service', source: 'override' });
    // Clearing the override goes back to the file's mode.
    const cleared = await admin(a, 'DELETE', '/admin/routes/notes-read/override', { reason: 'done testing' });
    expect(cleared.json.route).toMatchObject({ mode: 'monolith', source: 'file', override: null });
    await waitFor('replica b to follow', async () => (await whoOn(b)) === 'monolith', 2000, 20);
  });

  it('hot-reloads the route file, refuses an invalid one while the old table keeps serving, and shows the error', async () => {
    expect(await whoOn(a)).toBe('monolith');
    files.write(table('service'));
    await waitFor('the reload on both replicas', async () => (await whoOn(a)) === 'service' && (await whoOn(b)) === 'service', 4000);

    // Invalid: a route naming an upstream that does not exist.
    files.write(table('monolith', `  - id: broken\n    match: { path: /x/* }\n    target: nowhere\n    mode: service\n`));
    const status = await waitFor('the refusal', async () => {
      const s = (await admin(a, 'GET', '/admin/status')).json;
      return s.routesFile.error ? s : undefined;
    }, 4000);
    expect(status.routesFile.error.message).toMatch(/routes\[2\]\.target \(line \d+.*names no upstream: "nowhere"/);
    expect(await whoOn(a)).toBe('service'); // the old table still serves
    expect((await admin(a, 'GET', '/admin/routes')).json.routes).toHaveLength(2);

    // Broken YAML too.
    files.write('upstreams: [oops\n');
    await waitFor('the YAML refusal', async () => /YAML/.test((await admin(b, 'GET', '/admin/status')).json.routesFile.error?.message ?? ''), 4000);
    expect(await whoOn(b)).toBe('service');

    // Fixed: applied, error gone.
    files.write(table('monolith'));
    await waitFor('the fix', async () => (await whoOn(a)) === 'monolith' && !(await admin(a, 'GET', '/admin/status')).json.routesFile.error, 4000);
    const metrics = await admin(a, 'GET', '/metrics');
    expect(metrics.text).toMatch(/carve_gateway_route_table_reloads_total\{result="refused",carve_service="gateway"\} [1-9]/);
  });

  it('picks up an in-place edit too (not only a rename)', async () => {
    fs.writeFileSync(file, table('service'));
    await waitFor('the in-place reload', async () => (await whoOn(a)) === 'service', 4000);
    fs.writeFileSync(file, table('monolith'));
    await waitFor('the second in-place reload', async () => (await whoOn(a)) === 'monolith', 4000);
  });

  it('reports its status', async () => {
    const s = (await admin(b, 'GET', '/admin/status')).json;
    expect(s.gateway.id).toBe('gw-b');
    expect(s.routesFile).toMatchObject({ path: file, routes: 2, error: null });
    expect(s.controlPlane.subscription).toMatchObject({ listening: true });
    expect(s.controlPlane.appliedVersion).toBeGreaterThan(0);
  });
});
