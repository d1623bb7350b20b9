/**
 * The carving stages of a context (docs: DESIGN.md "Carving one context: the stages"), in order.
 * The control plane keeps the current one per context (`carve.context_stages`); from
 * `writes-switched` on, the service is the source of truth for its context's writes.
 */
export const CARVING_STAGES = ['created', 'backfilled', 'shadow', 'canary', 'reads-switched', 'writes-switched', 'complete'] as const;
export type CarvingStage = (typeof CARVING_STAGES)[number];

export function isCarvingStage(value: unknown): value is CarvingStage {
  return typeof value === 'string' && (CARVING_STAGES as readonly string[]).includes(value);
}

/** True when the service owns writes at this stage (`writes-switched` or later). Unknown or missing: false. */
export function serviceOwnsWrites(stage: string | null | undefined): boolean {
  if (!isCarvingStage(stage)) return false;
  return CARVING_STAGES.indexOf(stage) >= CARVING_STAGES.indexOf('writes-switched');
}

/** The context name of insights in the control plane. */
export const INSIGHTS_CONTEXT = 'insights';
