/**
 * The releases API as an executable contract. `describeReleasesContract(target)` declares one
 * Jest suite of HTTP cases; the monolith and the roadmaps service both run it, each with its own
 * target: a base URL, a token factory (through `workspace()`), and seeding hooks for what the API
 * cannot create itself (features belong to another context; releases with identical timestamps).
 * Nothing here knows how either side is built: only HTTP and JSON.
 *
 * What it pins: paths, status codes, bodies (timeframe as calendar dates, the plan as
 * `featureIds` in planning order, a planned feature as { releaseId, featureId, createdAt }),
 * `version` moves (+1 per change, plan changes included), Location headers, keyset pages over
 * ties in every sort, filters, cursors bound to their sort and filters, per-field validation
 * errors, problem+json codes (401, 403 workspace_mismatch and forbidden_role, 404 not_found and
 * route_not_found, 409 already_planned, 400 malformed_json, validation_failed, cursor, 413). The
 * scaffolding and the checks every resource passes alike are @carve/shared-contract-kit's
 * `describeResourceContract`.
 */
import { randomUUID } from 'node:crypto';
import { byField, type ContractRequest, type ContractTarget, type ContractWorkspace, CURSOR_ERROR, describeResourceContract, type ValidationCase } from '@carve/shared-contract-kit';
import { releasesOperations } from './releases.api';

export type { ContractRole, ContractWorkspace } from '@carve/shared-contract-kit';

/** A release as it exists on both sides, for seeding: version 1, no plan. */
export interface SeedRelease {
  id: string;
  name: string;
  description: string;
  startsOn: string;
  endsOn: string;
  state: 'planned' | 'in-progress' | 'released';
  createdAt: string;
  updatedAt: string;
}

export interface ReleasesContractTarget extends ContractTarget {
  /** Releases as if they had been written long ago, at version 1 without a plan (same rows on either side). */
  seedReleases(ws: ContractWorkspace, releases: SeedRelease[]): Promise<void>;
}

