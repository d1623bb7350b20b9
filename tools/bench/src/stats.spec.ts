import { parseArgs, percentile, summarize } from './stats';

describe('bench stats', () => {
  it('takes nearest-rank percentiles', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(s, 50)).toBe(50);
    expect(percentile(s, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(summarize([3, 1, 2])).toEqual({ count: 3, p50: 2, p99: 3, max: 3, mean: 2 });
    expect(summarize([]).count).toBe(0);
  });

  it('parses --flag value and --flag=value', () => {
    expect(parseArgs(['--duration', '60', '--rates=50,500', '--quick'])).toEqual({ duration: '60', rates: '50,500', quick: 'true' });
  });
});
