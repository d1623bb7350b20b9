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
 * route_not_found, 409 already_planned, 400 malformed_json, validation_failed, cursor, 413).
 */
import { randomUUID } from 'node:crypto';
import { collectAll as collectPages, type HttpResponse, request, type RequestOptions, servedDocumentChecker } from '@carve/shared-contract-kit';
import { releasesOperations } from './releases.api';

export type ContractRole = 'admin' | 'maker' | 'viewer';

export interface ContractWorkspace {
  id: string;
  token(role?: ContractRole): string;
}

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

export interface ReleasesContractTarget {
  /** Shown in the suite's name. */
  name: string;
  /** The side's base URL (read after `beforeAll` ran). */
  baseUrl(): string;
  /** A fresh, empty workspace and tokens for its admin, maker and viewer. */
  workspace(): Promise<ContractWorkspace>;
  /** Features of the workspace (the features context owns them): their ids, in order. */
  features(ws: ContractWorkspace, titles: string[]): Promise<string[]>;
  /** Releases as if they had been written long ago, at version 1 without a plan (same rows on either side). */
  seedReleases(ws: ContractWorkspace, releases: SeedRelease[]): Promise<void>;
  /** The body limit the side runs with (bytes), to aim a 413 at. */
  bodyLimitBytes: number;
}

const byField = (x: { field: string }, y: { field: string }) => x.field.localeCompare(y.field);
const CURSOR_ERROR = { field: 'cursor', message: 'is not a cursor of this list with this sort and these filters' };

