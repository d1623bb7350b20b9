/**
 * What this library logs through: anything with `info(message)` (a pino logger, `console`).
 * Messages are single strings so both work unchanged.
 */
export interface LogSink {
  info(message: string): void;
  warn?(message: string): void;
}

export const silentLog: LogSink = { info: () => undefined, warn: () => undefined };

export const stderrLog: LogSink = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`${m}\n`),
};

export function warn(log: LogSink, message: string): void {
  (log.warn ?? log.info).call(log, message);
}
