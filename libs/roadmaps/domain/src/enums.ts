/** Allowed values of the roadmaps context (the monolith's lists; the releases contract suite holds both sides to them). */
import { RELEASE_STATES } from '@carve/roadmaps-api-contract';

export { RELEASE_STATES };
export type ReleaseState = (typeof RELEASE_STATES)[number];

/** Statuses of the features the read model keeps (owned by the features context). */
export const FEATURE_STATUSES = ['new', 'planned', 'in-progress', 'done'] as const;
export type FeatureStatus = (typeof FEATURE_STATUSES)[number];
