/**
 * The canary's sticky hash: 32-bit FNV-1a over the UTF-8 bytes of `cohort`, a zero byte and
 * the sticky key, finished with MurmurHash3's fmix32 avalanche (plain FNV-1a spreads keys that
 * differ only in their last characters, like "tenant-17" and "tenant-18", poorly over a
 * modulus), reduced modulo 10,000 to a bucket. A request goes to the service when
 * `bucket < round(percent * 100)`, so:
 *
 * - the same key always gets the same bucket (sticky, across processes and restarts);
 * - raising the percent only adds buckets (monotonic: nobody on the service moves back);
 * - the cohort salt decides which tenants go first. It defaults to the target upstream, so all
 *   routes carved to one service move a tenant together, while two services' canaries start
 *   with different tenants instead of burdening the same early ones every time.
 */

export const BUCKETS = 10_000;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// The state is kept as a signed 32-bit integer (Math.imul's result) inside the loops, and made
// unsigned only at the end: V8 keeps int32 arithmetic unboxed, while values above 2^31 from
// `>>> 0` would turn into doubles and slow the loop down several times.

/** Continues an FNV-1a hash (int32 state) over the UTF-8 encoding of `s`. */
function fnvString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
    } else if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
    } else {
      if (c >= 0xd800 && c < 0xdc00) {
        const d = s.charCodeAt(i + 1); // NaN past the end of s: not a low surrogate
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
          h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME);
          h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
          h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
          continue;
        }
      }
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate: encoded as U+FFFD, like TextEncoder
      h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
    }
  }
  return h;
}

/** 32-bit FNV-1a of the UTF-8 encoding of `s`. */
export function fnv1a32(s: string): number {
  return fnvString(FNV_OFFSET | 0, s) >>> 0;
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key's bucket in 0..9999 for a cohort (see above). */
export function stickyBucket(cohort: string, key: string): number {
  const h = fnvString(Math.imul(fnvString(FNV_OFFSET | 0, cohort), FNV_PRIME), key); // the zero byte: h ^ 0 = h
  return fmix32(h) % BUCKETS;
}

/** The bucket threshold of a percent: buckets below it go to the service. Percent has 0.01 steps. */
export function percentThreshold(percent: number): number {
  return Math.min(BUCKETS, Math.max(0, Math.round(percent * 100)));
}
