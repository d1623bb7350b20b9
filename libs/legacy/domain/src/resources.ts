/**
 * The monolith's resources as the API accepts them: request bodies (create and PATCH) and list
 * queries (filters, sorts). Each `validateX` returns `Result<T>`; each list spec feeds
 * `parseListQuery`.
 */
import {
  FEATURE_STATUSES,
  MEMBER_ROLES,
  PRIORITY_DEFAULT,
  PRIORITY_MAX,
  PRIORITY_MIN,
} from './enums';
import type { ListSpec } from '@carve/shared-kernel';
import { NOTE_LINK_LIST, NOTE_LIST } from '@carve/insights-api-contract';
import { PLANNED_FEATURE_LIST, RELEASE_LIST } from '@carve/roadmaps-api-contract';
import { listSpecOf } from '@carve/shared-contract-kit';
import {
  email,
  int,
  nullable,
  object,
  oneOf,
  optional,
  partial,
  required,
  type Rule,
  str,
  tags,
  uuid,
  validate,
  withDefault,
} from '@carve/shared-kernel';

/** Limits on text fields (characters). */
export const LIMITS = {
  name: 200,
  title: 200,
  description: 20_000,
  content: 50_000,
  comment: 10_000,
  linkedFeatures: 50,
} as const;

const oneTag: Rule<string> = (v, p, e) => {
  const out = str({ min: 1, max: 40 })(v, p, e);
  return typeof out === 'string' ? out.toLowerCase() : out;
};

// ---------------------------------------------------------------------------------------------
// workspaces and members

export const workspacePatchShape = { name: optional(str({ min: 1, max: LIMITS.name })) };
export const validateWorkspacePatch = (body: unknown) => validate(object(workspacePatchShape, { atLeastOne: true }), body);

const memberShape = {
  email: required(email()),
  name: required(str({ min: 1, max: LIMITS.name })),
  role: withDefault(oneOf(MEMBER_ROLES), () => 'maker' as const),
};
export const validateMemberCreate = (body: unknown) => validate(object(memberShape), body);
export const validateMemberPatch = (body: unknown) => validate(object(partial(memberShape), { atLeastOne: true }), body);

export const memberList = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', name: 'text', email: 'text' },
  defaultSort: 'name',
  filters: { role: oneOf(MEMBER_ROLES), email: email() },
} satisfies ListSpec<any>;

// ---------------------------------------------------------------------------------------------
// features and comments

const featureShape = {
  title: required(str({ min: 1, max: LIMITS.title })),
  description: withDefault(str({ max: LIMITS.description }), () => ''),
  status: withDefault(oneOf(FEATURE_STATUSES), () => 'new' as const),
  priority: withDefault(int({ min: PRIORITY_MIN, max: PRIORITY_MAX }), () => PRIORITY_DEFAULT),
  ownerId: withDefault(nullable(uuid()), () => null),
  tags: withDefault(tags(), () => []),
};
export const validateFeatureCreate = (body: unknown) => validate(object(featureShape), body);
export const validateFeaturePatch = (body: unknown) => validate(object(partial(featureShape), { atLeastOne: true }), body);

export const featureList = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', title: 'text', priority: 'int' },
  defaultSort: '-createdAt',
  filters: { status: oneOf(FEATURE_STATUSES), tag: oneTag, ownerId: uuid() },
} satisfies ListSpec<any>;

const commentShape = { body: required(str({ min: 1, max: LIMITS.comment })) };
export const validateCommentCreate = (body: unknown) => validate(object(commentShape), body);
export const validateCommentPatch = (body: unknown) => validate(object(commentShape), body);

export const commentList = {
  sorts: { createdAt: 'timestamp' },
  defaultSort: 'createdAt',
  filters: {},
} satisfies ListSpec<any>;

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

export type FeatureCreate = Extract<ReturnType<typeof validateFeatureCreate>, { ok: true }>['value'];
export type FeaturePatch = Extract<ReturnType<typeof validateFeaturePatch>, { ok: true }>['value'];
export type CommentInput = Extract<ReturnType<typeof validateCommentCreate>, { ok: true }>['value'];
export type MemberCreate = Extract<ReturnType<typeof validateMemberCreate>, { ok: true }>['value'];
export type MemberPatch = Extract<ReturnType<typeof validateMemberPatch>, { ok: true }>['value'];
export type WorkspacePatch = Extract<ReturnType<typeof validateWorkspacePatch>, { ok: true }>['value'];