export function describeReleasesContract(target: ReleasesContractTarget): void {
  describeResourceContract(target, { title: 'releases API contract', resource: 'releases', operations: releasesOperations, minChecked: 50 }, (s) => {
    const { api, collectAll } = s;

    it('creates a release with its plan in one request, reads, updates and deletes it', async () => {
      const res = await api('POST', s.base, {
        token: s.a.token('maker'),
        body: { name: ' 2025 Q1 ', timeframe: { start: '2025-01-01', end: '2025-03-31' }, featureIds: [s.features[1], s.features[0]] },
      });
      expect(res.status).toBe(201);
      expect(res.headers['location']).toBe(`${s.base}/${res.body.id}`);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        workspaceId: s.a.id,
        name: '2025 Q1',
        description: '',
        timeframe: { start: '2025-01-01', end: '2025-03-31' },
        state: 'planned',
        version: 1,
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        updatedAt: res.body.createdAt,
        // Planned in one transaction: one createdAt, then by feature id.
        featureIds: [s.features[0], s.features[1]].sort(),
      });
      const url = res.headers['location'];
      expect((await api('GET', url, { token: s.a.token('viewer') })).body).toEqual(res.body);

      const patched = await api('PATCH', url, { token: s.a.token(), body: { state: 'in-progress', timeframe: { start: '2025-01-15', end: '2025-04-15' }, description: 'Spring' } });
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual({ ...res.body, state: 'in-progress', timeframe: { start: '2025-01-15', end: '2025-04-15' }, description: 'Spring', version: 2, updatedAt: patched.body.updatedAt });
      expect(patched.body.updatedAt >= res.body.updatedAt).toBe(true);
      expect((await api('PATCH', url, { token: s.a.token(), body: { name: 'Renamed' } })).body).toMatchObject({ name: 'Renamed', version: 3, featureIds: res.body.featureIds });

      expect((await api('DELETE', url, { token: s.a.token() })).status).toBe(204);
      const gone = await api('GET', url, { token: s.a.token() });
      expect({ status: gone.status, code: gone.body.code, detail: gone.body.detail }).toEqual({ status: 404, code: 'not_found', detail: 'The release was not found.' });
      expect((await api('DELETE', url, { token: s.a.token() })).status).toBe(404);
      expect((await api('PATCH', url, { token: s.a.token(), body: { name: 'x' } })).status).toBe(404);
      expect((await api('GET', `${url}/features`, { token: s.a.token() })).status).toBe(404);
    });

    it('plans and unplans features through /releases/:id/features, each change moving the release version', async () => {
      const r = (await api('POST', s.base, { token: s.a.token(), body: { name: 'Plan me', timeframe: { start: '2025-05-01', end: '2025-05-31' } } })).body;
      const plan = `${s.base}/${r.id}/features`;
      const added = await api('POST', plan, { token: s.a.token(), body: { featureId: s.features[2] } });
      expect(added.status).toBe(201);
      expect(added.headers['location']).toBe(`${plan}/${s.features[2]}`);
      expect(added.body).toEqual({ releaseId: r.id, featureId: s.features[2], createdAt: expect.any(String) });
      const dup = await api('POST', plan, { token: s.a.token(), body: { featureId: s.features[2] } });
      expect({ status: dup.status, code: dup.body.code, detail: dup.body.detail }).toEqual({ status: 409, code: 'already_planned', detail: 'The feature is already planned in this release.' });
      expect((await api('GET', `${plan}/${s.features[2]}`, { token: s.a.token('viewer') })).body).toEqual(added.body);
      expect((await api('GET', plan, { token: s.a.token() })).body).toEqual({ items: [added.body], nextCursor: null });
      const after = (await api('GET', `${s.base}/${r.id}`, { token: s.a.token() })).body;
      expect(after).toMatchObject({ version: 2, featureIds: [s.features[2]] });
      expect(after.updatedAt).toBe(added.body.createdAt);
      expect((await api('GET', `${s.base}?featureId=${s.features[2]}`, { token: s.a.token() })).body.items.map((x: any) => x.id)).toEqual([r.id]);

      expect((await api('DELETE', `${plan}/${s.features[2]}`, { token: s.a.token() })).status).toBe(204);
      const missing = await api('DELETE', `${plan}/${s.features[2]}`, { token: s.a.token() });
      expect({ status: missing.status, detail: missing.body.detail }).toEqual({ status: 404, detail: 'The feature in this release was not found.' });
      expect((await api('GET', `${plan}/${s.features[2]}`, { token: s.a.token() })).status).toBe(404);
      expect((await api('GET', `${s.base}/${r.id}`, { token: s.a.token() })).body).toMatchObject({ version: 3, featureIds: [] });

      const unknown = await api('POST', plan, { token: s.a.token(), body: { featureId: '00000000-0000-4000-a000-00000000beef' } });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'featureId', message: 'is not a feature of this workspace' }] });
      expect((await api('GET', `${s.base}/${r.id}`, { token: s.a.token() })).body.version).toBe(3); // the failed plan changed nothing
      expect((await api('POST', `${s.base}/${randomUUID()}/features`, { token: s.a.token(), body: { featureId: s.features[0] } })).status).toBe(404);
    });

    it("writes nothing when a planned feature is unknown or another workspace's", async () => {
      const [bFeature] = await target.features(s.b, ['B feature']);
      const before = (await collectAll(`${s.base}?limit=200`, s.a.token())).items.length;
      for (const bad of ['00000000-0000-4000-a000-00000000f00d', bFeature]) {
        const res = await api('POST', s.base, { token: s.a.token(), body: { name: 'Half?', timeframe: { start: '2025-03-01', end: '2025-03-02' }, featureIds: [s.features[0], bad] } });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'featureIds[1]', message: 'is not a feature of this workspace' }] });
      }
      expect((await collectAll(`${s.base}?limit=200`, s.a.token())).items.length).toBe(before);
    });

    it('rejects invalid bodies with 400 validation_failed and the same per-field errors', async () => {
      const r = (await api('POST', s.base, { token: s.a.token(), body: { name: 'Target', timeframe: { start: '2025-07-01', end: '2025-07-31' } } })).body;
      const cases: ValidationCase[] = [
        ['POST', s.base, {}, [
          { field: 'name', message: 'is required' },
          { field: 'timeframe', message: 'is required' },
        ]],
        ['POST', s.base, { name: 'x'.repeat(201), timeframe: { start: '2025-13-01', end: 'soon' }, state: 'done', featureIds: ['nope', 42], colour: 'red' }, [
          { field: 'colour', message: 'is not a known field' },
          { field: 'featureIds[0]', message: 'must be a UUID' },
          { field: 'featureIds[1]', message: 'must be a UUID' },
          { field: 'name', message: 'must be at most 200 characters long' },
          { field: 'state', message: 'must be one of planned, in-progress, released' },
          { field: 'timeframe.end', message: 'must be a date (YYYY-MM-DD)' },
          { field: 'timeframe.start', message: 'is not a real calendar date' },
        ]],
        ['POST', s.base, { name: 'ok', description: 5, timeframe: { start: '2025-03-01', end: '2025-02-01' }, featureIds: [s.features[0], s.features[0]] }, [
          { field: 'description', message: 'must be a string' },
          { field: 'featureIds[1]', message: 'plans the same feature twice' },
          { field: 'timeframe.end', message: 'must not be before the start' },
        ]],
        ['POST', s.base, { name: 'n', timeframe: '2025' }, [{ field: 'timeframe', message: 'must be a JSON object' }]],
        ['POST', s.base, [], [{ field: '(body)', message: 'must be a JSON object' }]],
        ['PATCH', `${s.base}/${r.id}`, {}, [{ field: '(body)', message: 'must change at least one field' }]],
        ['PATCH', `${s.base}/${r.id}`, { featureIds: [], timeframe: { start: '2025-01-01' } }, [
          { field: 'featureIds', message: 'is not a known field' },
          { field: 'timeframe.end', message: 'is required' },
        ]],
        ['PATCH', `${s.base}/${r.id}`, { timeframe: { start: '2025-09-01', end: '2025-08-01' } }, [{ field: 'timeframe.end', message: 'must not be before the start' }]],
        ['POST', `${s.base}/${r.id}/features`, {}, [{ field: 'featureId', message: 'is required' }]],
        ['POST', `${s.base}/${r.id}/features`, { featureId: 'x', extra: 1 }, [
          { field: 'extra', message: 'is not a known field' },
          { field: 'featureId', message: 'must be a UUID' },
        ]],
      ];
      await s.expectValidationErrors(cases, s.a.token());
      expect((await api('GET', `${s.base}/${r.id}`, { token: s.a.token() })).body).toMatchObject({ name: 'Target', version: 1 });
    });

    describe('lists', () => {
      let lists: ContractWorkspace;
      let lbase: string;
      let seeded: SeedRelease[];
      beforeAll(async () => {
        lists = await target.workspace();
        lbase = `/api/v1/workspaces/${lists.id}/releases`;
        // 23 releases sharing one timestamp, names and start dates repeating: the order must still be total (ties broken by id).
        seeded = Array.from({ length: 23 }, (_, k) => {
          const i = k + 1;
          return {
            id: randomUUID(),
            name: `Release ${String(i % 9).padStart(2, '0')}`,
            description: i % 2 ? 'odd' : 'even',
            startsOn: `2026-${String((i % 6) + 1).padStart(2, '0')}-01`,
            endsOn: '2026-12-31',
            state: (['planned', 'in-progress', 'released'] as const)[i % 3],
            createdAt: '2025-01-01T00:00:00.000Z',
            updatedAt: '2025-01-01T00:00:00.000Z',
          };
        });
        await target.seedReleases(lists, seeded);
      });

      it('pages over ties without duplicates or gaps, in every sort', async () => {
        const key: Record<string, (r: any) => string> = {
          createdAt: (r) => r.createdAt,
          updatedAt: (r) => r.updatedAt,
          name: (r) => r.name,
          startsOn: (r) => r.timeframe.start,
        };
        for (const field of Object.keys(key)) {
          for (const sort of [field, `-${field}`]) {
            const { items, pages } = await collectAll(`${lbase}?limit=5&sort=${sort}`, lists.token('viewer'));
            expect({ sort, pages, count: items.length, unique: new Set(items.map((r) => r.id)).size }).toEqual({ sort, pages: 5, count: 23, unique: 23 });
            const pairs = items.map((r) => `${key[field](r)}|${r.id}`);
            const sorted = [...pairs].sort();
            expect({ sort, pairs }).toEqual({ sort, pairs: sort.startsWith('-') ? sorted.reverse() : sorted });
          }
        }
        const page = await api('GET', `${lbase}?limit=2`, { token: lists.token() });
        const first = [...seeded].sort((x, y) => `${x.startsOn}|${x.id}`.localeCompare(`${y.startsOn}|${y.id}`))[0];
        expect(page.body.items[0]).toEqual({
          id: first.id,
          workspaceId: lists.id,
          name: first.name,
          description: first.description,
          timeframe: { start: first.startsOn, end: '2026-12-31' },
          state: first.state,
          version: 1,
          createdAt: '2025-01-01T00:00:00.000Z',
          updatedAt: '2025-01-01T00:00:00.000Z',
        });
        expect(typeof page.body.nextCursor).toBe('string');
      });

      it('filters by state and by planned feature, alone and together', async () => {
        const all = (await collectAll(`${lbase}?limit=200`, lists.token())).items;
        expect(all).toHaveLength(23);
        const [f] = await target.features(lists, ['Planned somewhere']);
        const planned = all.slice(0, 4).map((r) => r.id);
        for (const id of planned) expect((await api('POST', `${lbase}/${id}/features`, { token: lists.token(), body: { featureId: f } })).status).toBe(201);
        const expectFilter = async (query: string, ids: string[]) => {
          const got = (await collectAll(`${lbase}?limit=3&${query}`, lists.token())).items;
          expect({ query, ids: got.map((r) => r.id).sort() }).toEqual({ query, ids: [...ids].sort() });
        };
        await expectFilter('state=released', seeded.filter((r) => r.state === 'released').map((r) => r.id));
        await expectFilter(`featureId=${f}`, planned);
        await expectFilter(`featureId=${f}&state=planned&sort=name`, planned.filter((id) => seeded.find((r) => r.id === id)!.state === 'planned'));
        expect((await api('GET', `${lbase}?featureId=${randomUUID()}`, { token: lists.token() })).body).toEqual({ items: [], nextCursor: null });
      });

      it('binds a cursor to its sort and filters, and refuses bad queries with per-parameter errors', async () => {
        const others = ['limit=3&sort=-name&state=planned', 'limit=3&sort=name&state=released', 'limit=3&sort=name'];
        const { first, next } = await s.expectBoundCursor(lbase, 'limit=3&sort=name&state=planned', others, lists.token());
        expect(`${next.body.items[0].name}|${next.body.items[0].id}` > `${first.body.items[2].name}|${first.body.items[2].id}`).toBe(true);
        const byDate = await api('GET', `${lbase}?limit=3&sort=startsOn`, { token: lists.token() });
        const dateCursor = JSON.parse(Buffer.from(byDate.body.nextCursor, 'base64url').toString());
        const impossible = Buffer.from(JSON.stringify({ ...dateCursor, v: '2026-02-30' })).toString('base64url');
        const res = await api('GET', `${lbase}?limit=3&sort=startsOn&cursor=${impossible}`, { token: lists.token() });
        expect({ status: res.status, errors: res.body.errors }).toEqual({ status: 400, errors: [CURSOR_ERROR] });

        const bad = await api('GET', `${lbase}?state=done&colour=red&limit=1000&sort=priority`, { token: lists.token() });
        expect(bad.status).toBe(400);
        expect([...bad.body.errors].sort(byField)).toEqual([
          { field: 'colour', message: 'is not a known query parameter (known: limit, cursor, sort, state, featureId)' },
          { field: 'limit', message: 'must be an integer from 1 to 200' },
          { field: 'sort', message: 'must be one of createdAt, -createdAt, updatedAt, -updatedAt, name, -name, startsOn, -startsOn' },
          { field: 'state', message: 'must be one of planned, in-progress, released' },
        ]);
        const twice = await api('GET', `${lbase}?state=released&state=planned`, { token: lists.token() });
        expect(twice.body.errors).toEqual([{ field: 'state', message: 'must be given once' }]);
      });

      it('looks sort keys and parameters up in its allow-list only: prototype names are a 400, never a 500', async () => {
        await s.expectAllowListOnly(lbase, lists.token());
      });

      it('pages the features planned in a release, in planning order', async () => {
        const fs = await target.features(lists, ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7']);
        const r = (await api('POST', lbase, { token: lists.token(), body: { name: 'Big plan', timeframe: { start: '2026-01-01', end: '2026-01-31' }, featureIds: fs } })).body;
        const { items, pages } = await collectAll(`${lbase}/${r.id}/features?limit=3`, lists.token());
        expect(pages).toBe(3);
        expect(items.map((p) => p.featureId)).toEqual([...fs].sort());
        expect(items.every((p) => p.releaseId === r.id && p.createdAt === r.createdAt)).toBe(true);
        const desc = await collectAll(`${lbase}/${r.id}/features?limit=3&sort=-createdAt`, lists.token());
        expect(desc.items.map((p) => p.featureId)).toEqual([...fs].sort().reverse());
        const bad = await api('GET', `${lbase}/${r.id}/features?sort=name`, { token: lists.token() });
        expect(bad.body.errors).toEqual([{ field: 'sort', message: 'must be one of createdAt, -createdAt' }]);
      });
    });

    it('keeps workspaces apart and roles in their lane (403), needs a token (401)', async () => {
      const r = (await api('POST', s.base, { token: s.a.token(), body: { name: 'Mine', timeframe: { start: '2025-08-01', end: '2025-08-31' } } })).body;
      const bBase = `/api/v1/workspaces/${s.b.id}/releases`;
      const aimedAtB: ContractRequest[] = [
        ['GET', bBase],
        ['GET', `${bBase}/${r.id}`],
        ['POST', bBase, { name: 'injected', timeframe: { start: '2025-01-01', end: '2025-01-02' } }],
        ['PATCH', `${bBase}/${r.id}`, { name: 'pwned' }],
        ['DELETE', `${bBase}/${r.id}`],
        ['GET', `${bBase}/${r.id}/features`],
        ['POST', `${bBase}/${r.id}/features`, { featureId: s.features[0] }],
      ];
      // B's own token does not see A's release through B's paths.
      expect((await api('GET', `${bBase}/${r.id}`, { token: s.b.token() })).status).toBe(404);
      expect((await api('DELETE', `${bBase}/${r.id}`, { token: s.b.token() })).status).toBe(404);
      const viewerWrites: ContractRequest[] = [
        ['POST', s.base, { name: 'no', timeframe: { start: '2025-01-01', end: '2025-01-02' } }],
        ['PATCH', `${s.base}/${r.id}`, { state: 'released' }],
        ['DELETE', `${s.base}/${r.id}`],
        ['POST', `${s.base}/${r.id}/features`, { featureId: s.features[0] }],
        ['DELETE', `${s.base}/${r.id}/features/${s.features[0]}`],
      ];
      await s.expectTenancy({ aimedAtB, viewerWrites });
      expect((await api('GET', `${s.base}/${r.id}`, { token: s.a.token('viewer') })).body).toMatchObject({ name: 'Mine', version: 1 });
      const notUuid = await api('GET', '/api/v1/workspaces/not-a-workspace/releases', { token: s.a.token() });
      expect(notUuid.status).toBe(403);
    });

    it('answers 404 for missing or malformed ids and unknown routes, 400 for malformed JSON, 413 over the body limit', async () => {
      for (const [url, detail] of [
        [`${s.base}/not-a-uuid`, 'The release was not found.'],
        [`${s.base}/${randomUUID()}`, 'The release was not found.'],
        [`${s.base}/${randomUUID()}/features`, 'The release was not found.'],
        [`${s.base}/not-a-uuid/features/${s.features[0]}`, 'The release was not found.'],
      ]) {
        const res = await api('GET', url, { token: s.a.token() });
        expect({ url, status: res.status, code: res.body.code, detail: res.body.detail }).toEqual({ url, status: 404, code: 'not_found', detail });
      }
      const r = (await api('POST', s.base, { token: s.a.token(), body: { name: 'Ids', timeframe: { start: '2025-09-01', end: '2025-09-30' } } })).body;
      const planned = await api('GET', `${s.base}/${r.id}/features/not-a-uuid`, { token: s.a.token() });
      expect({ status: planned.status, detail: planned.body.detail }).toEqual({ status: 404, detail: 'The feature in this release was not found.' });
      expect((await api('GET', `${s.base}/${r.id}/widgets`, { token: s.a.token() })).body.code).toBe('route_not_found');
      const big = { name: 'big', timeframe: { start: '2025-01-01', end: '2025-01-02' } };
      await s.expectEdgeProblems({ malformed: '{"name": "x",', body: big, pad: 'description', requestId: 'contract-req-2' });
    });
  });
}
