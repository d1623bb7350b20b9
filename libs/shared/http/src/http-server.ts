/**
 * An HTTP application as a service's runtime drives it, whatever the framework on top of Fastify:
 * its metrics registry, the drain that turns readiness off, listen and close.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface HttpServer {
  readonly metrics: Registry;
  /** Readiness answers 503 from now on (shutdown began). */
  beginDrain(): void;
  /** Listens; resolves with the port (0 picks a free one). */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish. */
  close(): Promise<void>;
}

/**
 * `app` (with the platform plugin registered) as an HttpServer. A framework that owns the Fastify
 * instance (Nest) passes its own `listen` and `close`.
 */
export function fastifyHttpServer(app: FastifyInstance, own: { listen?: (port: number, host: string) => Promise<unknown>; close?: () => Promise<void> } = {}): HttpServer {
  return {
    metrics: app.platform.metrics,
    beginDrain: () => app.platform.beginDrain(),
    async listen(port, host) {
      await (own.listen ? own.listen(port, host) : app.listen({ port, host }));
      const address = app.server.address();
      return typeof address === 'object' && address ? address.port : port;
    },
    close: own.close ?? (() => app.close()),
  };
}
