import { compareResponses } from './compare';
import { differencePaths, fieldPathKey, withoutNoise } from './noise';

describe('noise baseline paths', () => {
  it('makes array indexes and array-key values wildcards, and nothing else', () => {
    expect(fieldPathKey('$.items[3].id')).toBe('$.items[*].id');
    expect(fieldPathKey('$.items[id=42].at')).toBe('$.items[id=*].at');
    expect(fieldPathKey('$.items[id="a]b"][0]')).toBe('$.items[id=*][*]');
    expect(fieldPathKey('$["odd key"].x')).toBe('$["odd key"].x');
    expect(fieldPathKey('status')).toBe('status');
  });

  it('lists the distinct paths of differences', () => {
    const r = compareResponses({ status: 200, body: { a: [{ x: 1 }, { x: 2 }], b: 1 } }, { status: 200, body: { a: [{ x: 3 }, { x: 4 }], b: 2 } });
    expect(differencePaths(r.differences)).toEqual(['$.a[*].x', '$.b']);
  });

  it('leaves out differences at noise paths; equal only when nothing else differs', () => {
    const r = compareResponses({ status: 200, body: { id: 'a', at: 1, title: 't' } }, { status: 200, body: { id: 'b', at: 2, title: 't' } });
    expect(withoutNoise(r, new Set(['$.id', '$.at']))).toEqual({ equal: true, differences: [], truncated: false, noisy: 2 });
    const partly = withoutNoise(r, new Set(['$.id']));
    expect(partly).toMatchObject({ equal: false, noisy: 1 });
    expect(partly.differences.map((d) => d.path)).toEqual(['$.at']);
  });

  it('never takes a status difference for noise, and keeps a truncated comparison unequal', () => {
    const status = compareResponses({ status: 200, body: { id: 1 } }, { status: 500, body: { id: 2 } });
    expect(withoutNoise(status, new Set(['status', '$.id']))).toMatchObject({ equal: false, noisy: 1 });
    const truncated = compareResponses({ status: 200, body: { a: 1, b: 1 } }, { status: 200, body: { a: 2, b: 2 } }, { maxDifferences: 1 });
    expect(withoutNoise(truncated, new Set(['$.a']))).toMatchObject({ equal: false, truncated: true, noisy: 1 });
  });
});
