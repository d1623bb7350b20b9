/**
 * Who owns the context's writes: its carving stage in the control plane (`carve.context_stages`,
 * context `roadmaps`), read through the shared cached reader (`ContextStageReader` of
 * @carve/shared-control-plane). From `writes-switched` on the service is the source of truth;
 * before that a write that reaches it is refused with 409 `not_source_of_truth`. If the control
 * plane cannot be read, the last known stage is kept for `graceMs`, then writes get 503
 * `control_plane_unavailable` (refusing is safe; guessing is not). No table or no row means the
 * context is not being carved yet: stage `created`.
 */
import { ROADMAPS_CONTEXT, serviceOwnsWrites } from '@carve/roadmaps-domain';
import { ContextStageReader, type StageReader } from '@carve/shared-control-plane';

export type { StageReader };

export interface StageReaderOptions {
  url: string;
  ttlMs?: number;
  graceMs?: number;
  now?: () => number;
}

export function createStageReader(opts: StageReaderOptions): StageReader {
  return new ContextStageReader({ ...opts, context: ROADMAPS_CONTEXT, ownsWrites: serviceOwnsWrites, applicationName: 'roadmaps-service-stage' });
}
