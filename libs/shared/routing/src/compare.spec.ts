import { compareResponses, formatJsonPath, JsonPathSet, parseJsonPath, type CompareConfig } from './index';

const ok = (body: unknown) => ({ status: 200, body });
const diff = (a: unknown, b: unknown, config?: CompareConfig) => compareResponses(ok(a), ok(b), config);
const paths = (a: unknown, b: unknown, config?: CompareConfig) => diff(a, b, config).differences.map((d) => d.path);

describe('compareResponses', () => {
  it('finds equal bodies equal, whatever the key order', () => {
    expect(diff({ a: 1, b: [1, { c: 'x' }], d: null }, { d: null, b: [1, { c: 'x' }], a: 1 })).toEqual({ equal: true, differences: [], truncated: false });
  });

  it('compares statuses', () => {
    expect(compareResponses({ status: 200, body: {} }, { status: 500, body: {} })).toEqual({
      equal: false,
      differences: [{ path: 'status', kind: 'status', monolith: 200, service: 500 }],
      truncated: false,
    });
  });

  it('reports each difference with its path, both values and a kind', () => {
    const result = diff(
      { id: 1, title: 'a', tags: ['x', 'y'], owner: { name: 'n' }, gone: true, 'odd key': 1 },
      { id: '1', title: 'b', tags: ['x'], owner: { name: 'n', extra: 2 }, 'odd key': 2 },
    );
    expect(result.equal).toBe(false);
    expect(result.differences).toEqual([
      { path: '$.id', kind: 'type', monolith: 1, service: '1' },
      { path: '$.title', kind: 'changed', monolith: 'a', service: 'b' },
      { path: '$.tags[1]', kind: 'only-monolith', monolith: 'y', service: undefined },
      { path: '$.owner.extra', kind: 'only-service', monolith: undefined, service: 2 },
      { path: '$.gone', kind: 'only-monolith', monolith: true, service: undefined },
      { path: "$['odd key']", kind: 'changed', monolith: 1, service: 2 },
    ]);
  });

  it('tells null from missing, and arrays from objects', () => {
    expect(diff({ a: null }, {}).differences).toEqual([{ path: '$.a', kind: 'only-monolith', monolith: null, service: undefined }]);
    expect(diff({ a: [] }, { a: {} }).differences[0]).toMatchObject({ path: '$.a', kind: 'type' });
    expect(diff({ a: null }, { a: 0 }).differences[0]).toMatchObject({ path: '$.a', kind: 'type' });
  });

  it('compares whole non-object bodies', () => {
    expect(diff('text', 'text').equal).toBe(true);
    expect(diff('text', 'other').differences).toEqual([{ path: '$', kind: 'changed', monolith: 'text', service: 'other' }]);
    expect(diff(undefined, undefined).equal).toBe(true);
    expect(diff(undefined, {}).differences[0]).toMatchObject({ path: '$', kind: 'type' });
  });

  describe('ignore paths', () => {
    const a = { id: 1, etag: 'a', items: [{ id: 1, updatedAt: 'x', meta: { etag: 'a' } }, { id: 2, updatedAt: 'y' }], meta: { requestId: 'r1', etag: 'a' } };
    const b = { id: 1, etag: 'b', items: [{ id: 1, updatedAt: 'z', meta: { etag: 'b' } }, { id: 2, updatedAt: 'w' }], meta: { requestId: 'r2', etag: 'b' } };

    it('finds the differences without ignores', () => {
      expect(paths(a, b)).toEqual(['$.etag', '$.items[0].updatedAt', '$.items[0].meta.etag', '$.items[1].updatedAt', '$.meta.requestId', '$.meta.etag']);
    });

    it('$.a.b ignores one place', () => {
      expect(paths(a, b, { ignore: ['$.meta.requestId'] })).toEqual(['$.etag', '$.items[0].updatedAt', '$.items[0].meta.etag', '$.items[1].updatedAt', '$.meta.etag']);
    });

    it('$.items[*].x ignores a field of every element', () => {
      expect(paths(a, b, { ignore: ['$.items[*].updatedAt'] })).toEqual(['$.etag', '$.items[0].meta.etag', '$.meta.requestId', '$.meta.etag']);
    });

    it('$..x ignores a key at any depth', () => {
      expect(paths(a, b, { ignore: ['$..etag'] })).toEqual(['$.items[0].updatedAt', '$.items[1].updatedAt', '$.meta.requestId']);
    });

    it('an index, a wildcard key, a bracketed key, and a whole subtree', () => {
      expect(paths(a, b, { ignore: ['$.items[0]', '$.meta.*', "$['etag']"] })).toEqual(['$.items[1].updatedAt']);
      expect(paths(a, b, { ignore: ['$.items', '$.meta', '$.etag'] })).toEqual([]);
      expect(paths(a, b, { ignore: ['$'] })).toEqual([]);
    });

    it('recursive descent into arrays and below a prefix', () => {
      expect(paths({ x: { list: [{ v: 1 }] }, y: { v: 1 } }, { x: { list: [{ v: 2 }] }, y: { v: 2 } }, { ignore: ['$.x..v'] })).toEqual(['$.y.v']);
      expect(paths([[1, 2]], [[3, 4]], { ignore: ['$..[1]'] })).toEqual(['$[0][0]']);
    });

    it('ignores missing and extra fields too, and never hides the status', () => {
      expect(paths({ a: 1, requestId: 'x' }, { a: 1 }, { ignore: ['$.requestId'] })).toEqual([]);
      expect(paths({ a: 1 }, { a: 1, debug: {} }, { ignore: ['$..debug'] })).toEqual([]);
      expect(compareResponses({ status: 200, body: 1 }, { status: 201, body: 2 }, { ignore: ['$'] }).differences.map((d) => d.path)).toEqual(['status']);
    });
  });

  describe('arrays sorted by a key', () => {
    const a = { items: [{ id: 1, t: 'a' }, { id: 2, t: 'b' }, { id: 3, t: 'c' }] };

    it('compares reordered arrays equal', () => {
      const b = { items: [{ id: 3, t: 'c' }, { id: 1, t: 'a' }, { id: 2, t: 'b' }] };
      expect(paths(a, b)).toHaveLength(6);
      expect(diff(a, b, { sortArraysBy: { '$.items': 'id' } }).equal).toBe(true);
    });

    it('reports a changed, a missing and an extra element under its key, without shifting the others', () => {
      const b = { items: [{ id: 3, t: 'C' }, { id: 1, t: 'a' }, { id: 4, t: 'd' }] };
      expect(diff(a, b, { sortArraysBy: { '$.items': 'id' } }).differences).toEqual([
        { path: '$.items[id=2]', kind: 'only-monolith', monolith: { id: 2, t: 'b' }, service: undefined },
        { path: '$.items[id=3].t', kind: 'changed', monolith: 'c', service: 'C' },
        { path: '$.items[id=4]', kind: 'only-service', monolith: undefined, service: { id: 4, t: 'd' } },
      ]);
    });

    it('tells string keys from number keys and handles duplicates and keyless elements', () => {
      const r = diff({ l: [{ k: 1 }, { k: 'a', v: 1 }, { k: 'a', v: 2 }, 'loose', { other: 1 }] }, { l: [{ other: 1 }, { k: 'a', v: 1 }, 'loose', { k: '1' }, { k: 'a', v: 3 }] }, { sortArraysBy: { '$.l': 'k' } });
      expect(r.differences.map((d) => [d.path, d.kind])).toEqual([
        ['$.l[k=1]', 'only-monolith'],
        ['$.l[k="a"][1].v', 'changed'],
        ['$.l[k="1"]', 'only-service'],
        ['$.l[3]', 'type'],
        ['$.l[4]', 'type'],
      ]);
    });

    it('sorts nested arrays through wildcards, and ignore paths still apply inside', () => {
      const x = { groups: [{ members: [{ id: 'u1', seen: 1 }, { id: 'u2', seen: 2 }] }] };
      const y = { groups: [{ members: [{ id: 'u2', seen: 9 }, { id: 'u1', seen: 8 }] }] };
      expect(diff(x, y, { sortArraysBy: { '$.groups[*].members': 'id' }, ignore: ['$..seen'] }).equal).toBe(true);
      expect(paths(x, y, { sortArraysBy: { '$.groups[*].members': 'id' } })).toEqual(['$.groups[0].members[id="u1"].seen', '$.groups[0].members[id="u2"].seen']);
    });
  });

  describe('timestamp tolerance', () => {
    const at = (iso: string) => ({ updatedAt: iso });

    it('compares ISO date-times within the tolerance equal', () => {
      const config = { timestampToleranceMs: 1000 };
      expect(diff(at('2024-05-01T10:00:00.000Z'), at('2024-05-01T10:00:00.999Z'), config).equal).toBe(true);
      expect(diff(at('2024-05-01T10:00:00.000Z'), at('2024-05-01T10:00:01.000Z'), config).equal).toBe(true);
      expect(diff(at('2024-05-01T10:00:00.000Z'), at('2024-05-01T10:00:01.001Z'), config).equal).toBe(false);
      expect(diff(at('2024-05-01T10:00:00.5Z'), at('2024-05-01T12:00:00.123456+02:00'), config).equal).toBe(true);
    });

    it('with 0 equates different spellings of one instant', () => {
      expect(diff(at('2024-05-01T10:00:00Z'), at('2024-05-01T10:00:00.000+00:00'), { timestampToleranceMs: 0 }).equal).toBe(true);
      expect(diff(at('2024-05-01T10:00:00Z'), at('2024-05-01T10:00:00.001Z'), { timestampToleranceMs: 0 }).equal).toBe(false);
    });

    it('without it compares strings exactly, and never treats other strings as times', () => {
      expect(diff(at('2024-05-01T10:00:00Z'), at('2024-05-01T10:00:00.000Z')).equal).toBe(false);
      expect(diff({ v: '2024-05-01' }, { v: '2024-05-02' }, { timestampToleranceMs: 86_400_000 }).equal).toBe(false);
      expect(diff({ v: 'yesterday' }, { v: 'today' }, { timestampToleranceMs: 86_400_000 }).equal).toBe(false);
      expect(diff({ v: 1714557600000 }, { v: 1714557600001 }, { timestampToleranceMs: 1000 }).equal).toBe(false);
    });
  });

  describe('bounded work', () => {
    it('stops at maxDifferences and says so', () => {
      const a = Array.from({ length: 10_000 }, (_, i) => ({ i, v: 'a' }));
      const b = Array.from({ length: 10_000 }, (_, i) => ({ i, v: 'b' }));
      const r = diff(a, b, { maxDifferences: 5 });
      expect(r.differences).toHaveLength(5);
      expect(r.truncated).toBe(true);
      expect(r.equal).toBe(false);
      expect(diff(a, b).differences).toHaveLength(20);
    });

    it('is not truncated when the differences fit exactly', () => {
      expect(diff([1, 2], [3, 4], { maxDifferences: 2 })).toMatchObject({ truncated: false, differences: [{ path: '$[0]' }, { path: '$[1]' }] });
    });

    it('copes with very deep nesting without overflowing the stack', () => {
      let a: unknown = 1;
      let b: unknown = 2;
      for (let i = 0; i < 5000; i++) {
        a = { n: a };
        b = { n: b };
      }
      const r = diff(a, b);
      expect(r.equal).toBe(false);
      expect(r.differences).toHaveLength(1);
      expect(r.differences[0].path).toBe(`$${'.n'.repeat(256)}`);
    });

    it('compares a large equal body', () => {
      const body = { items: Array.from({ length: 50_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: ['a', 'b'], at: '2024-05-01T10:00:00Z' })) };
      const r = diff(body, structuredClone(body), { ignore: ['$.items[*].at', '$..etag'], sortArraysBy: { '$.items': 'id' }, timestampToleranceMs: 10 });
      expect(r.equal).toBe(true);
    });
  });
});

