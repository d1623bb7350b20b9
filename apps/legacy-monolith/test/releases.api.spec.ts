import { collectAll, type Harness, startHarness } from './support';

describe('releases API', () => {
  let h: Harness;
  let base: string;
  let features: string[];
  beforeAll(async () => {
    h = await startHarness('legacy_releases');
    base = `/api/v1/workspaces/${h.a.id}/releases`;
    features = [];
    for (const title of ['Export', 'SSO', 'Dark mode']) {
      features.push((await h.api('POST', `/api/v1/workspaces/${h.a.id}/features`, { body: { title } })).body.id);
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates a release with its planned features, reads, updates and deletes it', async () => {
    const res = await h.api('POST', base, {
      body: { name: '2025 Q1', timeframe: { start: '2025-01-01', end: '2025-03-31' }, featureIds: [features[0], features[1]] },
      token: h.a.token('maker'),
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`${base}/${res.body.id}`);
    expect(res.body).toMatchObject({ name: '2025 Q1', state: 'planned', timeframe: { start: '2025-01-01', end: '2025-03-31' }, version: 1 });
    expect([...res.body.featureIds].sort()).toEqual([features[0], features[1]].sort());
    expect((await h.api('GET', res.headers.location)).body).toEqual(res.body);

    const patched = await h.api('PATCH', res.headers.location, { body: { state: 'in-progress', timeframe: { start: '2025-01-15', end: '2025-04-15' } } });
    expect(patched.body).toMatchObject({ state: 'in-progress', timeframe: { start: '2025-01-15', end: '2025-04-15' }, version: 2 });

    expect((await h.api('DELETE', res.headers.location)).status).toBe(204);
    expect((await h.api('GET', res.headers.location)).status).toBe(404);
    expect(await h.count('release_features', 'release_id = $1', [res.body.id])).toBe(0);
  });

  it('plans and unplans features through /releases/:id/features', async () => {
    const r = (await h.api('POST', base, { body: { name: 'Plan me', timeframe: { start: '2025-05-01', end: '2025-05-31' } } })).body;
    const url = `${base}/${r.id}/features`;
    const planned = await h.api('POST', url, { body: { featureId: features[2] } });
    expect(planned.status).toBe(201);
    expect(planned.headers.location).toBe(`${url}/${features[2]}`);
    expect((await h.api('POST', url, { body: { featureId: features[2] } })).body.code).toBe('already_planned');
    expect((await h.api('GET', `${url}/${features[2]}`)).body).toMatchObject({ releaseId: r.id, featureId: features[2] });
    expect((await h.api('GET', url)).body.items.map((p: any) => p.featureId)).toEqual([features[2]]);
    expect((await h.api('GET', `${base}?featureId=${features[2]}`)).body.items.map((x: any) => x.id)).toEqual([r.id]);
    expect((await h.api('DELETE', `${url}/${features[2]}`)).status).toBe(204);
    expect((await h.api('GET', `${base}/${r.id}`)).body).toMatchObject({ version: 3, featureIds: [] });
  });

  it('deleting a feature removes it from plans and bumps the release version', async () => {
    const f = (await h.api('POST', `/api/v1/workspaces/${h.a.id}/features`, { body: { title: 'Doomed' } })).body.id;
    const r = (await h.api('POST', base, { body: { name: 'R', timeframe: { start: '2025-06-01', end: '2025-06-30' }, featureIds: [f] } })).body;
    expect((await h.api('DELETE', `/api/v1/workspaces/${h.a.id}/features/${f}`)).status).toBe(204);
    expect((await h.api('GET', `${base}/${r.id}`)).body).toMatchObject({ featureIds: [], version: 2 });
  });

  it('validates timeframes and refuses unknown features without writing anything', async () => {
    const before = await h.count('releases');
    const backwards = await h.api('POST', base, { body: { name: 'Backwards', timeframe: { start: '2025-03-01', end: '2025-02-01' } } });
    expect(backwards.status).toBe(400);
    expect(backwards.body.errors).toEqual([{ field: 'timeframe.end', message: 'must not be before the start' }]);
    const unknown = await h.api('POST', base, {
      body: { name: 'Half', timeframe: { start: '2025-03-01', end: '2025-03-02' }, featureIds: [features[0], '00000000-0000-4000-a000-00000000f00d'] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ field: 'featureIds[1]', message: 'is not a feature of this workspace' }]);
    expect(await h.count('releases')).toBe(before);
  });

  it('lists by start date with a cursor, filters by state', async () => {
    await h.ds.query('DELETE FROM legacy.releases WHERE workspace_id = $1', [h.a.id]);
    for (let i = 0; i < 12; i++) {
      const month = String((i % 12) + 1).padStart(2, '0');
      await h.api('POST', base, {
        body: { name: `R${i}`, timeframe: { start: `2026-${month}-01`, end: `2026-${month}-28` }, state: i < 4 ? 'released' : 'planned' },
      });
    }
    const { items, pages } = await collectAll(h, `${base}?limit=5`);
    expect(pages).toBe(3);
    expect(items.map((r) => r.timeframe.start)).toEqual([...items.map((r) => r.timeframe.start)].sort());
    expect((await collectAll(h, `${base}?state=released&sort=-startsOn&limit=3`)).items.map((r) => r.name)).toEqual(['R3', 'R2', 'R1', 'R0']);
  });
});
