import { BUCKETS, fmix32, fnv1a32, percentThreshold, stickyBucket } from './index';

// The canary hash encodes strings to UTF-8 by hand (no allocation per request). A tenant's
// bucket must be the one computed over the real UTF-8 bytes, or non-ASCII tenant ids would move
// between the two sides. Checked at every boundary of the encoder against Node's encoder.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
function fnvBytes(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (const b of bytes) h = Math.imul(h ^ b, FNV_PRIME) >>> 0;
  return h;
}
const utf8 = (s: string) => new TextEncoder().encode(s);

const samples = [
  '\u007f', // last one-byte code point
  '\u0080', // first two-byte
  '\u07ff', // last two-byte
  '\u0800', // first three-byte
  '\ud7ff', // last before the surrogates
  '\ue000', // first after the surrogates
  '\uffff',
  '\ud800\udc00', // U+10000, the first four-byte code point
  '\udbff\udfff', // U+10FFFF, the last
  '\ud83d\ude00', // an emoji
  '\ud800', // a lone high surrogate at the end
  '\ud800x', // a high surrogate followed by something else
  '\ud800\ud800\udc00', // a lone high surrogate, then a pair
  '\udbff\ue000', // a high surrogate followed by the first code point after the low ones
  '\udc00', // a lone low surrogate
  '\udfff',
  '\udc00\udc00', // two lone low surrogates: not a pair
  '\u6771\udc00', // a three-byte character followed by a lone low surrogate: not a pair
  'tenant-é-東京-😀',
];

describe('the canary hash over non-ASCII ids', () => {
  it.each(samples.map((s) => [JSON.stringify(s), s]))('hashes %s as its UTF-8 bytes', (_name, s) => {
    expect(fnv1a32(s)).toBe(fnvBytes(utf8(s)));
  });

  it('buckets cohort, a zero byte and the key, as the bytes they encode to', () => {
    for (const key of samples) {
      for (const cohort of ['insights', 'zürich', '']) {
        const bytes = new Uint8Array([...utf8(cohort), 0, ...utf8(key)]);
        expect(stickyBucket(cohort, key)).toBe(fmix32(fnvBytes(bytes)) % BUCKETS);
      }
    }
  });

  it('keeps cohort and key apart: moving a character across the zero byte moves the bucket', () => {
    const pairs = [
      ['ab', 'c'],
      ['a', 'bc'],
    ] as const;
    const [x, y] = pairs.map(([c, k]) => stickyBucket(c, k));
    expect(x).not.toBe(y);
  });
});

describe('percentThreshold', () => {
  it('clamps to 0..10000', () => {
    expect(percentThreshold(-5)).toBe(0);
    expect(percentThreshold(250)).toBe(BUCKETS);
    expect(percentThreshold(99.99)).toBe(9999);
    expect(percentThreshold(100)).toBe(BUCKETS);
  });
});
