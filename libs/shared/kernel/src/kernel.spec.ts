import { encodeCursor, type ListSpec, parseListQuery, toPage } from './list-query';
import { arrayOf, email, int, object, oneOf, optional, partial, required, str, tags, validate, withDefault } from './validation';

const ok = <T>(r: { ok: true; value: T } | { ok: false }): T => {
  if (!r.ok) throw new Error('expected ok');
  return r.value;
};

describe('validation', () => {
  const body = object({
    title: required(str({ min: 1, max: 10 })),
    priority: withDefault(int({ min: 1, max: 5 }), () => 3),
    tags: optional(tags()),
    items: optional(arrayOf(oneOf(['a', 'b'] as const), { max: 2, unique: (v) => v })),
  });

  it('normalises a valid body and fills defaults', () => {
    expect(validate(body, { title: '  Hi ', tags: ['X', 'x', 'y'] })).toEqual({ ok: true, value: { title: 'Hi', priority: 3, tags: ['x', 'y'] } });
    expect(validate(email(), 'Ana@Example.COM')).toEqual({ ok: true, value: 'ana@example.com' });
  });

  it('reports every problem per field, unknown fields included', () => {
    expect(validate(body, { title: '', priority: 9, items: ['a', 'a'], extra: 1 })).toEqual({
      ok: false,
      errors: [
        { field: 'extra', message: 'is not a known field' },
        { field: 'title', message: 'must not be empty' },
        { field: 'priority', message: 'must be from 1 to 5' },
        { field: 'items[1]', message: 'duplicates item 0' },
      ],
    });
    expect(validate(object(partial({ title: required(str({ max: 5 })) }), { atLeastOne: true }), {})).toEqual({
      ok: false,
      errors: [{ field: '(body)', message: 'must change at least one field' }],
    });
  });
});

describe('list queries and cursors', () => {
  const list = {
    sorts: { createdAt: 'timestamp', title: 'text' },
    defaultSort: '-createdAt',
    filters: { state: oneOf(['new', 'processed']), customerEmail: email() },
  } satisfies ListSpec<any>;

  // Golden strings: the cursors the monolith has always issued for these inputs (the same ones
  // the insights domain's golden-cursor test pins). They must never change.
  const GOLDEN = {
    titleFiltered: 'eyJzIjoidGl0bGUiLCJmIjoiMTh0czBrZiIsInYiOiJOZWVkcyBDU1YgZXhwb3J0IiwiaWQiOiIwMTkwYTNiMi00YzVkLTdlNmYtOGE5Yi0zYzFkMmUzZjRhNWIifQ',
    defaultSort: 'eyJzIjoiLWNyZWF0ZWRBdCIsImYiOiJ3N2s0MnQiLCJ2IjoiMjAyNS0wMS0xNVQxNjowMjoxMS4xMjNaIiwiaWQiOiIwMTkwYTNiMi00YzVkLTdlNmYtOGE5Yi0zYzFkMmUzZjRhNWIifQ',
  };

  it('encodes cursors byte for byte as before', () => {
    const q = ok(parseListQuery(list, { sort: 'title', state: 'processed', customerEmail: 'Ana@Example.com', limit: '5' }));
    expect(encodeCursor(q, 'Needs CSV export', '0190a3b2-4c5d-7e6f-8a9b-3c1d2e3f4a5b')).toBe(GOLDEN.titleFiltered);
    expect(encodeCursor(ok(parseListQuery(list, {})), '2025-01-15T16:02:11.123Z', '0190a3b2-4c5d-7e6f-8a9b-3c1d2e3f4a5b')).toBe(GOLDEN.defaultSort);
  });

  it('accepts a cursor for its own sort and filters only', () => {
    const next = ok(parseListQuery(list, { sort: 'title', state: 'processed', customerEmail: 'ana@example.com', cursor: GOLDEN.titleFiltered }));
    expect(next.after).toEqual({ value: 'Needs CSV export', id: '0190a3b2-4c5d-7e6f-8a9b-3c1d2e3f4a5b' });
    expect(parseListQuery(list, { sort: '-title', state: 'processed', customerEmail: 'ana@example.com', cursor: GOLDEN.titleFiltered }).ok).toBe(false);
    expect(parseListQuery(list, { limit: '0', bogus: 'x' })).toEqual({
      ok: false,
      errors: [
        { field: 'bogus', message: 'is not a known query parameter (known: limit, cursor, sort, state, customerEmail)' },
        { field: 'limit', message: 'must be an integer from 1 to 200' },
      ],
    });
  });

  it('looks sort keys and filters up as own properties of the allow-list only', () => {
    const allowed = 'must be one of createdAt, -createdAt, title, -title';
    for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf']) {
      for (const sort of [key, `-${key}`]) expect(parseListQuery(list, { sort })).toEqual({ ok: false, errors: [{ field: 'sort', message: allowed }] });
      // A parsed query string has no prototype: its keys are all own.
      const query = Object.assign(Object.create(null), { [key]: 'x' });
      const r = parseListQuery(list, query);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.errors[0]).toEqual({ field: key, message: 'is not a known query parameter (known: limit, cursor, sort, state, customerEmail)' });
    }
  });

  it('pages with limit + 1 rows', () => {
    const q = ok(parseListQuery(list, { limit: '1' }));
    const rows = [
      { id: '00000000-0000-4000-a000-000000000002', createdAt: new Date('2025-01-02T00:00:00Z') },
      { id: '00000000-0000-4000-a000-000000000001', createdAt: new Date('2025-01-01T00:00:00Z') },
    ];
    const page = toPage(rows, q, (r) => r.createdAt);
    expect(page.items).toHaveLength(1);
    expect(ok(parseListQuery(list, { limit: '1', cursor: page.nextCursor! })).after).toEqual({ value: '2025-01-02T00:00:00.000Z', id: rows[0].id });
  });
});