export function describeReleasesContract(target: ReleasesContractTarget): void {
  describe(`releases API contract: ${target.name}`, () => {
    // Every response is checked against the OpenAPI document the side serves.
    let openapi: Awaited<ReturnType<typeof servedDocumentChecker>>;
    const api = async (method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> => {
      const res = await request(target.baseUrl(), method, path, opts);
      openapi.check(method, path, res);
      return res;
    };
    const collectAll = (baseUrl: string, path: string, token: string) => collectPages(baseUrl, path, token, 100, openapi.check);
    let a: ContractWorkspace;
    let b: ContractWorkspace;
    let base: string;
    let features: string[];

    beforeAll(async () => {
      openapi = await servedDocumentChecker(target.baseUrl());
      a = await target.workspace();
      b = await target.workspace();
      base = `/api/v1/workspaces/${a.id}/releases`;
      features = await target.features(a, ['Export', 'SSO', 'Dark mode']);
    });

    it('creates a release with its plan in one request, reads, updates and deletes it', async () => {
      const res = await api('POST', base, {
        token: a.token('maker'),
        body: { name: ' 2025 Q1 ', timeframe: { start: '2025-01-01', end: '2025-03-31' }, featureIds: [features[1], features[0]] },
      });
      expect(res.status).toBe(201);
      expect(res.headers['location']).toBe(`${base}/${res.body.id}`);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        workspaceId: a.id,
        name: '2025 Q1',
        description: '',
        timeframe: { start: '2025-01-01', end: '2025-03-31' },
        state: 'planned',
        version: 1,
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        updatedAt: res.body.createdAt,
        // Planned in one transaction: one createdAt, then by feature id.
        featureIds: [features[0], features[1]].sort(),
      });
      const url = res.headers['location'];
      expect((await api('GET', url, { token: a.token('viewer') })).body).toEqual(res.body);

      const patched = await api('PATCH', url, { token: a.token(), body: { state: 'in-progress', timeframe: { start: '2025-01-15', end: '2025-04-15' }, description: 'Spring' } });
      expect(patched.status).toBe(200);
      expect(patched.body).toEqual({ ...res.body, state: 'in-progress', timeframe: { start: '2025-01-15', end: '2025-04-15' }, description: 'Spring', version: 2, updatedAt: patched.body.updatedAt });
      expect(patched.body.updatedAt >= res.body.updatedAt).toBe(true);
      expect((await api('PATCH', url, { token: a.token(), body: { name: 'Renamed' } })).body).toMatchObject({ name: 'Renamed', version: 3, featureIds: res.body.featureIds });

      expect((await api('DELETE', url, { token: a.token() })).status).toBe(204);
      const gone = await api('GET', url, { token: a.token() });
      expect({ status: gone.status, code: gone.body.code, detail: gone.body.detail }).toEqual({ status: 404, code: 'not_found', detail: 'The release was not found.' });
      expect((await api('DELETE', url, { token: a.token() })).status).toBe(404);
      expect((await api('PATCH', url, { token: a.token(), body: { name: 'x' } })).status).toBe(404);
      expect((await api('GET', `${url}/features`, { token: a.token() })).status).toBe(404);
    });

    it('plans and unplans features through /releases/:id/features, each change moving the release version', async () => {
      const r = (await api('POST', base, { token: a.token(), body: { name: 'Plan me', timeframe: { start: '2025-05-01', end: '2025-05-31' } } })).body;
      const plan = `${base}/${r.id}/features`;
      const added = await api('POST', plan, { token: a.token(), body: { featureId: features[2] } });
      expect(added.status).toBe(201);
      expect(added.headers['location']).toBe(`${plan}/${features[2]}`);
      expect(added.body).toEqual({ releaseId: r.id, featureId: features[2], createdAt: expect.any(String) });
      const dup = await api('POST', plan, { token: a.token(), body: { featureId: features[2] } });
      expect({ status: dup.status, code: dup.body.code, detail: dup.body.detail }).toEqual({ status: 409, code: 'already_planned', detail: 'The feature is already planned in this release.' });
      expect((await api('GET', `${plan}/${features[2]}`, { token: a.token('viewer') })).body).toEqual(added.body);
      expect((await api('GET', plan, { token: a.token() })).body).toEqual({ items: [added.body], nextCursor: null });
      const after = (await api('GET', `${base}/${r.id}`, { token: a.token() })).body;
      expect(after).toMatchObject({ version: 2, featureIds: [features[2]] });
      expect(after.updatedAt).toBe(added.body.createdAt);
      expect((await api('GET', `${base}?featureId=${features[2]}`, { token: a.token() })).body.items.map((x: any) => x.id)).toEqual([r.id]);

      expect((await api('DELETE', `${plan}/${features[2]}`, { token: a.token() })).status).toBe(204);
      const missing = await api('DELETE', `${plan}/${features[2]}`, { token: a.token() });
      expect({ status: missing.status, detail: missing.body.detail }).toEqual({ status: 404, detail: 'The feature in this release was not found.' });
      expect((await api('GET', `${plan}/${features[2]}`, { token: a.token() })).status).toBe(404);
      expect((await api('GET', `${base}/${r.id}`, { token: a.token() })).body).toMatchObject({ version: 3, featureIds: [] });

      const unknown = await api('POST', plan, { token: a.token(), body: { featureId: '00000000-0000-4000-a000-00000000beef' } });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'featureId', message: 'is not a feature of this workspace' }] });
      expect((await api('GET', `${base}/${r.id}`, { token: a.token() })).body.version).toBe(3); // the failed plan changed nothing
      expect((await api('POST', `${base}/${randomUUID()}/features`, { token: a.token(), body: { featureId: features[0] } })).status).toBe(404);
    });

    it("writes nothing when a planned feature is unknown or another workspace's", async () => {
      const [bFeature] = await target.features(b, ['B feature']);
      const before = (await collectAll(target.baseUrl(), `${base}?limit=200`, a.token())).items.length;
      for (const bad of ['00000000-0000-4000-a000-00000000f00d', bFeature]) {
        const res = await api('POST', base, { token: a.token(), body: { name: 'Half?', timeframe: { start: '2025-03-01', end: '2025-03-02' }, featureIds: [features[0], bad] } });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'featureIds[1]', message: 'is not a feature of this workspace' }] });
      }
      expect((await collectAll(target.baseUrl(), `${base}?limit=200`, a.token())).items.length).toBe(before);
    });

    it('rejects invalid bodies with 400 validation_failed and the same per-field errors', async () => {
      const r = (await api('POST', base, { token: a.token(), body: { name: 'Target', timeframe: { start: '2025-07-01', end: '2025-07-31' } } })).body;
      const cases: Array<[string, string, unknown, Array<{ field: string; message: string }>]> = [
        ['POST', base, {}, [
          { field: 'name', message: 'is required' },
          { field: 'timeframe', message: 'is required' },
        ]],
        ['POST', base, { name: 'x'.repeat(201), timeframe: { start: '2025-13-01', end: 'soon' }, state: 'done', featureIds: ['nope', 42], colour: 'red' }, [
          { field: 'colour', message: 'is not a known field' },
          { field: 'featureIds[0]', message: 'must be a UUID' },
          { field: 'featureIds[1]', message: 'must be a UUID' },
          { field: 'name', message: 'must be at most 200 characters long' },
          { field: 'state', message: 'must be one of planned, in-progress, released' },
          { field: 'timeframe.end', message: 'must be a date (YYYY-MM-DD)' },
          { field: 'timeframe.start', message: 'is not a real calendar date' },
        ]],
        ['POST', base, { name: 'ok', description: 5, timeframe: { start: '2025-03-01', end: '2025-02-01' }, featureIds: [features[0], features[0]] }, [
          { field: 'description', message: 'must be a string' },
          { field: 'featureIds[1]', message: 'plans the same feature twice' },
          { field: 'timeframe.end', message: 'must not be before the start' },
        ]],
        ['POST', base, { name: 'n', timeframe: '2025' }, [{ field: 'timeframe', message: 'must be a JSON object' }]],
        ['POST', base, [], [{ field: '(body)', message: 'must be a JSON object' }]],
        ['PATCH', `${base}/${r.id}`, {}, [{ field: '(body)', message: 'must change at least one field' }]],
        ['PATCH', `${base}/${r.id}`, { featureIds: [], timeframe: { start: '2025-01-01' } }, [
          { field: 'featureIds', message: 'is not a known field' },
          { field: 'timeframe.end', message: 'is required' },
        ]],
        ['PATCH', `${base}/${r.id}`, { timeframe: { start: '2025-09-01', end: '2025-08-01' } }, [{ field: 'timeframe.end', message: 'must not be before the start' }]],
        ['POST', `${base}/${r.id}/features`, {}, [{ field: 'featureId', message: 'is required' }]],
        ['POST', `${base}/${r.id}/features`, { featureId: 'x', extra: 1 }, [
          { field: 'extra', message: 'is not a known field' },
          { field: 'featureId', message: 'must be a UUID' },
        ]],
      ];
      for (const [method, url, body, errors] of cases) {
        const res = await api(method, url, { token: a.token(), body });
        expect({ method, url, status: res.status, type: res.headers['content-type']?.split(';')[0], code: res.body.code }).toEqual({
          method, url, status: 400, type: 'application/problem+json', code: 'validation_failed',
        });
        expect([...res.body.errors].sort(byField)).toEqual([...errors].sort(byField));
      }
      expect((await api('GET', `${base}/${r.id}`, { token: a.token() })).body).toMatchObject({ name: 'Target', version: 1 });
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
            const { items, pages } = await collectAll(target.baseUrl(), `${lbase}?limit=5&sort=${sort}`, lists.token('viewer'));
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
        const all = (await collectAll(target.baseUrl(), `${lbase}?limit=200`, lists.token())).items;
        expect(all).toHaveLength(23);
        const [f] = await target.features(lists, ['Planned somewhere']);
        const planned = all.slice(0, 4).map((r) => r.id);
        for (const id of planned) expect((await api('POST', `${lbase}/${id}/features`, { token: lists.token(), body: { featureId: f } })).status).toBe(201);
        const expectFilter = async (query: string, ids: string[]) => {
          const got = (await collectAll(target.baseUrl(), `${lbase}?limit=3&${query}`, lists.token())).items;
          expect({ query, ids: got.map((r) => r.id).sort() }).toEqual({ query, ids: [...ids].sort() });
        };
        await expectFilter('state=released', seeded.filter((r) => r.state === 'released').map((r) => r.id));
        await expectFilter(`featureId=${f}`, planned);
        await expectFilter(`featureId=${f}&state=planned&sort=name`, planned.filter((id) => seeded.find((r) => r.id === id)!.state === 'planned'));
        expect((await api('GET', `${lbase}?featureId=${randomUUID()}`, { token: lists.token() })).body).toEqual({ items: [], nextCursor: null });
      });

      it('binds a cursor to its sort and filters, and refuses bad queries with per-parameter errors', async () => {
        const first = await api('GET', `${lbase}?limit=3&sort=name&state=planned`, { token: lists.token() });
        const cursor = encodeURIComponent(first.body.nextCursor);
        const next = await api('GET', `${lbase}?limit=3&sort=name&state=planned&cursor=${cursor}`, { token: lists.token() });
        expect(next.status).toBe(200);
        expect(`${next.body.items[0].name}|${next.body.items[0].id}` > `${first.body.items[2].name}|${first.body.items[2].id}`).toBe(true);
        for (const other of ['sort=-name&state=planned', 'sort=name&state=released', 'sort=name']) {
          const res = await api('GET', `${lbase}?limit=3&${other}&cursor=${cursor}`, { token: lists.token() });
          expect({ other, status: res.status, errors: res.body.errors }).toEqual({ other, status: 400, errors: [CURSOR_ERROR] });
        }
        const real = JSON.parse(Buffer.from(first.body.nextCursor, 'base64url').toString());
        const forge = (patch: object) => Buffer.from(JSON.stringify({ ...real, ...patch })).toString('base64url');
        for (const forged of [forge({ id: 'x'.repeat(36) }), 'bm90IGpzb24', '%%%']) {
          const res = await api('GET', `${lbase}?limit=3&sort=name&state=planned&cursor=${encodeURIComponent(forged)}`, { token: lists.token() });
          expect({ forged, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({ forged, status: 400, field: 'cursor' });
        }
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
        for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
          for (const query of [`sort=${key}`, `sort=-${key}`, `${key}=x`]) {
            const res = await api('GET', `${lbase}?${query}`, { token: lists.token() });
            expect({ query, status: res.status, type: res.headers['content-type'], field: res.body.errors?.[0]?.field }).toEqual({
              query,
              status: 400,
              type: expect.stringContaining('application/problem+json'),
              field: query.startsWith('sort=') ? 'sort' : key,
            });
          }
        }
      });

      it('pages the features planned in a release, in planning order', async () => {
        const fs = await target.features(lists, ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7']);
        const r = (await api('POST', lbase, { token: lists.token(), body: { name: 'Big plan', timeframe: { start: '2026-01-01', end: '2026-01-31' }, featureIds: fs } })).body;
        const { items, pages } = await collectAll(target.baseUrl(), `${lbase}/${r.id}/features?limit=3`, lists.token());
        expect(pages).toBe(3);
        expect(items.map((p) => p.featureId)).toEqual([...fs].sort());
        expect(items.every((p) => p.releaseId === r.id && p.createdAt === r.createdAt)).toBe(true);
        const desc = await collectAll(target.baseUrl(), `${lbase}/${r.id}/features?limit=3&sort=-createdAt`, lists.token());
        expect(desc.items.map((p) => p.featureId)).toEqual([...fs].sort().reverse());
        const bad = await api('GET', `${lbase}/${r.id}/features?sort=name`, { token: lists.token() });
        expect(bad.body.errors).toEqual([{ field: 'sort', message: 'must be one of createdAt, -createdAt' }]);
      });
    });

    it('keeps workspaces apart and roles in their lane (403), needs a token (401)', async () => {
      const r = (await api('POST', base, { token: a.token(), body: { name: 'Mine', timeframe: { start: '2025-08-01', end: '2025-08-31' } } })).body;
      const bBase = `/api/v1/workspaces/${b.id}/releases`;
      const aimedAtB: Array<[string, string, unknown?]> = [
        ['GET', bBase],
        ['GET', `${bBase}/${r.id}`],
        ['POST', bBase, { name: 'injected', timeframe: { start: '2025-01-01', end: '2025-01-02' } }],
        ['PATCH', `${bBase}/${r.id}`, { name: 'pwned' }],
        ['DELETE', `${bBase}/${r.id}`],
        ['GET', `${bBase}/${r.id}/features`],
        ['POST', `${bBase}/${r.id}/features`, { featureId: features[0] }],
      ];
      for (const [method, url, body] of aimedAtB) {
        const res = await api(method, url, { token: a.token(), body });
        expect({ method, url, status: res.status, code: res.body?.code, type: res.headers['content-type']?.split(';')[0] }).toEqual({
          method, url, status: 403, code: 'workspace_mismatch', type: 'application/problem+json',
        });
      }
      // B's own token does not see A's release through B's paths.
      expect((await api('GET', `${bBase}/${r.id}`, { token: b.token() })).status).toBe(404);
      expect((await api('DELETE', `${bBase}/${r.id}`, { token: b.token() })).status).toBe(404);
      const viewer = a.token('viewer');
      const writes: Array<[string, string, unknown?]> = [
        ['POST', base, { name: 'no', timeframe: { start: '2025-01-01', end: '2025-01-02' } }],
        ['PATCH', `${base}/${r.id}`, { state: 'released' }],
        ['DELETE', `${base}/${r.id}`],
        ['POST', `${base}/${r.id}/features`, { featureId: features[0] }],
        ['DELETE', `${base}/${r.id}/features/${features[0]}`],
      ];
      for (const [method, url, body] of writes) {
        const res = await api(method, url, { token: viewer, body });
        expect({ method, url, status: res.status, code: res.body.code }).toEqual({ method, url, status: 403, code: 'forbidden_role' });
      }
      expect((await api('GET', `${base}/${r.id}`, { token: viewer })).body).toMatchObject({ name: 'Mine', version: 1 });
      const none = await api('GET', base, { token: null });
      expect({ status: none.status, code: none.body.code }).toEqual({ status: 401, code: 'token_missing' });
      expect((await api('GET', base, { token: `${a.token()}x` })).status).toBe(401);
      const notUuid = await api('GET', '/api/v1/workspaces/not-a-workspace/releases', { token: a.token() });
      expect(notUuid.status).toBe(403);
    });

    it('answers 404 for missing or malformed ids and unknown routes, 400 for malformed JSON, 413 over the body limit', async () => {
      for (const [url, detail] of [
        [`${base}/not-a-uuid`, 'The release was not found.'],
        [`${base}/${randomUUID()}`, 'The release was not found.'],
        [`${base}/${randomUUID()}/features`, 'The release was not found.'],
        [`${base}/not-a-uuid/features/${features[0]}`, 'The release was not found.'],
      ]) {
        const res = await api('GET', url, { token: a.token() });
        expect({ url, status: res.status, code: res.body.code, detail: res.body.detail }).toEqual({ url, status: 404, code: 'not_found', detail });
      }
      const r = (await api('POST', base, { token: a.token(), body: { name: 'Ids', timeframe: { start: '2025-09-01', end: '2025-09-30' } } })).body;
      const planned = await api('GET', `${base}/${r.id}/features/not-a-uuid`, { token: a.token() });
      expect({ status: planned.status, detail: planned.body.detail }).toEqual({ status: 404, detail: 'The feature in this release was not found.' });
      expect((await api('GET', `${base}/${r.id}/widgets`, { token: a.token() })).body.code).toBe('route_not_found');
      const malformed = await api('POST', base, { token: a.token(), raw: '{"name": "x",' });
      expect({ status: malformed.status, code: malformed.body.code }).toEqual({ status: 400, code: 'malformed_json' });
      const big = await api('POST', base, { token: a.token(), body: { name: 'big', description: 'x'.repeat(target.bodyLimitBytes + 1024), timeframe: { start: '2025-01-01', end: '2025-01-02' } } });
      expect({ status: big.status, code: big.body.code, type: big.headers['content-type']?.split(';')[0] }).toEqual({ status: 413, code: 'payload_too_large', type: 'application/problem+json' });
      const rid = await api('GET', `${base}/${randomUUID()}`, { token: a.token(), headers: { 'x-request-id': 'contract-req-2' } });
      expect({ header: rid.headers['x-request-id'], body: rid.body.requestId }).toEqual({ header: 'contract-req-2', body: 'contract-req-2' });
    });

    it('answered every request above as the OpenAPI document it serves at /openapi.json says', () => {
      for (const op of releasesOperations) expect({ op: op.operationId, served: openapi.document.paths[op.path]?.[op.method]?.operationId }).toEqual({ op: op.operationId, served: op.operationId });
      // Each response was checked as it came (a mismatch fails its test); this many came.
      expect(openapi.checked()).toBeGreaterThan(50);
    });
  });
}
