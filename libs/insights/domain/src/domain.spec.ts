import {
  canonicalNote,
  encodeCursor,
  noteLinkList,
  noteList,
  parseListQuery,
  serviceOwnsWrites,
  stableJson,
  toPage,
  validateNoteCreate,
  validateNoteLinkPatch,
  validateNotePatch,
} from './index';

describe('note bodies (the monolith rules, message for message)', () => {
  it('fills defaults and normalises a valid note', () => {
    expect(validateNoteCreate({ title: ' Wants export ', content: 'c', customer: { email: 'Ana@Example.COM' }, tags: ['UI', 'ui'] })).toEqual({
      ok: true,
      value: {
        title: 'Wants export',
        content: 'c',
        source: 'manual',
        customer: { email: 'ana@example.com', name: null, company: null },
        tags: ['ui'],
        state: 'unprocessed',
        features: [],
      },
    });
  });

  it('reports nested and indexed errors, unknown fields and duplicate links', () => {
    const r = validateNoteCreate({
      title: 't',
      content: 'c',
      customer: { email: 'not-an-email', nickname: 'x' },
      features: [
        { featureId: '00000000-0000-4000-a000-000000000001', importance: 'urgent' },
        { featureId: '00000000-0000-4000-a000-000000000001' },
      ],
    });
    expect(r).toEqual({
      ok: false,
      errors: [
        { field: 'customer.nickname', message: 'is not a known field' },
        { field: 'customer.email', message: 'must be an email address' },
        { field: 'features[0].importance', message: 'must be one of low, medium, high, critical' },
      ],
    });
    expect(validateNoteCreate({ title: 't', content: 'c', features: [{ featureId: '00000000-0000-4000-a000-000000000001' }, { featureId: '00000000-0000-4000-a000-000000000001' }] })).toEqual({
      ok: false,
      errors: [{ field: 'features[1]', message: 'links the same feature twice' }],
    });
    expect(validateNotePatch({ features: [] })).toEqual({ ok: false, errors: [{ field: 'features', message: 'is not a known field' }] });
    expect(validateNotePatch({})).toEqual({ ok: false, errors: [{ field: '(body)', message: 'must change at least one field' }] });
    expect(validateNoteLinkPatch({})).toEqual({ ok: false, errors: [{ field: 'importance', message: 'is required' }] });
  });
});

