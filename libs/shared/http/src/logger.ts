import pino, { type Logger, type LoggerOptions } from 'pino';
import { activeTraceLogFields, tracingEnabled } from './tracing';

/**
 * Structured JSON logs (pino), one logger per deployable, level from LOG_LEVEL. With tracing on
 * (tracing.ts), a line written inside a span carries its `trace_id` and `span_id`. Lines go to
 * stdout, or to `destination`.
 */
export function createLogger(service: string, opts: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Decided when the logger is made: start tracing first (startTracing), or lines carry no ids.
    ...(tracingEnabled() ? { mixin: activeTraceLogFields } : {}),
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
    ...opts,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
