/** The context's name in the control plane (`carve.context_stages`) and on the command line. */
export const ROADMAPS_CONTEXT = 'roadmaps';

/** The monolith's aggregates this context takes over (as in its API paths and topics). */
export const ROADMAPS_AGGREGATES = ['releases'] as const;

/**
 * The carving stages of a context (DESIGN.md, "Carving one context: the stages"), in order. From
 * `writes-switched` on, the service is the source of truth for the context's writes.
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

/** Roles of the tokens (JWT `role`): makers and admins write, viewers read. */
export const ROLES = ['admin', 'maker', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const permissions = {
  write: (role: Role): boolean => role === 'admin' || role === 'maker',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any RFC 4122 textual UUID (what Postgres `uuid` accepts in canonical form). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
