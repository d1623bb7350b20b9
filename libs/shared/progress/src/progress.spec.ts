import { PassThrough } from 'node:stream';
import { formatDuration, formatProgress, ProgressBar } from './progress';

describe('formatProgress', () => {
  it('shows the bar, counts, rate and ETA', () => {
    const line = formatProgress({ label: 'notes', done: 250_000, total: 1_000_000, startedAt: 0, now: 5_000 });
    expect(line).toBe('notes [######------------------]  25% 250,000/1,000,000 rows 50,000 rows/s ETA 15s');
  });

  it('shows the elapsed time once done, and only counts without a total', () => {
    expect(formatProgress({ label: 'x', done: 10, total: 10, startedAt: 0, now: 2000 })).toMatch(/100% 10\/10 rows 5 rows\/s in 2s$/);
    expect(formatProgress({ label: 'x', done: 42, startedAt: 0, now: 1000 })).toBe('x 42 rows 42 rows/s');
  });

  it('counts in the unit it is given', () => {
    expect(formatProgress({ label: 'verify notes', done: 3, total: 3, startedAt: 0, now: 1000, unit: 'workspaces' })).toMatch(/ 3\/3 workspaces 3 workspaces\/s in 1s$/);
  });

  it('formats durations', () => {
    expect(formatDuration(59_000)).toBe('59s');
    expect(formatDuration(61_000)).toBe('1m01s');
    expect(formatDuration(3_660_000)).toBe('1h01m');
  });
});

describe('ProgressBar', () => {
  it('prints plain lines at most once per interval when not on a terminal, and a final line', () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (d) => lines.push(...String(d).split('\n').filter(Boolean)));
    let t = 0;
    const bar = new ProgressBar('rows', 100, { stream: out, intervalMs: 1000, now: () => t });
    for (let i = 1; i <= 100; i++) {
      t += 50; // 5 s in all
      bar.update(i);
    }
    bar.finish();
    expect(lines.length).toBe(6); // 5 interval lines + the final one
    expect(lines.at(-1)).toMatch(/100% 100\/100 rows/);
  });
});
