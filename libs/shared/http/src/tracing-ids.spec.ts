/**
 * The trace and span ids tracing uses (PooledIdGenerator): W3C-valid (lowercase hex of 32 and
 * 16 characters, never all zeros) and not repeated, across many refills of its pool.
 */
import { PooledIdGenerator } from './tracing';

it('hands out valid, distinct trace and span ids across refills of its pool', () => {
  const ids = new PooledIdGenerator();
  const traces = new Set<string>();
  const spans = new Set<string>();
  // 4096 bytes a pool: 20,000 of each is well over a hundred refills.
  for (let i = 0; i < 20_000; i++) {
    traces.add(ids.generateTraceId());
    spans.add(ids.generateSpanId());
  }
  expect([traces.size, spans.size]).toEqual([20_000, 20_000]);
  for (const t of traces) expect(t).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
  for (const s of spans) expect(s).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
});
