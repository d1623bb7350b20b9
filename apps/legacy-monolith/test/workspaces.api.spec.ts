import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { collectAll, type Harness, startHarness } from './support';

describe('workspaces and members API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('legacy_workspaces');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('shows the workspace and lets an admin (only) rename it', async () => {
    const url = `/api/v1/workspaces/${h.a.id}`;
    expect((await h.api('GET', url, { token: h.a.token('viewer') })).body).toMatchObject({ id: h.a.id, name: 'Alpha', version: 1 });
    const maker = await h.api('PATCH', url, { body: { name: 'Alpha 2' }, token: h.a.token('maker') });
    expect(maker.status).toBe(403);
    expect(maker.body.code).toBe('forbidden_role');
    const admin = await h.api('PATCH', url, { body: { name: 'Alpha Inc' } });
    expect(admin.body).toMatchObject({ name: 'Alpha Inc', version: 2 });
  });

  it('manages members: create, read, list, update, delete; duplicates are 409', async () => {
    const base = `/api/v1/workspaces/${h.a.id}/members`;
    const created = await h.api('POST', base, { body: { email: 'New@Alpha.test', name: 'Newbie', role: 'viewer' } });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`${base}/${created.body.id}`);
    expect(created.body).toMatchObject({ email: 'new@alpha.test', role: 'viewer', version: 1 });
    const dup = await h.api('POST', base, { body: { email: 'new@alpha.test', name: 'Again' } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('member_exists');
    expect((await h.api('GET', created.headers.location)).body.name).toBe('Newbie');
    expect((await h.api('PATCH', created.headers.location, { body: { role: 'maker' } })).body).toMatchObject({ role: 'maker', version: 2 });
    const all = (await collectAll(h, `${base}?limit=2`)).items;
    expect(all.map((m) => m.name)).toEqual([...all.map((m) => m.name)].sort());
    expect(all).toHaveLength(4);
    expect((await collectAll(h, `${base}?role=maker`)).items).toHaveLength(2);
    expect((await h.api('POST', base, { body: { email: 'x@y.z', name: 'x' }, token: h.a.token('maker') })).status).toBe(403);
    expect((await h.api('DELETE', created.headers.location)).status).toBe(204);
    expect((await h.api('GET', created.headers.location)).status).toBe(404);
  });

  it('removing a member clears the features they owned and the comments they wrote, in one transaction', async () => {
    const base = `/api/v1/workspaces/${h.a.id}`;
    const m = (await h.api('POST', `${base}/members`, { body: { email: 'leaver@alpha.test', name: 'Leaver', role: 'maker' } })).body;
    const f = (await h.api('POST', `${base}/features`, { body: { title: 'Owned', ownerId: m.id } })).body;
    const leaverToken = signToken({ sub: m.id, tid: h.a.id, role: 'maker' }, DEV_JWT_SECRET);
    const c = (await h.api('POST', `${base}/features/${f.id}/comments`, { body: { body: 'bye' }, token: leaverToken })).body;
    expect(c.authorId).toBe(m.id);
    expect((await h.api('DELETE', `${base}/members/${m.id}`)).status).toBe(204);
    expect((await h.api('GET', `${base}/features/${f.id}`)).body).toMatchObject({ ownerId: null, version: 3 });
    expect((await h.api('GET', `${base}/features/${f.id}/comments/${c.id}`)).body.authorId).toBeNull();
  });
});
