import type { Logger } from 'pino';

export interface ShutdownOptions {
  /** Hard deadline after which the process exits anyway (ms). */
  timeoutMs?: number;
  signals?: NodeJS.Signals[];
  /** Called first, before closing: flips readiness so load balancers stop sending. */
  onBegin?: () => void;
  exit?: (code: number) => void;
}

/**
 * SIGTERM/SIGINT: mark draining (readiness fails), close servers and consumers (in-flight
 * requests finish), then exit 0; a second signal or the deadline exits at once.
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
    close().then(
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
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
