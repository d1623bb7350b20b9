import { collectAll, type Harness, startHarness } from './support';

describe('features API', () => {
  let h: Harness;
  let base: string;
  beforeAll(async () => {
    h = await startHarness('legacy_features');
    base = `/api/v1/workspaces/${h.a.id}/features`;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates (201 + Location), reads, updates (version bump) and deletes (204) a feature', async () => {
    const created = await h.api('POST', base, {
      body: { title: 'Dark mode', description: 'Night owls', status: 'planned', priority: 2, ownerId: h.a.users.maker, tags: ['UI', 'theme'] },
      token: h.a.token('maker'),
    });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`${base}/${created.body.id}`);
    expect(created.body).toMatchObject({
      workspaceId: h.a.id,
      title: 'Dark mode',
      status: 'planned',
      priority: 2,
      ownerId: h.a.users.maker,
      tags: ['ui', 'theme'],
      version: 1,
    });

    const got = await h.api('GET', created.headers.location);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    const patched = await h.api('PATCH', created.headers.location, { body: { status: 'in-progress', ownerId: null } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: 'in-progress', ownerId: null, title: 'Dark mode', version: 2 });
    expect(new Date(patched.body.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(created.body.updatedAt).getTime());

    const deleted = await h.api('DELETE', created.headers.location);
    expect(deleted.status).toBe(204);
    expect((await h.api('GET', created.headers.location)).status).toBe(404);
    expect((await h.api('DELETE', created.headers.location)).status).toBe(404);
  });

  it('refuses an owner who is not a member of the workspace (another workspace\'s member included)', async () => {
    const before = await h.count('features');
    const res = await h.api('POST', base, { body: { title: 'x', ownerId: h.b.users.maker } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'ownerId', message: 'is not a member of this workspace' }] });
    expect(await h.count('features')).toBe(before);
  });

  it('manages comments on a feature, each change bumping the feature version', async () => {
    const f = (await h.api('POST', base, { body: { title: 'Commented' } })).body;
    const url = `${base}/${f.id}/comments`;
    const c1 = await h.api('POST', url, { body: { body: 'First!' }, token: h.a.token('maker') });
    expect(c1.status).toBe(201);
    expect(c1.headers.location).toBe(`${url}/${c1.body.id}`);
    expect(c1.body).toMatchObject({ featureId: f.id, authorId: h.a.users.maker, body: 'First!' });
    const c2 = await h.api('POST', url, { body: { body: 'Second' } });
    expect((await h.api('PATCH', `${url}/${c2.body.id}`, { body: { body: 'Second, edited' } })).body.body).toBe('Second, edited');
    expect((await h.api('GET', `${url}/${c1.body.id}`)).body.body).toBe('First!');
    const list = await h.api('GET', url);
    expect(list.body.items.map((c: any) => c.body)).toEqual(['First!', 'Second, edited']);
    expect((await h.api('DELETE', `${url}/${c1.body.id}`)).status).toBe(204);
    expect((await h.api('GET', url)).body.items).toHaveLength(1);
    expect((await h.api('GET', `${base}/${f.id}`)).body.version).toBe(5); // 3 comment changes + 1 delete after create
    expect((await h.api('POST', url, { body: { body: '' } })).body.errors).toEqual([{ field: 'body', message: 'must not be empty' }]);
    expect((await h.api('GET', `${base}/00000000-0000-4000-a000-00000000dead/comments`)).status).toBe(404);
  });

  describe('lists', () => {
    let ids: string[];
    beforeAll(async () => {
      // 23 features in a fresh workspace-wide state: statuses and tags in a pattern, priorities 1..5.
      await h.ds.query('DELETE FROM legacy.features WHERE workspace_id = $1', [h.a.id]);
      ids = [];
      for (let i = 0; i < 23; i++) {
        const res = await h.api('POST', base, {
          body: {
            title: `Feature ${String.fromCharCode(97 + ((i * 7) % 23))}${i}`,
            status: i % 3 === 0 ? 'done' : 'new',
            priority: (i % 5) + 1,
            tags: i % 2 === 0 ? ['even'] : ['odd'],
          },
        });
        ids.push(res.body.id);
      }
      // Another workspace's rows never show up.
      await h.api('POST', `/api/v1/workspaces/${h.b.id}/features`, { body: { title: 'B only' }, token: h.b.token() });
    });

    it('pages through everything with a cursor: no duplicates, no gaps, newest first by default', async () => {
      const { items, pages } = await collectAll(h, `${base}?limit=5`);
      expect(pages).toBe(5);
      expect(items).toHaveLength(23);
      expect(new Set(items.map((f) => f.id))).toEqual(new Set(ids));
      const key = (f: any) => `${f.createdAt}|${f.id}`;
      expect(items.map(key)).toEqual(items.map(key).sort().reverse());
    });

    it('sorts by a whitelisted field in both directions, ties broken by id', async () => {
      const byTitle = (await collectAll(h, `${base}?sort=title&limit=4`)).items.map((f) => f.title);
      expect(byTitle).toEqual([...byTitle].sort());
      expect(byTitle).toHaveLength(23);
      const byPriority = (await collectAll(h, `${base}?sort=-priority&limit=6`)).items;
      expect(byPriority.map((f) => f.priority)).toEqual([...byPriority.map((f) => f.priority)].sort((x, y) => y - x));
      expect(new Set(byPriority.map((f) => f.id)).size).toBe(23);
      const bad = await h.api('GET', `${base}?sort=colour`);
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].field).toBe('sort');
    });

    it('answers sort keys and parameters naming prototype properties (constructor, __proto__, toString) with 400, on features and members', async () => {
      for (const list of [base, `/api/v1/workspaces/${h.a.id}/members`]) {
        for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
          for (const query of [`sort=${key}`, `sort=-${key}`, `${key}=x`]) {
            const res = await h.api('GET', `${list}?${query}`);
            expect({ list, query, status: res.status, field: res.body?.errors?.[0]?.field }).toEqual({ list, query, status: 400, field: query.startsWith('sort=') ? 'sort' : key });
            expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          }
        }
      }
    });

    it('filters by status and tag, and pages within the filter', async () => {
      const done = (await collectAll(h, `${base}?status=done&limit=3`)).items;
      expect(done).toHaveLength(8);
      expect(done.every((f) => f.status === 'done')).toBe(true);
      const odd = (await collectAll(h, `${base}?tag=ODD&limit=5&sort=createdAt`)).items;
      expect(odd).toHaveLength(11);
      expect(odd.every((f) => f.tags.includes('odd'))).toBe(true);
      const first = await h.api('GET', `${base}?status=done&limit=3`);
      const replayed = await h.api('GET', `${base}?status=new&limit=3&cursor=${first.body.nextCursor}`);
      expect(replayed.status).toBe(400);
      expect(replayed.body.errors[0].field).toBe('cursor');
    });
  });
});
