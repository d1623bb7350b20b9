import { checkCompareConfig } from './compare';
import { compareResponses, parseJsonPath, type CompareConfig } from './index';

// The rules of the shadow comparison that compare.spec.ts and compare.kinds.spec.ts leave open:
// the check of a compare block, what counts as an ISO date-time, keyed arrays at their edges,
// and how little of the bodies is read once maxDifferences is reached.

const ok = (body: unknown) => ({ status: 200, body });
const diff = (a: unknown, b: unknown, config?: CompareConfig) => compareResponses(ok(a), ok(b), config);
const kinds = (a: unknown, b: unknown, config?: CompareConfig) => diff(a, b, config).differences.map((d) => [d.path, d.kind]);

describe('checkCompareConfig', () => {
  it('reports each bad ignore and sortArraysBy pattern where it is, and nothing for good ones', () => {
    const bad = (p: string) => {
      const r = parseJsonPath(p);
      if (r.ok) throw new Error(`${p} parses`);
      return r.message;
    };
    expect(checkCompareConfig({ ignore: ['$.a', 'a.b', '$..x'], sortArraysBy: { '$.items': 'id', 'items[': 'id' } })).toEqual([
      { where: ['ignore', 1], message: bad('a.b') },
      { where: ['sortArraysBy', 'items['], message: bad('items[') },
    ]);
    expect(checkCompareConfig({ ignore: ['$.a'], sortArraysBy: { '$.b': 'id' } })).toEqual([]);
    expect(checkCompareConfig({})).toEqual([]);
  });
});

describe('compareResponses: kinds of values that are not JSON', () => {
  const f = () => 1;

  it('reports a function against a boolean, undefined or a string as a type difference', () => {
    expect(kinds({ v: true }, { v: f })).toEqual([['$.v', 'type']]);
    expect(kinds([undefined], [f])).toEqual([['$[0]', 'type']]);
    expect(kinds({ v: 'x' }, { v: f })).toEqual([['$.v', 'type']]);
  });

  it('takes functions, bigints and symbols as one kind, compared by identity, with or without a tolerance', () => {
    expect(kinds({ v: f }, { v: 1n })).toEqual([['$.v', 'changed']]);
    expect(kinds({ v: Symbol('a') }, { v: Symbol('a') }, { timestampToleranceMs: 0 })).toEqual([['$.v', 'changed']]);
  });

  it('tells a key holding undefined from another key below the depth limit too', () => {
    let a: unknown = { x: undefined };
    let b: unknown = { y: 1 };
    for (let i = 0; i < 300; i++) {
      a = { n: a };
      b = { n: b };
    }
    expect(diff(a, b).differences).toHaveLength(1);
    expect(diff(a, b).differences[0]).toMatchObject({ path: `$${'.n'.repeat(256)}`, kind: 'changed' });
  });
});

describe('compareResponses: what a date-time is', () => {
  const same = (a: string, b: string, ms = 0) => diff({ at: a }, { at: b }, { timestampToleranceMs: ms }).equal;

  it('takes date-times without seconds, without a fraction, in local time, with a space or with a +hhmm offset', () => {
    expect(same('2024-05-01T10:00Z', '2024-05-01T10:00:00.000Z')).toBe(true);
    expect(same('2024-05-01T10:00', '2024-05-01 10:00:00')).toBe(true); // both local: one instant in any time zone
    expect(same('2024-05-01T12:00:00+0200', '2024-05-01T10:00:00Z')).toBe(true);
    expect(same('2024-05-01t10:00:00z', '2024-05-01T10:00:00Z')).toBe(true);
  });

  it('keeps milliseconds of longer fractions, dropping the rest', () => {
    expect(same('2024-05-01T10:00:00.123456Z', '2024-05-01T10:00:00.123Z')).toBe(true);
    expect(same('2024-05-01T10:00:00.123999999Z', '2024-05-01T10:00:00.123Z')).toBe(true);
    expect(same('2024-05-01T10:00:00.123456Z', '2024-05-01T10:00:00.124Z')).toBe(false);
  });

  it('never takes a string that only contains a date-time, even one Date.parse reads', () => {
    expect(Date.parse('on 2024-05-01 10:00')).toBe(Date.parse('2024-05-01 10:00'));
    expect(same('on 2024-05-01 10:00', '2024-05-01 10:00', 86_400_000)).toBe(false);
    expect(Date.parse('2024-05-01 10:00 (local)')).toBe(Date.parse('2024-05-01 10:00'));
    expect(same('2024-05-01 10:00 (local)', '2024-05-01 10:00', 86_400_000)).toBe(false);
    expect(same('2024-05-01T10:00:00.0000000000Z', '2024-05-01T10:00:00Z', 86_400_000)).toBe(false); // more than 9 fraction digits
  });
});

