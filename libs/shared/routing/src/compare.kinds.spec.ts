import { compareResponses, type CompareConfig } from './index';

// What a shadow comparison reports for each kind of value, above and below the depth (256)
// where a subtree is compared as a whole.

const ok = (body: unknown) => ({ status: 200, body });
const diff = (a: unknown, b: unknown, config?: CompareConfig) => compareResponses(ok(a), ok(b), config);

/** `inner` wrapped in `depth` objects `{ n: ... }`. */
function nest(inner: unknown, depth: number): unknown {
  let v = inner;
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}
const deepPath = (depth: number) => `$${'.n'.repeat(depth)}`;

describe('compareResponses: kinds of values', () => {
  it('reports null against an object (and an object against null) as a type difference', () => {
    expect(diff({ a: null }, { a: { x: 1 } }).differences).toEqual([{ path: '$.a', kind: 'type', monolith: null, service: { x: 1 } }]);
    expect(diff({ a: { x: 1 } }, { a: null }).differences).toEqual([{ path: '$.a', kind: 'type', monolith: { x: 1 }, service: null }]);
    expect(diff(null, {}).differences).toEqual([{ path: '$', kind: 'type', monolith: null, service: {} }]);
    expect(diff(null, []).differences[0]).toMatchObject({ path: '$', kind: 'type' });
    expect(diff(null, null).equal).toBe(true);
  });

  it('reports an extra element on the service side as only-service, and a missing one as only-monolith', () => {
    expect(diff({ tags: ['x'] }, { tags: ['x', 'y'] }).differences).toEqual([{ path: '$.tags[1]', kind: 'only-service', monolith: undefined, service: 'y' }]);
    expect(diff([], [null]).differences).toEqual([{ path: '$[0]', kind: 'only-service', monolith: undefined, service: null }]);
    expect(diff([undefined], []).differences).toEqual([{ path: '$[0]', kind: 'only-monolith', monolith: undefined, service: undefined }]);
  });

  it('tells a key holding undefined from a missing key', () => {
    expect(diff({ a: undefined }, {}).differences).toEqual([{ path: '$.a', kind: 'only-monolith', monolith: undefined, service: undefined }]);
    expect(diff({}, { a: undefined }).differences).toEqual([{ path: '$.a', kind: 'only-service', monolith: undefined, service: undefined }]);
  });

  it('finds NaN equal to NaN, and tells numbers, strings and booleans apart', () => {
    expect(diff({ v: NaN }, { v: NaN }).equal).toBe(true);
    expect(diff({ v: NaN }, { v: 0 }).differences).toEqual([{ path: '$.v', kind: 'changed', monolith: NaN, service: 0 }]);
    expect(diff({ v: true }, { v: false }).differences).toEqual([{ path: '$.v', kind: 'changed', monolith: true, service: false }]);
    expect(diff({ v: 1 }, { v: true }).differences[0]).toMatchObject({ kind: 'type' });
    expect(diff({ v: 'true' }, { v: true }).differences[0]).toMatchObject({ kind: 'type' });
  });

  it('compares values that are not JSON by identity', () => {
    const f = () => 1;
    expect(diff({ v: f }, { v: f }).equal).toBe(true);
    expect(diff({ v: f }, { v: () => 1 }).differences[0]).toMatchObject({ path: '$.v', kind: 'changed' });
    expect(diff({ v: 1n }, { v: 2n }).differences[0]).toMatchObject({ path: '$.v', kind: 'changed' });
  });
});

describe('compareResponses: subtrees below the depth limit', () => {
  const D = 256;

  it('finds equal deep subtrees equal', () => {
    const body = () => ({ list: [1, 'a', null, true, { x: [NaN] }], o: { k: 'v' } });
    expect(diff(nest(body(), 300), nest(body(), 300))).toEqual({ equal: true, differences: [], truncated: false });
  });

  it.each([
    ['a changed leaf', { k: 1 }, { k: 2 }],
    ['null against an object', null, { k: 1 }],
    ['an object against null', { k: 1 }, null],
    ['an array against an object', [], {}],
    ['a longer array', [1], [1, 2]],
    ['an element changed', [1, 2], [1, 3]],
    ['an extra key', { a: 1 }, { a: 1, b: 2 }],
    ['another key of the same count', { a: 1 }, { b: 1 }],
    ['NaN against a number', NaN, 1],
    ['a changed string', 'a', 'b'],
  ])('reports %s once, at the depth limit, as changed', (_what, a, b) => {
    const r = diff(nest({ deep: a }, D), nest({ deep: b }, D));
    expect(r.differences).toEqual([{ path: deepPath(D), kind: 'changed', monolith: { deep: a }, service: { deep: b } }]);
  });

  it('still reports a type difference at the limit itself before comparing as a whole', () => {
    expect(diff(nest(null, D), nest({}, D)).differences).toEqual([{ path: deepPath(D), kind: 'type', monolith: null, service: {} }]);
  });
});
