/**
 * Progress for long-running CLI work (seed, backfill, verify): rows done of a total, the rate,
 * and an ETA. On a terminal it redraws one line; elsewhere (CI, pipes) it prints a plain line at
 * most every `intervalMs`, so logs stay readable.
 */
export interface ProgressState {
  label: string;
  done: number;
  total?: number;
  startedAt: number;
  now: number;
  /** What is counted (plural): `rows` unless told, e.g. `workspaces`. */
  unit?: string;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** One line: `label [#####-----] 52% 520,000/1,000,000 rows 81,234 rows/s ETA 6s`. */
export function formatProgress(s: ProgressState, width = 24): string {
  const unit = s.unit ?? 'rows';
  const elapsed = Math.max(1, s.now - s.startedAt);
  const rate = (s.done * 1000) / elapsed;
  const parts = [s.label];
  if (s.total && s.total > 0) {
    const frac = Math.min(1, s.done / s.total);
    const filled = Math.round(frac * width);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`, `${String(Math.floor(frac * 100)).padStart(3)}%`);
    parts.push(`${formatCount(s.done)}/${formatCount(s.total)} ${unit}`);
  } else {
    parts.push(`${formatCount(s.done)} ${unit}`);
  }
  parts.push(`${formatCount(rate)} ${unit}/s`);
  if (s.total && s.total > s.done && rate > 0) parts.push(`ETA ${formatDuration(((s.total - s.done) / rate) * 1000)}`);
  else if (s.total && s.done >= s.total) parts.push(`in ${formatDuration(elapsed)}`);
  return parts.join(' ');
}

export interface ProgressBarOptions {
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Minimum time between two non-terminal lines. */
  intervalMs?: number;
  now?: () => number;
  /** What is counted (plural), default `rows`. */
  unit?: string;
}

export class ProgressBar {
  private done = 0;
  private lastPrint = 0;
  private readonly startedAt: number;
  private readonly stream: NodeJS.WritableStream;
  private readonly tty: boolean;
  private readonly now: () => number;

  constructor(private label: string, private total?: number, private readonly opts: ProgressBarOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean((this.stream as NodeJS.WriteStream).isTTY);
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  update(done: number, total = this.total, label = this.label): void {
    this.done = done;
    this.total = total;
    this.label = label;
    const now = this.now();
    const interval = this.tty ? 100 : (this.opts.intervalMs ?? 2000);
    if (now - this.lastPrint < interval) return;
    this.lastPrint = now;
    this.print(false);
  }

  finish(done = this.done): void {
    this.done = done;
    this.print(true);
  }

  private print(final: boolean): void {
    const line = formatProgress({ label: this.label, done: this.done, total: this.total, startedAt: this.startedAt, now: this.now(), unit: this.opts.unit });
    if (this.tty) this.stream.write(`\r\u001b[2K${line}${final ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}
