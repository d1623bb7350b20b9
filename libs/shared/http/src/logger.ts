import pino, { type Logger, type LoggerOptions } from 'pino';

/** Structured JSON logs (pino), one logger per deployable, level from LOG_LEVEL. */
export function createLogger(service: string, opts: LoggerOptions = {}): Logger {
  return pino({
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
    ...opts,
  });
}

export type { Logger };
