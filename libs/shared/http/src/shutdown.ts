import type { Logger } from 'pino';
import { tracing } from './tracing';

export interface ShutdownOptions {
  /** Hard deadline after which the process exits anyway (ms). */
  timeoutMs?: number;
  signals?: NodeJS.Signals[];
  /** Called first, before closing: flips readiness so load balancers stop sending. */
  onBegin?: () => void;
  exit?: (code: number) => void;
  /**
   * A supervisor's PID (default: the env var CARVE_PARENT_PID, which `carve dev` sets): when that
   * process is gone (killed with SIGKILL, so it could not stop its children), shut down as on
   * SIGTERM instead of running on as an orphan. Checked every `parentCheckMs` (1000).
   */
  parentPid?: number;
  parentCheckMs?: number;
}

/** The env var a supervisor sets to its own PID for its children (see ShutdownOptions.parentPid). */
export const PARENT_PID_ENV = 'CARVE_PARENT_PID';

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Calls `onGone` once the process `parentPid` no longer exists, checking every `everyMs`; the
 * timer does not keep the process alive. Returns the stop of the watch.
 */
export function watchParent(parentPid: number, onGone: () => void, everyMs = 1000): () => void {
  const timer = setInterval(() => {
    if (processGone(parentPid)) onGone();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * SIGTERM/SIGINT: mark draining (readiness fails), close servers and consumers (in-flight
 * requests finish), export the spans still buffered (tracing.ts), then exit 0; a second signal or the deadline exits at once. The same when
 * the supervising process (`parentPid`) disappears.
 */
export function installGracefulShutdown(close: () => Promise<void>, logger: Pick<Logger, 'info' | 'error'>, opts: ShutdownOptions = {}): () => void {
  const { timeoutMs = 25_000, signals = ['SIGTERM', 'SIGINT'], exit = (c) => process.exit(c) } = opts;
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.info({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    closing = true;
    logger.info({ signal }, 'shutting down: draining');
    opts.onBegin?.();
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown deadline passed: exiting');
      exit(1);
    }, timeoutMs);
    timer.unref();
    // The spans still buffered are exported last (tracing on; nothing to do otherwise).
    close()
      .finally(() => tracing().shutdown().catch(() => undefined))
      .then(
        () => {
          clearTimeout(timer);
          logger.info('shutdown complete');
          exit(0);
        },
        (err) => {
          clearTimeout(timer);
          logger.error({ err }, 'shutdown failed');
          exit(1);
        },
      );
  };
  for (const s of signals) process.on(s, handler);
  const parentPid = opts.parentPid ?? (Number(process.env[PARENT_PID_ENV]) || undefined);
  const unwatch = parentPid
    ? watchParent(
        parentPid,
        () => {
          if (closing) return;
          logger.info({ parentPid }, 'the supervising process is gone');
          handler('SIGTERM');
        },
        opts.parentCheckMs ?? 1000,
      )
    : undefined;
  return () => {
    for (const s of signals) process.off(s, handler);
    unwatch?.();
  };
}
