import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { type Harness, startHarness } from './support';

/** Tenancy, roles, authentication, validation, limits: the rules every resource shares. */
describe('API rules', () => {
  let h: Harness;
  /** One resource of each kind in workspace B, to aim at with A's token. */
  const inB: Record<string, string> = {};
  beforeAll(async () => {
    h = await startHarness('legacy_rules', { BODY_LIMIT_BYTES: String(16 * 1024) });
    const b = `/api/v1/workspaces/${h.b.id}`;
    const tb = { token: h.b.token() };
    inB.feature = (await h.api('POST', `${b}/features`, { ...tb, body: { title: 'B secret feature' } })).body.id;
    inB.note = (await h.api('POST', `${b}/notes`, { ...tb, body: { title: 'B secret note', content: 'x', features: [{ featureId: inB.feature }] } })).body.id;
    inB.release = (await h.api('POST', `${b}/releases`, { ...tb, body: { name: 'B release', timeframe: { start: '2025-01-01', end: '2025-01-02' } } })).body.id;
    inB.comment = (await h.api('POST', `${b}/features/${inB.feature}/comments`, { ...tb, body: { body: 'B comment' } })).body.id;
  });
  afterAll(async () => {
    await h?.close();
  });

  const bPaths = () => {
    const b = `/api/v1/workspaces/${h.b.id}`;
    return [
      ['GET', b],
      ['PATCH', b, { name: 'pwned' }],
      ['GET', `${b}/members`],
      ['POST', `${b}/members`, { email: 'evil@a.test', name: 'Evil' }],
      ['GET', `${b}/features`],
      ['GET', `${b}/features/${inB.feature}`],
      ['POST', `${b}/features`, { title: 'injected' }],
      ['PATCH', `${b}/features/${inB.feature}`, { title: 'pwned' }],
      ['DELETE', `${b}/features/${inB.feature}`],
      ['GET', `${b}/features/${inB.feature}/comments`],
      ['POST', `${b}/features/${inB.feature}/comments`, { body: 'injected' }],
      ['GET', `${b}/notes`],
      ['GET', `${b}/notes/${inB.note}`],
      ['POST', `${b}/notes`, { title: 'injected', content: 'x' }],
      ['PATCH', `${b}/notes/${inB.note}`, { title: 'pwned' }],
      ['DELETE', `${b}/notes/${inB.note}`],
      ['GET', `${b}/notes/${inB.note}/features`],
      ['POST', `${b}/notes/${inB.note}/features`, { featureId: inB.feature }],
      ['GET', `${b}/releases`],
      ['GET', `${b}/releases/${inB.release}`],
      ['POST', `${b}/releases/${inB.release}/features`, { featureId: inB.feature }],
      ['DELETE', `${b}/releases/${inB.release}`],
    ] as Array<[string, string, unknown?]>;
  };

  it("refuses every read and write of workspace B with workspace A's token (403 workspace_mismatch), changing nothing", async () => {
    const snapshot = async () => h.ds.query("SELECT 'f' AS t, title AS v, version FROM legacy.features WHERE workspace_id = $1 UNION ALL SELECT 'n', title, version FROM legacy.notes WHERE workspace_id = $1 UNION ALL SELECT 'r', name, version FROM legacy.releases WHERE workspace_id = $1 UNION ALL SELECT 'w', name, version FROM legacy.workspaces WHERE id = $1 ORDER BY 1, 2", [h.b.id]);
    const before = await snapshot();
    for (const [method, url, body] of bPaths()) {
      const res = await h.api(method, url, { body, token: h.a.token('admin') });
      expect({ method, url, status: res.status, code: res.body?.code }).toEqual({ method, url, status: 403, code: 'workspace_mismatch' });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(await snapshot()).toEqual(before);
    expect(await h.count('members', 'workspace_id = $1', [h.b.id])).toBe(3);
  });

  it("does not show B's rows through A's own paths (404, not B's data)", async () => {
    const a = `/api/v1/workspaces/${h.a.id}`;
    for (const url of [`${a}/features/${inB.feature}`, `${a}/notes/${inB.note}`, `${a}/releases/${inB.release}`, `${a}/features/${inB.feature}/comments/${inB.comment}`]) {
      const res = await h.api('GET', url);
      expect({ url, status: res.status, code: res.body.code }).toEqual({ url, status: 404, code: 'not_found' });
    }
    expect((await h.api('PATCH', `${a}/features/${inB.feature}`, { body: { title: 'pwned' } })).status).toBe(404);
    expect((await h.api('DELETE', `${a}/notes/${inB.note}`)).status).toBe(404);
    expect((await h.api('GET', `/api/v1/workspaces/${h.b.id}/features/${inB.feature}`, { token: h.b.token('viewer') })).body.title).toBe('B secret feature');
  });

  it('lets viewers read but not write anything (403 forbidden_role)', async () => {
    const a = `/api/v1/workspaces/${h.a.id}`;
    const viewer = h.a.token('viewer');
    const f = (await h.api('POST', `${a}/features`, { body: { title: 'Viewer target' } })).body.id;
    const n = (await h.api('POST', `${a}/notes`, { body: { title: 'Viewer note', content: 'x' } })).body.id;
    const r = (await h.api('POST', `${a}/releases`, { body: { name: 'Viewer release', timeframe: { start: '2025-01-01', end: '2025-01-01' } } })).body.id;
    expect((await h.api('GET', `${a}/features/${f}`, { token: viewer })).status).toBe(200);
    expect((await h.api('GET', `${a}/notes`, { token: viewer })).status).toBe(200);
    const writes: Array<[string, string, unknown?]> = [
      ['POST', `${a}/features`, { title: 'no' }],
      ['PATCH', `${a}/features/${f}`, { title: 'no' }],
      ['DELETE', `${a}/features/${f}`],
      ['POST', `${a}/features/${f}/comments`, { body: 'no' }],
      ['POST', `${a}/notes`, { title: 'no', content: 'no' }],
      ['PATCH', `${a}/notes/${n}`, { state: 'archived' }],
      ['DELETE', `${a}/notes/${n}`],
      ['POST', `${a}/notes/${n}/features`, { featureId: f }],
      ['POST', `${a}/releases`, { name: 'no', timeframe: { start: '2025-01-01', end: '2025-01-01' } }],
      ['PATCH', `${a}/releases/${r}`, { name: 'no' }],
      ['POST', `${a}/releases/${r}/features`, { featureId: f }],
      ['PATCH', a, { name: 'no' }],
      ['POST', `${a}/members`, { email: 'v@a.test', name: 'v' }],
    ];
    for (const [method, url, body] of writes) {
      const res = await h.api(method, url, { body, token: viewer });
      expect({ method, url, status: res.status, code: res.body.code }).toEqual({ method, url, status: 403, code: 'forbidden_role' });
    }
    expect((await h.api('GET', `${a}/features/${f}`)).body).toMatchObject({ title: 'Viewer target', version: 1 });
  });

  it('needs a valid token: missing, forged, expired → 401 problems', async () => {
    const url = `/api/v1/workspaces/${h.a.id}/features`;
    expect((await h.api('GET', url, { token: null })).body.code).toBe('token_missing');
    const forged = signToken({ sub: h.a.users.admin, tid: h.a.id, role: 'admin' }, 'not-the-secret-at-all-0123456789');
    expect((await h.api('GET', url, { token: forged })).status).toBe(401);
    const expired = signToken({ sub: h.a.users.admin, tid: h.a.id, role: 'admin' }, DEV_JWT_SECRET, { ttlSec: -60 });
    expect((await h.api('GET', url, { token: expired })).body.code).toBe('token_expired');
    expect((await h.api('GET', '/healthz', { token: null })).status).toBe(200);
  });

  it('rejects invalid bodies with 400 and per-field errors, writing nothing', async () => {
    const a = `/api/v1/workspaces/${h.a.id}`;
    const before = { features: await h.count('features'), notes: await h.count('notes'), releases: await h.count('releases') };
    const cases: Array<[string, unknown, Array<{ field: string; message: string }>]> = [
      ['features', { title: 'x', priority: 'high', tags: ['ok', 42], owner: 'me' }, [
        { field: 'owner', message: 'is not a known field' },
        { field: 'priority', message: 'must be an integer' },
        { field: 'tags[1]', message: 'must be a string' },
      ]],
      ['notes', { content: '', source: 'fax', customer: { name: 'no email' } }, [
        { field: 'title', message: 'is required' },
        { field: 'content', message: 'must not be empty' },
        { field: 'source', message: 'must be one of email, slack, intercom, manual' },
        { field: 'customer.email', message: 'is required' },
      ]],
      ['releases', { name: 'R', timeframe: { start: 'soon' }, state: 'shipped' }, [
        { field: 'timeframe.start', message: 'must be a date (YYYY-MM-DD)' },
        { field: 'timeframe.end', message: 'is required' },
        { field: 'state', message: 'must be one of planned, in-progress, released' },
      ]],
      ['features', [], [{ field: '(body)', message: 'must be a JSON object' }]],
    ];
    for (const [resource, body, errors] of cases) {
      const res = await h.api('POST', `${a}/${resource}`, { body });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.code).toBe('validation_failed');
      expect([...res.body.errors].sort((x: any, y: any) => x.field.localeCompare(y.field))).toEqual([...errors].sort((x, y) => x.field.localeCompare(y.field)));
    }
    const f = (await h.api('POST', `${a}/features`, { body: { title: 'Stable' } })).body;
    const patch = await h.api('PATCH', `${a}/features/${f.id}`, { body: { title: 'Changed', status: 'shipped' } });
    expect(patch.status).toBe(400);
    expect((await h.api('GET', `${a}/features/${f.id}`)).body).toMatchObject({ title: 'Stable', version: 1 });
    expect((await h.api('PATCH', `${a}/features/${f.id}`, { body: {} })).status).toBe(400);
    expect({ features: await h.count('features'), notes: await h.count('notes'), releases: await h.count('releases') }).toEqual({
      ...before,
      features: before.features + 1,
    });
  });

  it('answers malformed JSON with 400 and a body over the limit with 413, writing nothing', async () => {
    const url = `/api/v1/workspaces/${h.a.id}/notes`;
    const before = await h.count('notes');
    const malformed = await h.api('POST', url, { raw: '{"title": "x",' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('malformed_json');
    const big = await h.api('POST', url, { body: { title: 'big', content: 'x'.repeat(20 * 1024) } });
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(big.body.code).toBe('payload_too_large');
    expect(await h.count('notes')).toBe(before);
  });

  it('accepts JSON only: a form, plain text or any other body gets 415 unsupported_media_type, writing nothing', async () => {
    const url = `/api/v1/workspaces/${h.a.id}/notes`;
    const before = await h.count('notes');
    for (const [type, raw] of [
      ['application/x-www-form-urlencoded', 'title=t&content=c'],
      ['text/plain', '{"title":"t","content":"c"}'],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--x--\r\n'],
      ['application/xml', '<note><title>t</title></note>'],
    ]) {
      const res = await h.api('POST', url, { raw, headers: { 'content-type': type } });
      expect({ type, status: res.status, code: res.body?.code }).toEqual({ type, status: 415, code: 'unsupported_media_type' });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect(await h.count('notes')).toBe(before);
    const json = await h.api('POST', url, { raw: '{"title":"t","content":"c"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(json.status).toBe(201);
  });

  it('answers 404 not_found for missing or malformed ids and route_not_found for unknown routes', async () => {
    const a = `/api/v1/workspaces/${h.a.id}`;
    for (const url of [`${a}/features/00000000-0000-4000-a000-00000000dead`, `${a}/notes/not-a-uuid`, `${a}/releases/00000000-0000-4000-a000-00000000dead/features`, `${a}/members/00000000-0000-4000-a000-00000000dead`]) {
      const res = await h.api('GET', url);
      expect({ url, status: res.status, code: res.body.code }).toEqual({ url, status: 404, code: 'not_found' });
    }
    expect((await h.api('GET', `${a}/widgets`)).body.code).toBe('route_not_found');
    const other = signToken({ sub: 'someone', tid: '00000000-0000-4000-a000-00000000dead', role: 'admin' }, DEV_JWT_SECRET);
    expect((await h.api('GET', '/api/v1/workspaces/00000000-0000-4000-a000-00000000dead', { token: other })).status).toBe(404);
  });

  it('answers a forged cursor with 400, never 500', async () => {
    const url = `/api/v1/workspaces/${h.a.id}/features`;
    for (const title of ['Cursor 1', 'Cursor 2']) await h.api('POST', url, { body: { title } });
    const first = await h.api('GET', `${url}?limit=1`);
    expect(first.body.nextCursor).toBeTruthy();
    const real = JSON.parse(Buffer.from(first.body.nextCursor, 'base64url').toString());
    const forge = (patch: object) => Buffer.from(JSON.stringify({ ...real, ...patch })).toString('base64url');
    for (const cursor of [forge({ v: '2025' }), forge({ v: '2025-13-45T00:00:00.000Z' }), forge({ id: 'x'.repeat(36) }), 'bm90IGpzb24', '%%%']) {
      const res = await h.api('GET', `${url}?limit=1&cursor=${encodeURIComponent(cursor)}`);
      expect({ cursor, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({ cursor, status: 400, field: 'cursor' });
    }
  });

  it('propagates x-request-id and serves health, readiness and metrics', async () => {
    const res = await h.api('GET', `/api/v1/workspaces/${h.a.id}/features/nope`, { headers: { 'x-request-id': 'req-123' } });
    expect(res.headers['x-request-id']).toBe('req-123');
    expect(res.body.requestId).toBe('req-123');
    expect((await h.api('GET', '/readyz', { token: null })).body).toMatchObject({ status: 'ready', service: 'legacy-monolith' });
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('http_server_request_duration_seconds');
  });
});
