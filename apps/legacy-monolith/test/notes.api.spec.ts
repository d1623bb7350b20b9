import { collectAll, type Harness, startHarness } from './support';

describe('notes API', () => {
  let h: Harness;
  let base: string;
  let features: string[];
  beforeAll(async () => {
    h = await startHarness('legacy_notes');
    base = `/api/v1/workspaces/${h.a.id}/notes`;
    features = [];
    for (const title of ['Export', 'SSO', 'Dark mode']) {
      features.push((await h.api('POST', `/api/v1/workspaces/${h.a.id}/features`, { body: { title } })).body.id);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates a note with its customer inline and feature links in one request, then reads, updates, deletes it', async () => {
    const res = await h.api('POST', base, {
      token: h.a.token('maker'),
      body: {
        title: 'Needs CSV export',
        content: 'Finance exports everything by hand every month.',
        source: 'intercom',
        customer: { email: 'Ana@Example.com', name: 'Ana', company: 'Example Ltd' },
        tags: ['export'],
        features: [{ featureId: features[0], importance: 'critical' }, { featureId: features[1] }],
      },
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`${base}/${res.body.id}`);
    expect(res.body).toMatchObject({
      source: 'intercom',
      state: 'unprocessed',
      customer: { email: 'ana@example.com', name: 'Ana', company: 'Example Ltd' },
      tags: ['export'],
      version: 1,
    });
    // Links written together share created_at and are listed by (created_at, featureId).
    const byId = (x: { featureId: string }, y: { featureId: string }) => x.featureId.localeCompare(y.featureId);
    expect(res.body.features).toEqual(
      [
        { featureId: features[0], importance: 'critical' },
        { featureId: features[1], importance: 'medium' },
      ].sort(byId),
    );
    const [row] = await h.ds.query('SELECT customer_email, customer_name, customer_company FROM legacy.notes WHERE id = $1', [res.body.id]);
    expect(row).toEqual({ customer_email: 'ana@example.com', customer_name: 'Ana', customer_company: 'Example Ltd' });

    expect((await h.api('GET', res.headers.location)).body).toEqual(res.body);
    const patched = await h.api('PATCH', res.headers.location, { body: { state: 'processed', customer: null } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ state: 'processed', customer: null, version: 2, features: res.body.features });

    expect((await h.api('DELETE', res.headers.location)).status).toBe(204);
    expect((await h.api('GET', res.headers.location)).status).toBe(404);
    expect(await h.count('note_features', 'note_id = $1', [res.body.id])).toBe(0);
  });

  it('links, re-weights and unlinks features through /notes/:id/features, bumping the note version', async () => {
    const note = (await h.api('POST', base, { body: { title: 'Links', content: 'c' } })).body;
    const links = `${base}/${note.id}/features`;
    const added = await h.api('POST', links, { body: { featureId: features[2], importance: 'high' } });
    expect(added.status).toBe(201);
    expect(added.headers.location).toBe(`${links}/${features[2]}`);
    expect(added.body).toMatchObject({ noteId: note.id, featureId: features[2], importance: 'high' });
    expect((await h.api('POST', links, { body: { featureId: features[2] } })).body.code).toBe('already_linked');
    expect((await h.api('PATCH', `${links}/${features[2]}`, { body: { importance: 'low' } })).body.importance).toBe('low');
    expect((await h.api('GET', `${links}/${features[2]}`)).body.importance).toBe('low');
    expect((await h.api('GET', links)).body).toMatchObject({ items: [{ featureId: features[2], importance: 'low' }], nextCursor: null });
    expect((await h.api('DELETE', `${links}/${features[2]}`)).status).toBe(204);
    expect((await h.api('DELETE', `${links}/${features[2]}`)).status).toBe(404);
    expect((await h.api('GET', `${base}/${note.id}`)).body).toMatchObject({ version: 4, features: [] });
    const other = await h.api('POST', links, { body: { featureId: '00000000-0000-4000-a000-00000000beef' } });
    expect(other.status).toBe(400);
    expect(other.body.errors).toEqual([{ field: 'featureId', message: 'is not a feature of this workspace' }]);
    expect((await h.api('GET', `${base}/${note.id}`)).body.version).toBe(4); // the failed link changed nothing
  });

  it('writes nothing when the second table of a multi-table write fails (unknown or foreign feature)', async () => {
    const bFeature = (await h.api('POST', `/api/v1/workspaces/${h.b.id}/features`, { body: { title: 'B feature' }, token: h.b.token() })).body.id;
    const notesBefore = await h.count('notes');
    const linksBefore = await h.count('note_features');
    for (const bad of ['00000000-0000-4000-a000-00000000f00d', bFeature]) {
      const res = await h.api('POST', base, {
        body: { title: 'Half?', content: 'c', features: [{ featureId: features[0] }, { featureId: bad, importance: 'high' }] },
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'features[1].featureId', message: 'is not a feature of this workspace' }] });
    }
    expect(await h.count('notes')).toBe(notesBefore);
    expect(await h.count('note_features')).toBe(linksBefore);
    expect(await h.count('notes', "title = 'Half?'")).toBe(0);
  });

  describe('lists', () => {
    beforeAll(async () => {
      await h.ds.query('DELETE FROM legacy.notes WHERE workspace_id = $1', [h.a.id]);
      // 37 notes sharing one created_at: the order must still be total (ties broken by id).
      await h.ds.query(
        `INSERT INTO legacy.notes (workspace_id, title, content, source, customer_email, tags, state, created_at, updated_at)
         SELECT $1, 'Note ' || lpad(i::text, 2, '0'), 'content', (ARRAY['email','slack','intercom','manual'])[1 + i % 4],
                'customer' || (i % 3) || '@example.com', CASE WHEN i % 2 = 0 THEN ARRAY['even'] ELSE ARRAY['odd'] END,
                (ARRAY['unprocessed','processed','archived'])[1 + i % 3], '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z'
           FROM generate_series(1, 37) AS i`,
        [h.a.id],
      );
      const someNotes = await h.ds.query('SELECT id FROM legacy.notes WHERE workspace_id = $1 ORDER BY title LIMIT 4', [h.a.id]);
      for (const n of someNotes) {
        await h.ds.query('INSERT INTO legacy.note_features (note_id, feature_id, workspace_id) VALUES ($1, $2, $3)', [n.id, features[1], h.a.id]);
      }
    });

    it('pages over identical timestamps without duplicates or gaps', async () => {
      for (const sort of ['createdAt', '-createdAt', 'title', '-updatedAt']) {
        const { items, pages } = await collectAll(h, `${base}?limit=10&sort=${sort}`);
        expect(pages).toBe(4);
        expect(items).toHaveLength(37);
        expect(new Set(items.map((n) => n.id)).size).toBe(37);
      }
      const titles = (await collectAll(h, `${base}?limit=8&sort=-title`)).items.map((n) => n.title);
      expect(titles).toEqual([...titles].sort().reverse());
    });

    it('filters by state, source, tag, customer email and linked feature', async () => {
      const all = (await collectAll(h, `${base}?limit=200`)).items;
      const expectFilter = async (query: string, predicate: (n: any) => boolean) => {
        const got = (await collectAll(h, `${base}?limit=7&${query}`)).items;
        expect(got.length).toBeGreaterThan(0);
        expect(got.map((n) => n.id).sort()).toEqual(all.filter(predicate).map((n) => n.id).sort());
      };
      await expectFilter('state=archived', (n) => n.state === 'archived');
      await expectFilter('source=slack', (n) => n.source === 'slack');
      await expectFilter('tag=even', (n) => n.tags.includes('even'));
      await expectFilter('customerEmail=CUSTOMER1%40example.com', (n) => n.customer?.email === 'customer1@example.com');
      await expectFilter('state=processed&source=email', (n) => n.state === 'processed' && n.source === 'email');
      expect((await collectAll(h, `${base}?featureId=${features[1]}`)).items).toHaveLength(4);
      const bad = await h.api('GET', `${base}?state=done&colour=red&limit=1000`);
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual(['colour', 'limit', 'state']);
    });
  });
});