describe('JSON paths', () => {
  it('parses the supported forms', () => {
    expect(parseJsonPath("$.a['b c'][2][*]..d..*")).toEqual({
      ok: true,
      steps: [
        { kind: 'key', key: 'a', descend: false },
        { kind: 'key', key: 'b c', descend: false },
        { kind: 'index', index: 2, descend: false },
        { kind: 'any', descend: false },
        { kind: 'key', key: 'd', descend: true },
        { kind: 'any', descend: true },
      ],
    });
    expect(parseJsonPath('$["a\\"b"]')).toEqual({ ok: true, steps: [{ kind: 'key', key: 'a"b', descend: false }] });
  });

  it.each([
    ['a.b', 'a path must start with "$" in "a.b"'],
    ['$.', 'expected a key name at position 3 in "$."'],
    ['$[', 'expected an index, "*" or a quoted key after "[" at position 2 in "$["'],
    ['$[1', 'expected "]" after the index at position 4 in "$[1"'],
    ["$['a", 'unterminated quoted key at position 3 in "$[\'a"'],
    ['$a', 'unexpected "a" at position 2 in "$a"'],
    ['$[-1]', 'expected an index, "*" or a quoted key after "[" at position 2 in "$[-1]"'],
  ])('rejects %s', (src, message) => {
    expect(parseJsonPath(src)).toEqual({ ok: false, message });
  });

  it('matches positions and their descendants', () => {
    const set = new JsonPathSet(['$.items[*].updatedAt', '$..etag']);
    expect(set.covers(['items', 3, 'updatedAt'])).toBe(true);
    expect(set.covers(['items', 3, 'updatedAt', 'x'])).toBe(true);
    expect(set.covers(['items', 'x', 'updatedAt'])).toBe(true); // [*] also takes object keys
    expect(set.covers(['items', 3, 'title'])).toBe(false);
    expect(set.covers(['etag'])).toBe(true);
    expect(set.covers(['a', 0, 'b', 'etag'])).toBe(true);
    expect(set.covers(['etags'])).toBe(false);
    expect(new JsonPathSet(['$[0]']).covers(['0'])).toBe(false);
    expect(() => new JsonPathSet(['nope'])).toThrow('a path must start with "$"');
  });

  it('formats concrete positions the way patterns are written', () => {
    expect(formatJsonPath(['items', 3, 'odd key', 'ok_1'])).toBe("$.items[3]['odd key'].ok_1");
    expect(formatJsonPath([])).toBe('$');
    const odd = ["it's", 'back\\slash', 'a.b', '0'];
    const written = formatJsonPath(odd);
    expect(written).toBe("$['it\\'s']['back\\\\slash']['a.b']['0']");
    expect(new JsonPathSet([written]).covers(odd)).toBe(true);
  });
});
