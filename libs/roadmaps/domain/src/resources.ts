/**
 * The releases API's bodies and list queries: the JSON Schemas of @carve/roadmaps-api-contract
 * (`releases.api.ts`), validated by ajv with the kernel's per-field errors. The monolith's
 * releases controllers validate with the same schemas, so a bad body gets the same 400 from
 * either side, and the OpenAPI document publishes exactly what is checked.
 */
import type { ListSpec } from '@carve/shared-kernel';
import { PLANNED_FEATURE_LIST, RELEASE_LIMITS, RELEASE_LIST } from '@carve/roadmaps-api-contract';
import { listSpecOf } from '@carve/shared-contract-kit';

export { type ReleaseCreate, type ReleasePatch, validatePlannedFeature, validateReleaseCreate, validateReleasePatch } from '@carve/roadmaps-api-contract';

/** Limits on text fields (characters), as the monolith's. */
export const LIMITS = RELEASE_LIMITS;

export const releaseList = listSpecOf(RELEASE_LIST) satisfies ListSpec<any>;
export const plannedFeatureList = listSpecOf(PLANNED_FEATURE_LIST) satisfies ListSpec<any>;
