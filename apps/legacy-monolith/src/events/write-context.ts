/**
 * Who asked for a write, so the events it emits say so: the request's x-request-id as the
 * correlation id, the event that caused it (reverse sync) and the side where the change was
 * first written (`origin`). Carried in AsyncLocalStorage from the Fastify onRequest hook
 * (`installWriteContext`) or from `runWithWriteContext` (consumers, jobs), so the services'
 * signatures stay as they are.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance } from 'fastify';

export interface WriteContext {
  /** The request or workflow (HTTP: the request id, which is x-request-id when well-formed). */
  readonly correlationId?: string;
  /** The event (or command) that caused this write; null or absent for a user's own action. */
  readonly causationId?: string | null;
  /** Where the change was first written; `legacy` unless the write applies another side's event. */
  readonly origin?: string;
}

const storage = new AsyncLocalStorage<WriteContext>();

/** Runs `fn` (and everything it awaits) with `ctx` as the current write context. */
export function runWithWriteContext<T>(ctx: WriteContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The current write context; empty outside a request or `runWithWriteContext`. */
export function currentWriteContext(): WriteContext {
  return storage.getStore() ?? {};
}

/**
 * Every request runs in a write context whose correlation id is the request id. Registered as
 * the first onRequest hook after the platform plugin, before Nest adds its routes; Fastify keeps
 * the context through body parsing to the handler (fastify test/als.test.js).
 */
export function installWriteContext(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (req, _reply, done) => {
    runWithWriteContext({ correlationId: req.id }, done);
  });
}