describe('compareResponses: arrays sorted by a key, at their edges', () => {
  const by = { sortArraysBy: { '$.l': 'k' } };

  it('keys elements by boolean keys too, and compares elements whose key is null, an object or missing by position', () => {
    expect(diff({ l: [{ k: true }, { k: false, v: 1 }] }, { l: [{ k: false, v: 1 }, { k: true }] }, by).equal).toBe(true);
    expect(kinds({ l: [{ k: false, v: 1 }] }, { l: [{ k: false, v: 2 }] }, by)).toEqual([['$.l[k=false].v', 'changed']]);
    expect(kinds({ l: [null, { k: {} }, { k: null }] }, { l: [null, { k: {} }, { k: null }] }, by)).toEqual([]);
    expect(kinds({ l: [{ k: null, v: 1 }, { k: { x: 1 } }] }, { l: [{ k: { x: 1 } }, { k: null, v: 1 }] }, by)).toEqual([
      ['$.l[0].k', 'type'],
      ['$.l[0].v', 'only-monolith'],
      ['$.l[1].k', 'type'],
      ['$.l[1].v', 'only-service'],
    ]);
  });

  it('numbers duplicates of a key when either side has more than one', () => {
    expect(kinds({ l: [{ k: 'a', v: 1 }, { k: 'a', v: 2 }] }, { l: [{ k: 'a', v: 1 }] }, by)).toEqual([['$.l[k="a"][1]', 'only-monolith']]);
    expect(kinds({ l: [{ k: 'a', v: 1 }] }, { l: [{ k: 'a', v: 1 }, { k: 'a', v: 2 }] }, by)).toEqual([['$.l[k="a"][1]', 'only-service']]);
  });

  it('reports an extra keyless element at its index on the service side', () => {
    expect(diff({ l: [{ k: 1 }] }, { l: [{ k: 1 }, 'x'] }, by).differences).toEqual([{ path: '$.l[1]', kind: 'only-service', monolith: undefined, service: 'x' }]);
  });

  it('lets ignore patterns see the monolith index of an element, or the service index when only the service has it', () => {
    const a = { l: [{ k: 1, t: 'x' }, { k: 2, t: 'y' }] };
    const b = { l: [{ k: 2, t: 'z' }, { k: 1, t: 'x' }, { k: 3 }] };
    expect(kinds(a, b, by)).toEqual([
      ['$.l[k=2].t', 'changed'],
      ['$.l[k=3]', 'only-service'],
    ]);
    expect(kinds(a, b, { ...by, ignore: ['$.l[1]'] })).toEqual([['$.l[k=3]', 'only-service']]);
    expect(kinds(a, b, { ...by, ignore: ['$.l[2]'] })).toEqual([['$.l[k=2].t', 'changed']]);
  });
});

describe('compareResponses: bounded reading', () => {
  /** `target`, recording the names of the properties read from it, and `(keys)` when its keys are listed. */
  const watched = <T extends object>(target: T, read: Set<string>): T =>
    new Proxy(target, {
      get(t, key, receiver) {
        if (typeof key === 'string') read.add(key);
        return Reflect.get(t, key, receiver);
      },
      ownKeys(t) {
        read.add('(keys)');
        return Reflect.ownKeys(t);
      },
    });
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const config = { maxDifferences: 3 };

  it('reads no element of an array after the one that overflows maxDifferences', () => {
    const read = new Set<string>();
    const r = diff(
      watched(
        range(10).map(() => 'a'),
        read,
      ),
      range(10).map(() => 'b'),
      config,
    );
    expect(r).toMatchObject({ truncated: true, differences: [{ path: '$[0]' }, { path: '$[1]' }, { path: '$[2]' }] });
    expect([...read].filter((k) => /^\d+$/.test(k)).sort()).toEqual(['0', '1', '2', '3']);
  });

  it('reads no member of an object after the one that overflows, on either side', () => {
    const keys = range(10).map((i) => `k${i}`);
    const values = (v: number) => Object.fromEntries(keys.map((k) => [k, v]));
    const readA = new Set<string>();
    expect(diff(watched(values(1), readA), values(2), config).truncated).toBe(true);
    expect([...readA].sort()).toEqual(['(keys)', 'k0', 'k1', 'k2', 'k3']);
    const readB = new Set<string>();
    expect(diff({}, watched(values(1), readB), config).truncated).toBe(true);
    expect([...readB].sort()).toEqual(['(keys)', 'k0', 'k1', 'k2', 'k3']);
  });

  it('reads no keyed element after the one that overflows', () => {
    const reads = range(10).map(() => new Set<string>());
    const a = range(10).map((i) => watched({ id: i, v: 'a' }, reads[i]));
    const b = range(10).map((i) => ({ id: i, v: 'b' }));
    const r = diff(a, b, { ...config, sortArraysBy: { $: 'id' } });
    expect(r).toMatchObject({ truncated: true, differences: [{ path: '$[id=0].v' }, { path: '$[id=1].v' }, { path: '$[id=2].v' }] });
    // Sorting reads every element's key; only the first four are looked into.
    expect(reads.map((read) => [...read].filter((k) => k !== 'id').length > 0)).toEqual(range(10).map((i) => i <= 3));
  });
});
