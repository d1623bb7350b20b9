/** Small timing helpers shared by the relay and the consumers. */

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000 };

/** Exponential backoff with full jitter on the upper half: attempt 1 → ~initial, doubling, capped. */
export function backoffDelay(attempt: number, b: Backoff = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(b.maxMs, b.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * A sleep that something else can cut short: `wait(ms)` resolves after `ms` or at the next
 * `wake()`, whichever comes first. A wake with nobody waiting is remembered for the next wait.
 */
export class Waker {
  private pending = false;
  private resolve: (() => void) | undefined;

  wake(): void {
    if (this.resolve) {
      const r = this.resolve;
      this.resolve = undefined;
      r();
    } else {
      this.pending = true;
    }
  }

  /** True, and cleared, if woken since the last wait (which would have returned at once). */
  takeWake(): boolean {
    const woken = this.pending;
    this.pending = false;
    return woken;
  }

  /** Resolves when woken (true; at once if woken since the last wait) or after `ms` (false). */
  wait(ms: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.resolve = undefined;
        resolve(false);
      }, ms);
      this.resolve = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}

export { setTimeout as sleep } from 'node:timers/promises';

/** The logger shape the backbone writes to: pino's, or anything with these three methods. */
export interface MessagingLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: MessagingLogger = { info() {}, warn() {}, error() {} };

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Postgres errors that mean "the connection or server is gone", not "this statement is wrong". */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string') {
    if (/^08/.test(e.code) || e.code === '57P01' || e.code === '57P02' || e.code === '57P03' || e.code === '53300') return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(e.code)) return true;
  }
  return /Connection terminated|connection.*(closed|ended)|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(e.message ?? '');
}
