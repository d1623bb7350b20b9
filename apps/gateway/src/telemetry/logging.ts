/**
 * Per-request loggers, made only when a request logs something. Fastify gives every request a
 * child logger (with its reqId); building a pino child (bindings serialised, redaction set up)
 * costs more than most proxied requests need, since a proxied request that goes well and has
 * no access log writes nothing. `lazyChildLoggerFactory` hands Fastify a stand-in that builds
 * the real child on the first log call at an enabled level.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { FastifyChildLoggerFactory } from 'fastify/types/logger';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
type Level = (typeof LEVELS)[number];

type LogFn = (...args: unknown[]) => void;

class LazyChild {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Record<string, unknown>,
    private readonly options: Record<string, unknown> | undefined,
  ) {}

  get level(): string {
    return (this.real ?? this.parent).level;
  }

  set level(value: string) {
    this.logger().level = value;
  }

  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): FastifyBaseLogger {
    return this.logger().child(bindings, options as never);
  }

  silent(): void {
    // nothing, by definition
  }

  private logger(): FastifyBaseLogger {
    if (!this.real) this.real = this.parent.child(this.bindings, this.options as never);
    return this.real;
  }

  /** @internal */
  emit(level: Level, args: unknown[]): void {
    const parentFn = (this.parent as unknown as Record<Level, LogFn>)[level];
    // Disabled levels are no-ops on pino loggers: skip building the child for them.
    if (!this.real && parentFn === (this.parent as unknown as { silent: LogFn }).silent) return;
    ((this.logger() as unknown as Record<Level, LogFn>)[level] as LogFn)(...args);
  }
}

for (const level of LEVELS) {
  Object.defineProperty(LazyChild.prototype, level, {
    value: function (this: LazyChild, ...args: unknown[]) {
      this.emit(level, args);
    },
  });
}

export const lazyChildLoggerFactory: FastifyChildLoggerFactory = function (logger, bindings, options) {
  return new LazyChild(logger, bindings as Record<string, unknown>, options as Record<string, unknown> | undefined) as unknown as FastifyBaseLogger;
};
