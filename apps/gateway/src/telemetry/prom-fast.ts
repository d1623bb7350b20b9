/**
 * prom-client children for the hot path. prom-client's own `labels(...)` child re-validates and
 * re-hashes its label set on every `inc()` and `observe()`; these find the metric's entry for
 * one label set once and update it in place (for a histogram: sum, count and the bucket), which
 * is all prom-client's `observe` does after the hashing. They rely on prom-client 15's entries
 * (`{ value }` for a counter, `{ sum, count, bucketValues }` for a histogram, in `hashMap`); if
 * an entry does not have that shape they fall back to the public child. Neither resets an
 * existing entry. prom-fast.spec.ts proves the exposition is the one prom-client's own
 * children produce.
 */
import type { Counter, Histogram, LabelValues } from 'prom-client';

interface CounterEntry {
  value: number;
  labels: Record<string, unknown>;
}

interface HistogramEntry {
  sum: number;
  count: number;
  bucketValues: Record<string, number>;
  labels: Record<string, unknown>;
}

function entryOf<E extends { labels: Record<string, unknown> }>(metric: unknown, labels: Record<string, unknown>): E | undefined {
  const map = (metric as { hashMap?: Record<string, E> }).hashMap;
  if (!map || typeof map !== 'object') return undefined;
  const names = Object.keys(labels);
  for (const e of Object.values(map)) {
    const l = e?.labels;
    if (l && Object.keys(l).length === names.length && names.every((n) => String(l[n]) === String(labels[n]))) return e;
  }
  return undefined;
}

/** `inc()` by one for one label set of a counter (its series appears at the first call). */
export function counterChild<T extends string>(counter: Counter<T>, labels: LabelValues<T>): () => void {
  let entry: CounterEntry | null | undefined; // undefined: not made yet; null: the public child
  let child: { inc(): void } | undefined;
  return () => {
    if (entry) {
      entry.value += 1;
      return;
    }
    if (entry === null) {
      child!.inc();
      return;
    }
    counter.inc(labels, 1);
    const e = entryOf<CounterEntry>(counter, labels);
    entry = e && typeof e.value === 'number' ? e : null;
    if (entry === null) child = counter.labels(labels);
  };
}

/** `observe(v)` for one label set of a histogram (its series appears at the first call). */
export function histogramChild<T extends string>(histogram: Histogram<T>, labels: LabelValues<T>): (v: number) => void {
  let entry: HistogramEntry | null | undefined;
  let child: { observe(v: number): void } | undefined;
  const bounds = (histogram as unknown as { upperBounds?: unknown }).upperBounds;
  const upper = Array.isArray(bounds) ? (bounds as number[]) : null;
  return (v) => {
    if (entry) {
      entry.sum += v;
      entry.count += 1;
      for (let i = 0; i < upper!.length; i++) {
        if (v <= upper![i]) {
          entry.bucketValues[upper![i]] += 1;
          return;
        }
      }
      return;
    }
    if (entry === null) {
      child!.observe(v);
      return;
    }
    histogram.observe(labels, v);
    const e = entryOf<HistogramEntry>(histogram, labels);
    entry = upper && e && typeof e.sum === 'number' && typeof e.count === 'number' && e.bucketValues && typeof e.bucketValues === 'object' ? e : null;
    if (entry === null) child = histogram.labels(labels);
  };
}
