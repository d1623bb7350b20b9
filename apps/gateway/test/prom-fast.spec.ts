/**
 * The in-place prom-client children expose exactly what prom-client's own children do.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { counterChild, histogramChild } from '../src/telemetry/prom-fast';

function pair(name: string) {
  const fast = new Registry();
  const reference = new Registry();
  fast.setDefaultLabels({ carve_service: 'gateway' });
  reference.setDefaultLabels({ carve_service: 'gateway' });
  const make = (r: Registry) => ({
    counter: new Counter({ name: `${name}_total`, help: 'h', labelNames: ['route', 'target'] as const, registers: [r] }),
    histogram: new Histogram({ name: `${name}_seconds`, help: 'h', labelNames: ['route', 'target'] as const, buckets: [0.001, 0.01, 0.1, 1], registers: [r] }),
  });
  return { fast, reference, f: make(fast), r: make(reference) };
}

describe('prom-fast children', () => {
  it('count and observe exactly as prom-client children do, series appearing at first use', async () => {
    const { fast, reference, f, r } = pair('x');
    const incA = counterChild(f.counter, { route: 'a', target: 'monolith' });
    const incB = counterChild(f.counter, { route: 'b', target: 'service' });
    const obsA = histogramChild(f.histogram, { route: 'a', target: 'monolith' });
    counterChild(f.counter, { route: 'never', target: 'used' });
    histogramChild(f.histogram, { route: 'never', target: 'used' });
    const values = [0.0005, 0.001, 0.002, 0.05, 0.5, 3, 0.0001];
    for (const v of values) {
      incA();
      obsA(v);
      r.counter.labels('a', 'monolith').inc();
      r.histogram.labels('a', 'monolith').observe(v);
    }
    incB();
    r.counter.labels('b', 'service').inc();
    const text = await fast.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).not.toContain('never');
    expect(text).toContain('x_seconds_bucket{le="0.001",carve_service="gateway",route="a",target="monolith"} 3');
    expect(text).toContain('x_seconds_count{carve_service="gateway",route="a",target="monolith"} 7');
  });

  it('leaves series that already exist as they are', async () => {
    const { fast, f } = pair('y');
    f.counter.labels('a', 't').inc(5);
    f.histogram.labels('a', 't').observe(0.5);
    counterChild(f.counter, { route: 'a', target: 't' })();
    histogramChild(f.histogram, { route: 'a', target: 't' })(0.5);
    const text = await fast.metrics();
    expect(text).toContain('y_total{route="a",target="t",carve_service="gateway"} 6');
    expect(text).toContain('y_seconds_count{carve_service="gateway",route="a",target="t"} 2');
    expect(text).toContain('y_seconds_sum{carve_service="gateway",route="a",target="t"} 1');
  });
});
