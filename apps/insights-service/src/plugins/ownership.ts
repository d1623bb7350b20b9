/**
 * Who owns the notes' writes: the carving stage of `insights` in the control plane, read through
 * the shared cached reader (`ContextStageReader` of @carve/shared-control-plane: TTL, one query
 * for concurrent requests, the last known stage for `graceMs` when the control plane cannot be
 * read, then 503 `control_plane_unavailable`; no table or no row is stage `created`). From
 * `writes-switched` on the service is the source of truth; before that a write that reaches it
 * (the gateway should not send one) is refused with 409 `not_source_of_truth`.
 */
import { INSIGHTS_CONTEXT, serviceOwnsWrites } from '@carve/insights-domain';
import { ContextStageReader, type StageReader } from '@carve/shared-control-plane';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export type { StageReader };

export interface StageReaderOptions {
  url: string;
  context?: string;
  ttlMs?: number;
  graceMs?: number;
  now?: () => number;
}

export function createStageReader(opts: StageReaderOptions): StageReader {
  const { context = INSIGHTS_CONTEXT, ...rest } = opts;
  return new ContextStageReader({ ...rest, context, ownsWrites: serviceOwnsWrites, applicationName: 'insights-service-stage' });
}

declare module 'fastify' {
  interface FastifyInstance {
    ownership: StageReader;
  }
}

/** Decorates `app.ownership` and closes it with the app. */
export const ownershipPlugin = fp(
  async (app: FastifyInstance, opts: { reader: StageReader }) => {
    app.decorate('ownership', opts.reader);
    app.addHook('onClose', async () => opts.reader.close());
  },
  { name: 'insights-ownership', fastify: '5.x' },
);
