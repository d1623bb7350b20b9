/**
 * The monolith's resources as the API accepts them: request bodies (create and PATCH) and list
 * queries (filters, sorts), all JSON Schemas validated by ajv (`api.ts` for the monolith's own
 * resources, the Insights and Roadmaps contracts for notes and releases). Each `validateX`
 * returns `Result<T>`; each list spec feeds `parseListQuery`.
 */
import type { ListSpec } from '@carve/shared-kernel';
import { NOTE_LINK_LIST, NOTE_LIST } from '@carve/insights-api-contract';
import { PLANNED_FEATURE_LIST, RELEASE_LIST } from '@carve/roadmaps-api-contract';
import { listSpecOf } from '@carve/shared-contract-kit';
import { COMMENT_LIST, FEATURE_LIST, MEMBER_LIST } from './api';

/** Limits on text fields (characters). */
export const LIMITS = {
  name: 200,
  title: 200,
  description: 20_000,
  content: 50_000,
  comment: 10_000,
  linkedFeatures: 50,
} as const;

// ---------------------------------------------------------------------------------------------
// workspaces, members, features and comments: JSON Schemas in `api.ts` (validated by ajv)

export {
  type CommentInput,
  type FeatureCreate,
  type FeaturePatch,
  type MemberCreate,
  type MemberPatch,
  validateCommentCreate,
  validateCommentPatch,
  validateFeatureCreate,
  validateFeaturePatch,
  validateMemberCreate,
  validateMemberPatch,
  validateWorkspacePatch,
  type WorkspacePatch,
} from './api';

export const memberList = listSpecOf(MEMBER_LIST) satisfies ListSpec<any>;
export const featureList = listSpecOf(FEATURE_LIST) satisfies ListSpec<any>;
export const commentList = listSpecOf(COMMENT_LIST) satisfies ListSpec<any>;

// ---------------------------------------------------------------------------------------------
// notes and their links to features

// The notes API's JSON Schemas are the Insights contract's (@carve/insights-api-contract): the
// monolith validates with them (ajv), the insights service too, and both serve them in their
// OpenAPI documents.
export { validateNoteCreate, validateNoteLinkCreate, validateNoteLinkPatch, validateNotePatch } from '@carve/insights-api-contract';
export type { NoteCreate, NoteLinkCreate, NotePatch } from '@carve/insights-api-contract';

export const noteList = listSpecOf(NOTE_LIST) satisfies ListSpec<any>;
export const noteLinkList = listSpecOf(NOTE_LINK_LIST) satisfies ListSpec<any>;

// ---------------------------------------------------------------------------------------------
// releases and the features planned in them

// The releases API's JSON Schemas are the Roadmaps contract's (@carve/roadmaps-api-contract): the
// monolith validates with them (ajv), the roadmaps service too, and both serve them in their
// OpenAPI documents.
export { validatePlannedFeature, validateReleaseCreate, validateReleasePatch } from '@carve/roadmaps-api-contract';
export type { ReleaseCreate, ReleasePatch } from '@carve/roadmaps-api-contract';

export const releaseList = listSpecOf(RELEASE_LIST) satisfies ListSpec<any>;
export const plannedFeatureList = listSpecOf(PLANNED_FEATURE_LIST) satisfies ListSpec<any>;
