import type { Comparison, Difference } from './compare';

/**
 * The noise baseline's view of a difference's path: array indexes and array-key values are
 * wildcards (`$.items[3].id` and `$.items[id=42].at` become `$.items[*].id` and
 * `$.items[id=*].at`), so a field that differs per call is one path whatever element it is in.
 */
export function fieldPathKey(path: string): string {
  return path.replace(/\[\d+\]/g, '[*]').replace(/\[([^\]=[]+)=(?:"(?:[^"\\]|\\.)*"|[^\]]*)\]/g, '[$1=*]');
}

/** The distinct field path keys of a comparison's differences, in order. */
export function differencePaths(differences: readonly Difference[]): string[] {
  return [...new Set(differences.map((d) => fieldPathKey(d.path)))];
}

/**
 * The comparison with the differences at noise paths (keys as fieldPathKey gives them) left
 * out; `noisy` counts those left out. A status difference is never noise.
 */
export function withoutNoise(result: Comparison, noise: ReadonlySet<string>): Comparison & { readonly noisy: number } {
  if (result.equal || noise.size === 0) return { ...result, noisy: 0 };
  const differences = result.differences.filter((d) => d.kind === 'status' || !noise.has(fieldPathKey(d.path)));
  const noisy = result.differences.length - differences.length;
  // A truncated comparison may hide real differences: it stays unequal.
  return { equal: differences.length === 0 && !result.truncated, differences, truncated: result.truncated, noisy };
}
