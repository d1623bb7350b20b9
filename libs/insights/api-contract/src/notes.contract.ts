/**
 * The notes API as an executable contract. `describeNotesContract(target)` declares one Jest
 * suite of HTTP cases; the monolith (apps/legacy-monolith/test/notes.contract.spec.ts) and the
 * insights service (apps/insights-service/test/notes.contract.spec.ts) both run it, each with
 * its own target: a base URL, a token factory (through `workspace()`), and seeding hooks for
 * what the API cannot create itself (features belong to another context; notes with identical
 * timestamps). Nothing here knows how either side is built: only HTTP and JSON.
 *
 * What it pins: paths, status codes, bodies (customer inline as `customer`, links as
 * `features`), `version` moves (+1 per change, link changes included), Location headers,
 * keyset pages over ties, every filter and sort, cursors bound to their sort and filters,
 * per-field validation errors, problem+json codes (401, 403 workspace_mismatch and
 * forbidden_role, 404 not_found and route_not_found, 409 already_linked, 400 malformed_json,
 * validation_failed, cursor, 413 payload_too_large). The scaffolding and the checks every
 * resource passes alike are @carve/shared-contract-kit's `describeResourceContract`.
 */
import { randomUUID } from 'node:crypto';
import { notesOperations } from './notes.api';
import { type ContractRequest, type ContractTarget, type ContractWorkspace, describeResourceContract, type ValidationCase } from '@carve/shared-contract-kit';

export type { ContractRole, ContractWorkspace } from '@carve/shared-contract-kit';

/** A note as it exists on both sides, for seeding (the monolith's shape: customer inline). */
export interface SeedNote {
  id: string;
  title: string;
  content: string;
  source: 'email' | 'slack' | 'intercom' | 'manual';
  customer: { email: string; name: string | null; company: string | null } | null;
  tags: string[];
  state: 'unprocessed' | 'processed' | 'archived';
  createdAt: string;
  updatedAt: string;
}

export interface NotesContractTarget extends ContractTarget {
  /** Notes as if they had been written long ago, at version 1 (same rows on either side). */
  seedNotes(ws: ContractWorkspace, notes: SeedNote[]): Promise<void>;
  /** Links between seeded notes and features (importance medium, no version change). */
  seedLinks(ws: ContractWorkspace, links: Array<{ noteId: string; featureId: string }>): Promise<void>;
}