describe('cursors', () => {
  // Strings produced by @carve/legacy-domain's encodeCursor for the same inputs: a cursor from the
  // monolith must page on in the service and back (the contract suite checks it over HTTP too).
  const MONOLITH = {
    titleFiltered: 'eyJzIjoidGl0bGUiLCJmIjoiMTh0czBrZiIsInYiOiJOZWVkcyBDU1YgZXhwb3J0IiwiaWQiOiIwMTkwYTNiMi00YzVkLTdlNmYtOGE5Yi0zYzFkMmUzZjRhNWIifQ',
    defaultSort: 'eyJzIjoiLWNyZWF0ZWRBdCIsImYiOiJ3N2s0MnQiLCJ2IjoiMjAyNS0wMS0xNVQxNjowMjoxMS4xMjNaIiwiaWQiOiIwMTkwYTNiMi00YzVkLTdlNmYtOGE5Yi0zYzFkMmUzZjRhNWIifQ',
    links: 'eyJzIjoiY3JlYXRlZEF0IiwiZiI6ImRnc3Z0NSIsInYiOiIyMDI1LTAxLTE1VDE2OjAyOjExLjEyM1oiLCJpZCI6IjAxOTBhM2IyLTRjNWQtN2U2Zi04YTliLTJjMWQyZTNmNGE1YiJ9',
  };
  const ok = <T>(r: { ok: true; value: T } | { ok: false }): T => {
    if (!r.ok) throw new Error('expected ok');
    return r.value;
  };

  it('encodes exactly as the monolith does', () => {
    const q = ok(parseListQuery(noteList, { sort: 'title', state: 'processed', customerEmail: 'Ana@Example.com', limit: '5' }));
    expect(encodeCursor(q, 'Needs CSV export', '0190a3b2-4c5d-7e6f-8a9b-3c1d2e3f4a5b')).toBe(MONOLITH.titleFiltered);
    expect(encodeCursor(ok(parseListQuery(noteList, {})), '2025-01-15T16:02:11.123Z', '0190a3b2-4c5d-7e6f-8a9b-3c1d2e3f4a5b')).toBe(MONOLITH.defaultSort);
    expect(encodeCursor(ok(parseListQuery(noteLinkList, { importance: 'high' })), '2025-01-15T16:02:11.123Z', '0190a3b2-4c5d-7e6f-8a9b-2c1d2e3f4a5b')).toBe(MONOLITH.links);
  });

  it("accepts the monolith's cursors for the same list, refuses them for another sort or filter", () => {
    const next = ok(parseListQuery(noteList, { sort: 'title', state: 'processed', customerEmail: 'ana@example.com', cursor: MONOLITH.titleFiltered }));
    expect(next.after).toEqual({ value: 'Needs CSV export', id: '0190a3b2-4c5d-7e6f-8a9b-3c1d2e3f4a5b' });
    expect(parseListQuery(noteList, { sort: '-title', state: 'processed', customerEmail: 'ana@example.com', cursor: MONOLITH.titleFiltered }).ok).toBe(false);
    expect(parseListQuery(noteList, { sort: 'title', cursor: MONOLITH.titleFiltered }).ok).toBe(false);
  });

  it('pages with limit + 1 rows', () => {
    const q = ok(parseListQuery(noteList, { limit: '1' }));
    const rows = [
      { id: '00000000-0000-4000-a000-000000000002', createdAt: new Date('2025-01-02T00:00:00Z') },
      { id: '00000000-0000-4000-a000-000000000001', createdAt: new Date('2025-01-01T00:00:00Z') },
    ];
    const page = toPage(rows, q, (r) => r.createdAt);
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).toBe(encodeCursor(q, '2025-01-02T00:00:00.000Z', rows[0].id));
  });
});

describe('stages', () => {
  it('gives writes to the service from writes-switched on', () => {
    expect(['created', 'backfilled', 'shadow', 'canary', 'reads-switched', 'writes-switched', 'complete', null, 'bogus'].map(serviceOwnsWrites)).toEqual([
      false, false, false, false, false, true, true, false, false,
    ]);
  });
});

describe('canonical projection', () => {
  it('is independent of link order, email case and timestamp representation', () => {
    const base = {
      id: '0190A3B2-4C5D-7E6F-8A9B-3C1D2E3F4A5B',
      workspaceId: '0190a3b2-4c5d-7e6f-8a9b-0c1d2e3f4a5b',
      title: 't',
      content: 'c',
      source: 'email',
      customerEmail: 'Ana@Example.com',
      tags: ['a', 'b'],
      state: 'processed',
      version: 3,
      createdAt: '2025-01-14T09:30:00Z',
      updatedAt: new Date('2025-01-15T16:02:11.123Z'),
      features: [
        { featureId: 'b0000000-0000-4000-a000-000000000000', importance: 'low' },
        { featureId: 'a0000000-0000-4000-a000-000000000000', importance: 'high' },
      ],
    };
    const other = { ...base, id: base.id.toLowerCase(), customerEmail: 'ana@example.com', createdAt: new Date('2025-01-14T09:30:00.000Z'), features: [...base.features].reverse() };
    expect(stableJson(canonicalNote(base))).toBe(stableJson(canonicalNote(other)));
    expect(canonicalNote(base)).toMatchObject({ createdAt: '2025-01-14T09:30:00.000Z', features: [{ featureId: 'a0000000-0000-4000-a000-000000000000' }, { featureId: 'b0000000-0000-4000-a000-000000000000' }] });
    expect(stableJson({ b: 1, a: { d: 1, c: [2, 1] } })).toBe('{"a":{"c":[2,1],"d":1},"b":1}');
  });
});
