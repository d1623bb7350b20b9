import { sleep } from './sleep';

/**
 * A fixed ceiling on the rows a copy writes per second (`--max-rows-per-second`), shared by the
 * backfill and `carve move backfill`: a token bucket in which a batch is written only once the
 * rate allows all of its rows, keeping at most 100 ms of unused budget (a stall or a pause is not
 * followed by a burst).
 */
export class RowRate {
  /** Under a ceiling a batch holds at most this much of the budget (see `batchSize`). */
  static readonly BATCH_MS = 50;
  private allowedAt = performance.now() - RowRate.BATCH_MS; // the first batch may start at once

  constructor(readonly perSecond: number) {}

  /** A ceiling when `perSecond` is a positive number; none otherwise. */
  static of(perSecond: number | undefined): RowRate | undefined {
    return perSecond !== undefined && perSecond > 0 ? new RowRate(perSecond) : undefined;
  }

  /**
   * The batch size to use under this ceiling: at most 50 ms of budget, so the database's work
   * comes in small bursts, which is what keeps the latency of everything else on it flat.
   */
  batchSize(wanted: number): number {
    return Math.max(1, Math.min(wanted, Math.floor((this.perSecond * RowRate.BATCH_MS) / 1000)));
  }

  /** Waits until the rate allows `rows` more; resolves with the time waited, ms. */
  async take(rows: number, signal?: AbortSignal): Promise<number> {
    if (rows <= 0) return 0;
    const now = performance.now();
    this.allowedAt = Math.max(this.allowedAt, now - 100) + (rows * 1000) / this.perSecond;
    const wait = Math.max(0, this.allowedAt - now);
    await sleep(wait, signal);
    return wait;
  }
}