export function describeNotesContract(target: NotesContractTarget): void {
  describeResourceContract(target, { title: 'notes API contract', resource: 'notes', operations: notesOperations, minChecked: 100 }, (s) => {
    const { api, collectAll } = s;

    it('creates a note with its customer and links in one request, reads, updates and deletes it', async () => {
      const res = await api('POST', s.base, {
        token: s.a.token('maker'),
        body: {
          title: 'Needs CSV export',
          content: 'Finance exports everything by hand every month.',
          source: 'intercom',
          customer: { email: 'Ana@Example.com', name: 'Ana', company: 'Example Ltd' },
          tags: ['export', 'Finance', 'export'],
          features: [{ featureId: s.features[0], importance: 'critical' }, { featureId: s.features[1] }],
        },
      });
      expect(res.status).toBe(201);
      expect(res.headers['location']).toBe(`${s.base}/${res.body.id}`);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        workspaceId: s.a.id,
        title: 'Needs CSV export',
        content: 'Finance exports everything by hand every month.',
        source: 'intercom',
        customer: { email: 'ana@example.com', name: 'Ana', company: 'Example Ltd' },
        tags: ['export', 'finance'],
        state: 'unprocessed',
        version: 1,
        createdAt: expect.any(String),
        updatedAt: res.body.createdAt,
        features: [
          { featureId: s.features[0], importance: 'critical' },
          { featureId: s.features[1], importance: 'medium' },
        ].sort((x, y) => x.featureId.localeCompare(y.featureId)),
      });
      const url = res.headers['location'];
      expect((await api('GET', url, { token: s.a.token('viewer') })).body).toEqual(res.body);

      const patched = await api('PATCH', url, { token: s.a.token(), body: { state: 'processed', customer: null, title: ' Renamed ' } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ title: 'Renamed', state: 'processed', customer: null, version: 2, features: res.body.features, createdAt: res.body.createdAt });
      const again = await api('PATCH', url, { token: s.a.token(), body: { customer: { email: 'bo@example.com' } } });
      expect(again.body).toMatchObject({ customer: { email: 'bo@example.com', name: null, company: null }, version: 3 });

      expect((await api('DELETE', url, { token: s.a.token() })).status).toBe(204);
      const gone = await api('GET', url, { token: s.a.token() });
      expect({ status: gone.status, code: gone.body.code, detail: gone.body.detail }).toEqual({ status: 404, code: 'not_found', detail: 'The note was not found.' });
      expect((await api('DELETE', url, { token: s.a.token() })).status).toBe(404);
      expect((await api('GET', `${url}/features`, { token: s.a.token() })).status).toBe(404);
    });

    it('links, re-weights and unlinks features through /notes/:id/features, each change moving the note version', async () => {
      const note = (await api('POST', s.base, { token: s.a.token(), body: { title: 'Links', content: 'c' } })).body;
      const links = `${s.base}/${note.id}/features`;
      const added = await api('POST', links, { token: s.a.token(), body: { featureId: s.features[2], importance: 'high' } });
      expect(added.status).toBe(201);
      expect(added.headers['location']).toBe(`${links}/${s.features[2]}`);
      expect(added.body).toEqual({ noteId: note.id, featureId: s.features[2], importance: 'high', createdAt: expect.any(String), updatedAt: expect.any(String) });
      const dup = await api('POST', links, { token: s.a.token(), body: { featureId: s.features[2] } });
      expect({ status: dup.status, code: dup.body.code }).toEqual({ status: 409, code: 'already_linked' });
      const reweighted = await api('PATCH', `${links}/${s.features[2]}`, { token: s.a.token(), body: { importance: 'low' } });
      expect(reweighted.body).toMatchObject({ importance: 'low', createdAt: added.body.createdAt });
      expect((await api('GET', `${links}/${s.features[2]}`, { token: s.a.token() })).body).toEqual(reweighted.body);
      expect((await api('GET', links, { token: s.a.token() })).body).toEqual({ items: [reweighted.body], nextCursor: null });
      expect((await api('GET', `${links}?importance=high`, { token: s.a.token() })).body).toEqual({ items: [], nextCursor: null });
      expect((await api('GET', `${s.base}/${note.id}`, { token: s.a.token() })).body).toMatchObject({ version: 3, features: [{ featureId: s.features[2], importance: 'low' }] });
      expect((await api('DELETE', `${links}/${s.features[2]}`, { token: s.a.token() })).status).toBe(204);
      const missing = await api('DELETE', `${links}/${s.features[2]}`, { token: s.a.token() });
      expect({ status: missing.status, detail: missing.body.detail }).toEqual({ status: 404, detail: 'The link between this note and feature was not found.' });
      expect((await api('PATCH', `${links}/${s.features[2]}`, { token: s.a.token(), body: { importance: 'low' } })).status).toBe(404);
      expect((await api('GET', `${s.base}/${note.id}`, { token: s.a.token() })).body).toMatchObject({ version: 4, features: [] });
      const unknown = await api('POST', links, { token: s.a.token(), body: { featureId: '00000000-0000-4000-a000-00000000beef' } });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'featureId', message: 'is not a feature of this workspace' }] });
      expect((await api('GET', `${s.base}/${note.id}`, { token: s.a.token() })).body.version).toBe(4); // the failed link changed nothing
      expect((await api('POST', `${s.base}/${randomUUID()}/features`, { token: s.a.token(), body: { featureId: s.features[0] } })).status).toBe(404);
    });

    it('writes nothing when a linked feature is unknown or another workspace\'s', async () => {
      const [bFeature] = await target.features(s.b, ['B feature']);
      const before = (await collectAll(`${s.base}?limit=200`, s.a.token())).items.length;
      for (const bad of ['00000000-0000-4000-a000-00000000f00d', bFeature]) {
        const res = await api('POST', s.base, { token: s.a.token(), body: { title: 'Half?', content: 'c', features: [{ featureId: s.features[0] }, { featureId: bad, importance: 'high' }] } });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ code: 'validation_failed', errors: [{ field: 'features[1].featureId', message: 'is not a feature of this workspace' }] });
      }
      expect((await collectAll(`${s.base}?limit=200`, s.a.token())).items.length).toBe(before);
    });

    it('rejects invalid bodies with 400 validation_failed and the same per-field errors', async () => {
      const note = (await api('POST', s.base, { token: s.a.token(), body: { title: 'Target', content: 'c' } })).body;
      const cases: ValidationCase[] = [
        ['POST', s.base, { content: '', source: 'fax', customer: { name: 'no email' }, colour: 'red' }, [
          { field: 'colour', message: 'is not a known field' },
          { field: 'content', message: 'must not be empty' },
          { field: 'customer.email', message: 'is required' },
          { field: 'source', message: 'must be one of email, slack, intercom, manual' },
          { field: 'title', message: 'is required' },
        ]],
        ['POST', s.base, { title: 'x'.repeat(201), content: 'c', tags: ['ok', 42, 'a,b'], state: 'done', features: [{ featureId: 'nope' }] }, [
          { field: 'features[0].featureId', message: 'must be a UUID' },
          { field: 'state', message: 'must be one of unprocessed, processed, archived' },
          { field: 'tags[1]', message: 'must be a string' },
          { field: 'tags[2]', message: 'must not contain commas, braces, quotes or backslashes' },
          { field: 'title', message: 'must be at most 200 characters long' },
        ]],
        ['POST', s.base, [], [{ field: '(body)', message: 'must be a JSON object' }]],
        ['POST', s.base, { title: 't', content: 'c', features: [{ featureId: s.features[0] }, { featureId: s.features[0] }] }, [{ field: 'features[1]', message: 'links the same feature twice' }]],
        ['PATCH', `${s.base}/${note.id}`, {}, [{ field: '(body)', message: 'must change at least one field' }]],
        ['PATCH', `${s.base}/${note.id}`, { features: [], customer: { email: 'not-an-email' } }, [
          { field: 'customer.email', message: 'must be an email address' },
          { field: 'features', message: 'is not a known field' },
        ]],
        ['POST', `${s.base}/${note.id}/features`, { importance: 'urgent' }, [
          { field: 'featureId', message: 'is required' },
          { field: 'importance', message: 'must be one of low, medium, high, critical' },
        ]],
        ['PATCH', `${s.base}/${note.id}/features/${s.features[0]}`, { importance: 'urgent', featureId: s.features[0] }, [
          { field: 'featureId', message: 'is not a known field' },
          { field: 'importance', message: 'must be one of low, medium, high, critical' },
        ]],
      ];
      await s.expectValidationErrors(cases, s.a.token());
      expect((await api('GET', `${s.base}/${note.id}`, { token: s.a.token() })).body).toMatchObject({ title: 'Target', version: 1 });
    });

    describe('lists', () => {
      let lists: ContractWorkspace;
      let lbase: string;
      let linked: string;
      beforeAll(async () => {
        lists = await target.workspace();
        lbase = `/api/v1/workspaces/${lists.id}/notes`;
        [linked] = await target.features(lists, ['Linked']);
        // 37 notes sharing one timestamp: the order must still be total (ties broken by id).
        const notes: SeedNote[] = Array.from({ length: 37 }, (_, k) => {
          const i = k + 1;
          return {
            id: randomUUID(),
            title: `Note ${String(i).padStart(2, '0')}`,
            content: 'content',
            source: (['email', 'slack', 'intercom', 'manual'] as const)[i % 4],
            customer: i % 5 === 0 ? null : { email: `customer${i % 3}@example.com`, name: `Customer ${i % 3}`, company: i % 3 === 1 ? 'One Inc' : null },
            tags: i % 2 === 0 ? ['even'] : ['odd'],
            state: (['unprocessed', 'processed', 'archived'] as const)[i % 3],
            createdAt: '2025-01-01T00:00:00.000Z',
            updatedAt: '2025-01-01T00:00:00.000Z',
          };
        });
        await target.seedNotes(lists, notes);
        const byTitle = [...notes].sort((x, y) => x.title.localeCompare(y.title)).slice(0, 4);
        await target.seedLinks(lists, byTitle.map((n) => ({ noteId: n.id, featureId: linked })));
      });

      it('pages over identical timestamps without duplicates or gaps, in every sort', async () => {
        for (const sort of ['createdAt', '-createdAt', 'title', '-title', 'updatedAt', '-updatedAt']) {
          const { items, pages } = await collectAll(`${lbase}?limit=10&sort=${sort}`, lists.token('viewer'));
          expect({ sort, pages, count: items.length, unique: new Set(items.map((n) => n.id)).size }).toEqual({ sort, pages: 4, count: 37, unique: 37 });
          if (sort.endsWith('itle')) {
            const titles = items.map((n) => n.title);
            expect(titles).toEqual(sort.startsWith('-') ? [...titles].sort().reverse() : [...titles].sort());
          } else {
            const ids = items.map((n) => n.id);
            expect(ids).toEqual(sort.startsWith('-') ? [...ids].sort().reverse() : [...ids].sort());
          }
        }
        const page = await api('GET', `${lbase}?limit=2&sort=title`, { token: lists.token() });
        expect(page.body.items.map((n: any) => n.title)).toEqual(['Note 01', 'Note 02']);
        expect(page.body.items[0]).toEqual({
          id: expect.any(String),
          workspaceId: lists.id,
          title: 'Note 01',
          content: 'content',
          source: 'slack',
          customer: { email: 'customer1@example.com', name: 'Customer 1', company: 'One Inc' },
          tags: ['odd'],
          state: 'processed',
          version: 1,
          createdAt: '2025-01-01T00:00:00.000Z',
          updatedAt: '2025-01-01T00:00:00.000Z',
        });
        expect(typeof page.body.nextCursor).toBe('string');
      });

      it('filters by state, source, tag, customer email and linked feature, alone and together', async () => {
        const all = (await collectAll(`${lbase}?limit=200`, lists.token())).items;
        expect(all).toHaveLength(37);
        const expectFilter = async (query: string, predicate: (n: any) => boolean) => {
          const got = (await collectAll(`${lbase}?limit=7&${query}`, lists.token())).items;
          expect(got.length).toBeGreaterThan(0);
          expect({ query, ids: got.map((n) => n.id).sort() }).toEqual({ query, ids: all.filter(predicate).map((n) => n.id).sort() });
        };
        await expectFilter('state=archived', (n) => n.state === 'archived');
        await expectFilter('source=slack', (n) => n.source === 'slack');
        await expectFilter('tag=EVEN', (n) => n.tags.includes('even'));
        await expectFilter('customerEmail=CUSTOMER1%40example.com', (n) => n.customer?.email === 'customer1@example.com');
        await expectFilter('state=processed&source=email&sort=title', (n) => n.state === 'processed' && n.source === 'email');
        await expectFilter(`featureId=${linked}`, (n) => ['Note 01', 'Note 02', 'Note 03', 'Note 04'].includes(n.title));
        expect((await api('GET', `${lbase}?customerEmail=nobody%40example.com`, { token: lists.token() })).body).toEqual({ items: [], nextCursor: null });
      });

      it('binds a cursor to its sort and filters, and refuses bad queries with per-parameter errors', async () => {
        const others = ['limit=5&sort=-title&state=processed', 'limit=5&sort=title&state=archived', 'limit=5&sort=title'];
        const { first, next } = await s.expectBoundCursor(lbase, 'limit=5&sort=title&state=processed', others, lists.token());
        expect(next.body.items[0].title > first.body.items[4].title).toBe(true);
        const bad = await api('GET', `${lbase}?state=done&colour=red&limit=1000&sort=priority`, { token: lists.token() });
        expect(bad.status).toBe(400);
        expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual(['colour', 'limit', 'sort', 'state']);
        expect(bad.body.errors.find((e: any) => e.field === 'sort').message).toBe('must be one of createdAt, -createdAt, updatedAt, -updatedAt, title, -title');
        const twice = await api('GET', `${lbase}?state=archived&state=processed`, { token: lists.token() });
        expect(twice.body.errors).toEqual([{ field: 'state', message: 'must be given once' }]);
      });

      it('looks sort keys and parameters up in its allow-list only: prototype names are a 400, never a 500', async () => {
        await s.expectAllowListOnly(lbase, lists.token());
      });
    });

    it('keeps workspaces apart and roles in their lane (403), needs a token (401)', async () => {
      const note = (await api('POST', s.base, { token: s.a.token(), body: { title: 'Mine', content: 'c' } })).body;
      const bBase = `/api/v1/workspaces/${s.b.id}/notes`;
      const aimedAtB: ContractRequest[] = [
        ['GET', bBase],
        ['GET', `${bBase}/${note.id}`],
        ['POST', bBase, { title: 'injected', content: 'x' }],
        ['PATCH', `${bBase}/${note.id}`, { title: 'pwned' }],
        ['DELETE', `${bBase}/${note.id}`],
        ['GET', `${bBase}/${note.id}/features`],
        ['POST', `${bBase}/${note.id}/features`, { featureId: s.features[0] }],
      ];
      // B's own token does not see A's note through B's paths.
      expect((await api('GET', `${bBase}/${note.id}`, { token: s.b.token() })).status).toBe(404);
      const viewerWrites: ContractRequest[] = [
        ['POST', s.base, { title: 'no', content: 'no' }],
        ['PATCH', `${s.base}/${note.id}`, { state: 'archived' }],
        ['DELETE', `${s.base}/${note.id}`],
        ['POST', `${s.base}/${note.id}/features`, { featureId: s.features[0] }],
      ];
      await s.expectTenancy({ aimedAtB, viewerWrites });
      expect((await api('GET', `${s.base}/${note.id}`, { token: s.a.token('viewer') })).body).toMatchObject({ title: 'Mine', version: 1 });
    });

    it('answers 404 for missing or malformed ids and unknown routes, 400 for malformed JSON, 413 over the body limit', async () => {
      for (const url of [`${s.base}/not-a-uuid`, `${s.base}/${randomUUID()}`, `${s.base}/${randomUUID()}/features`, `${s.base}/not-a-uuid/features/${s.features[0]}`]) {
        const res = await api('GET', url, { token: s.a.token() });
        expect({ url, status: res.status, code: res.body.code }).toEqual({ url, status: 404, code: 'not_found' });
      }
      const note = (await api('POST', s.base, { token: s.a.token(), body: { title: 'Ids', content: 'c' } })).body;
      const link = await api('GET', `${s.base}/${note.id}/features/not-a-uuid`, { token: s.a.token() });
      expect({ status: link.status, detail: link.body.detail }).toEqual({ status: 404, detail: 'The link between this note and feature was not found.' });
      expect((await api('GET', `${s.base}/${note.id}/widgets`, { token: s.a.token() })).body.code).toBe('route_not_found');
      await s.expectEdgeProblems({ malformed: '{"title": "x",', body: { title: 'big' }, pad: 'content', requestId: 'contract-req-1' });
    });
  });
}
