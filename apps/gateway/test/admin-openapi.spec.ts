/**
 * The admin API's OpenAPI document: served on the admin port without a token at /openapi.json
 * and rendered at /docs, in step with the routes the admin server registers (a route missing
 * from the document, or an operation no route serves, fails here), and the answers of the admin
 * API match it.
 */
import { documentProblems, responseChecker, undocumentedRoutes, unservedOperations } from '@carve/shared-contract-kit';
import { registeredRoutes } from '@carve/shared-http';
import type { TestDatabase } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { adminOpenApi } from '../src/routes/admin.openapi';
import { admin, gateway, http, RouteFiles, testDatabase } from './support/harness';
import { TestUpstream } from './support/upstream';

describe('the OpenAPI document of the admin API', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let gw: RunningGateway;

  beforeAll(async () => {
    [db, monolith] = await Promise.all([testDatabase('gateway_admin_openapi'), TestUpstream.start('monolith')]);
    files = new RouteFiles();
    const file = files.write(`
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${monolith.url} }
default: monolith
routes:
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
`);
    gw = await gateway(db, file);
  });

  afterAll(async () => {
    await gw?.close();
    await monolith?.close();
    await db?.drop();
    files?.remove();
  });

  it('is a well-formed OpenAPI 3.1 document: unique operation ids, path parameters, every schema compiles', () => {
    expect(documentProblems(adminOpenApi())).toEqual([]);
  });

  it('documents every route the admin server registers, and every documented operation is served', () => {
    const routes = registeredRoutes(gw.admin);
    expect(routes.length).toBeGreaterThan(15);
    expect(undocumentedRoutes(adminOpenApi(), routes)).toEqual([]);
    expect(unservedOperations(adminOpenApi(), routes)).toEqual([]);
  });

  it('serves the document at /openapi.json and its rendered docs at /docs, without a token', async () => {
    expect((await http(`${gw.adminUrl}/admin/routes`)).status).toBe(401);
    const doc = await http(`${gw.adminUrl}/openapi.json`);
    expect(doc.status).toBe(200);
    expect(doc.json).toEqual(JSON.parse(JSON.stringify(adminOpenApi())));
    const page = await http(`${gw.adminUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain("fetch('openapi.json')");
  });

  it('answers as the document says', async () => {
    const check = responseChecker(adminOpenApi());
    const calls: Array<[string, string, unknown?]> = [
      ['GET', '/healthz'],
      ['GET', '/admin/routes'],
      ['GET', '/admin/routes/notes-read'],
      ['GET', '/admin/routes/nope'],
      ['PUT', '/admin/routes/notes-read', { mode: 'sideways', reason: 'x', extra: 1 }],
      ['PUT', '/admin/routes/notes-read', []],
      ['PUT', '/admin/routes/nope', { mode: 'service', reason: 'x' }],
      ['PUT', '/admin/routes/notes-read', { mode: 'shadow', reason: 'try it' }],
      ['POST', '/admin/routes/notes-read/rollback', { reason: 'enough' }],
      ['DELETE', '/admin/routes/notes-read/override?reason=back'],
      ['GET', '/admin/audit?limit=5'],
      ['GET', '/admin/audit?limit=0'],
      ['GET', '/admin/status'],
      ['GET', '/admin/whoami'],
      ['GET', '/admin/routes/notes-read/mismatches?limit=5'],
      ['GET', '/admin/routes/notes-read/mismatches/paths'],
      ['GET', '/admin/routes/notes-read/noise'],
      ['GET', '/admin/nothing-here'],
    ];
    const statuses: number[] = [];
    for (const [method, path, body] of calls) {
      const res = await admin(gw, method, path, body);
      statuses.push(res.status);
      expect({ method, path, problems: check(method, path, { status: res.status, headers: res.headers as Record<string, string>, body: res.json ?? (res.text || undefined) }) }).toEqual({ method, path, problems: [] });
    }
    expect(statuses).toEqual([200, 200, 200, 404, 400, 400, 400, 200, 200, 200, 200, 400, 200, 200, 200, 200, 200, 404]);
  });

  it('checks an override body by its schema, with the messages it always had', async () => {
    const errors = async (body: unknown) => (await admin(gw, 'PUT', '/admin/routes/notes-read', body)).json.errors;
    expect(await errors({ mode: 'sideways', reason: 'x', extra: 1 })).toEqual(
      expect.arrayContaining([
        { field: 'extra', message: 'is not a known field (mode, percent, reason)' },
        { field: 'mode', message: 'must be one of monolith, shadow, canary, service, got "sideways"' },
      ]),
    );
    expect(await errors([])).toEqual([{ field: '', message: 'must be a JSON object { mode, percent?, reason }' }]);
    expect(await errors({ mode: 'canary', percent: 'half', reason: ' ' })).toEqual(
      expect.arrayContaining([
        { field: 'percent', message: 'must be a number between 0 and 100, got "half"' },
        { field: 'reason', message: 'is required: say why' },
      ]),
    );
    expect(await errors({ reason: 'x' })).toEqual([{ field: 'mode', message: 'must be one of monolith, shadow, canary, service, got undefined' }]);
    expect(await errors({ mode: 'service', percent: 5, reason: 'x' })).toEqual([{ field: 'percent', message: 'is only for mode canary, not service' }]);
  });

  it("checks the console's action bodies by their schemas (then the CLI's parsers), answering as the document says, changing nothing", async () => {
    const check = responseChecker(adminOpenApi());
    const post = async (path: string, body: unknown) => {
      const res = await admin(gw, 'POST', path, body);
      expect(check('POST', path, { status: res.status, headers: res.headers as Record<string, string>, body: res.json })).toEqual([]);
      expect([res.status, res.json.code]).toEqual([400, 'validation_failed']);
      return res.json.errors;
    };
    expect(await post('/admin/contexts/insights/stage', [])).toEqual([{ field: '', message: 'must be a JSON object { stage, percent?, reason, ackGuardTrip? }' }]);
    expect(await post('/admin/contexts/insights/stage', { stage: 'sideways', percent: 'half', ackGuardTrip: 'yes' })).toEqual(
      expect.arrayContaining([
        { field: 'stage', message: 'must be shadow, canary, reads or complete (writes move with cutover; back with rollback)' },
        { field: 'percent', message: 'must be a number from 0 to 100' },
        { field: 'reason', message: 'is required: say why (at most 2000 characters)' },
        { field: 'ackGuardTrip', message: 'must be true or false' },
      ]),
    );
    expect(await post('/admin/contexts/insights/stage', { stage: 'Shadow', reason: '  ' })).toEqual([{ field: 'reason', message: 'is required: say why (at most 2000 characters)' }]);
    expect(await post('/admin/contexts/insights/ramp', { steps: '50,5', every: 'soon', reason: 'x' })).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'steps' }), expect.objectContaining({ field: 'every' })]),
    );
    expect(await post('/admin/contexts/insights/ramp', { steps: { a: 1 }, every: '10m', reason: 'x' })).toEqual([expect.objectContaining({ field: 'steps' })]);
    expect(await post('/admin/contexts/insights/ramp/pause', {})).toEqual([{ field: 'reason', message: 'is required: say why (at most 2000 characters)' }]);
    expect(await post('/admin/contexts/insights/rollback', { reason: 'x', timeoutSeconds: 0 })).toEqual([{ field: 'timeoutSeconds', message: 'must be a whole number of seconds from 1 to 600' }]);
    expect(await post('/admin/contexts/insights/rollback', { reason: 'x', timeoutSeconds: 2.5 })).toEqual([{ field: 'timeoutSeconds', message: 'must be a whole number of seconds from 1 to 600' }]);
    // Nothing was changed: no audit entry.
    expect((await admin(gw, 'GET', '/admin/audit?limit=50')).json.entries.filter((e: { target: string }) => e.target.startsWith('context:'))).toEqual([]);
  });
});
