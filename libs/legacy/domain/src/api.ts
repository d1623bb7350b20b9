/**
 * The monolith's own API (workspaces, members, features, comments) as JSON Schema: the request
 * bodies and list queries its controllers validate with (ajv, the kernel's per-field errors),
 * the response bodies, and the OpenAPI operations of the monolith's document. The notes and
 * releases APIs are the Insights and Roadmaps contracts' (`notes.api.ts`, `releases.api.ts`).
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  type ApiOperation,
  CREATED,
  compileSchema,
  Email,
  Enum,
  Int,
  listQuery,
  Nullable,
  Obj,
  Page,
  PartialObj,
  resourceProblems,
  TagFilter,
  Tags,
  Text,
  Uuid,
  WithDefault,
} from '@carve/shared-contract-kit';
import { FEATURE_STATUSES, MEMBER_ROLES, PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN } from './enums';

/** Limits on text fields (characters). */
const LIMITS = { name: 200, title: 200, description: 20_000, comment: 10_000 } as const;

// ---- requests

export const WorkspacePatchBody = Obj({ name: Type.Optional(Text({ min: 1, max: LIMITS.name })) }, { atLeastOne: true });

const memberProps = {
  email: Email(),
  name: Text({ min: 1, max: LIMITS.name }),
  role: WithDefault(Enum(MEMBER_ROLES), 'maker'),
};
export const MemberCreateBody = Obj(memberProps);
export const MemberPatchBody = PartialObj(memberProps);

const featureProps = {
  title: Text({ min: 1, max: LIMITS.title }),
  description: WithDefault(Text({ max: LIMITS.description }), ''),
  status: WithDefault(Enum(FEATURE_STATUSES), 'new'),
  priority: WithDefault(Int({ min: PRIORITY_MIN, max: PRIORITY_MAX }), PRIORITY_DEFAULT),
  ownerId: WithDefault(Nullable(Uuid()), null),
  tags: WithDefault(Tags(), []),
};
export const FeatureCreateBody = Obj(featureProps);
export const FeaturePatchBody = PartialObj(featureProps);

export const CommentBody = Obj({ body: Text({ min: 1, max: LIMITS.comment }) });

export const validateWorkspacePatch = compileSchema(WorkspacePatchBody);
export const validateMemberCreate = compileSchema(MemberCreateBody);
export const validateMemberPatch = compileSchema(MemberPatchBody);
export const validateFeatureCreate = compileSchema(FeatureCreateBody);
export const validateFeaturePatch = compileSchema(FeaturePatchBody);
export const validateCommentCreate = compileSchema(CommentBody);
export const validateCommentPatch = compileSchema(CommentBody);

export type FeatureCreate = Static<typeof FeatureCreateBody>;
export type FeaturePatch = Static<typeof FeaturePatchBody>;
export type CommentInput = Static<typeof CommentBody>;
export type MemberCreate = Static<typeof MemberCreateBody>;
export type MemberPatch = Static<typeof MemberPatchBody>;
export type WorkspacePatch = Static<typeof WorkspacePatchBody>;

// ---- list queries

export const MEMBER_LIST = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', name: 'text', email: 'text' },
  defaultSort: 'name',
  filters: { role: Enum(MEMBER_ROLES), email: Email() },
} as const;

export const FEATURE_LIST = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', title: 'text', priority: 'int' },
  defaultSort: '-createdAt',
  filters: { status: Enum(FEATURE_STATUSES), tag: TagFilter(), ownerId: Uuid() },
} as const;

export const COMMENT_LIST = { sorts: { createdAt: 'timestamp' }, defaultSort: 'createdAt', filters: {} } as const;

// ---- responses

const Id = () => Type.String({ format: 'uuid' });
const Timestamp = () => Type.String({ format: 'date-time' });
const closed = { additionalProperties: false } as const;

export const Workspace = Type.Object({ id: Id(), name: Type.String(), slug: Type.String(), version: Type.Integer(), createdAt: Timestamp(), updatedAt: Timestamp() }, closed);
export const Member = Type.Object(
  { id: Id(), workspaceId: Id(), email: Type.String(), name: Type.String(), role: Type.String({ enum: [...MEMBER_ROLES] }), version: Type.Integer(), createdAt: Timestamp(), updatedAt: Timestamp() },
  closed,
);
export const Feature = Type.Object(
  {
    id: Id(),
    workspaceId: Id(),
    title: Type.String(),
    description: Type.String(),
    status: Type.String({ enum: [...FEATURE_STATUSES] }),
    priority: Type.Integer({ minimum: PRIORITY_MIN, maximum: PRIORITY_MAX }),
    ownerId: Type.Union([Id(), Type.Null()]),
    tags: Type.Array(Type.String()),
    version: Type.Integer(),
    createdAt: Timestamp(),
    updatedAt: Timestamp(),
  },
  closed,
);
export const Comment = Type.Object({ id: Id(), featureId: Id(), authorId: Type.Union([Id(), Type.Null()], { description: 'null once the author is no member any more' }), body: Type.String(), createdAt: Timestamp(), updatedAt: Timestamp() }, closed);

// ---- operations

const WS = '/api/v1/workspaces/{workspaceId}';
const { reads, writes } = resourceProblems({
  notFound: 'no such workspace or resource (not_found)',
  conflict: 'a conflict (for example email_taken, not_source_of_truth)',
});

function crud(o: { path: string; item: string; tag: string; name: string; plural: string; schema: any; create: any; patch: any; list: any }): ApiOperation[] {
  const one = `${o.path}/{${o.item}}`;
  const tags = [o.tag];
  return [
    { method: 'get', path: o.path, operationId: `list${o.plural}`, summary: `A page of ${o.plural.toLowerCase()}`, tags, query: listQuery(o.list), responses: { '200': { description: 'a page', schema: Page(o.schema) }, ...reads } },
    { method: 'post', path: o.path, operationId: `create${o.name}`, summary: `Create a ${o.name.toLowerCase()}`, tags, body: o.create, responses: { '201': { description: 'created', schema: o.schema, headers: CREATED }, ...writes } },
    { method: 'get', path: one, operationId: `get${o.name}`, summary: `One ${o.name.toLowerCase()}`, tags, responses: { '200': { description: o.name, schema: o.schema }, ...reads } },
    { method: 'patch', path: one, operationId: `update${o.name}`, summary: `Change a ${o.name.toLowerCase()}`, tags, body: o.patch, responses: { '200': { description: o.name, schema: o.schema }, ...writes } },
    { method: 'delete', path: one, operationId: `delete${o.name}`, summary: `Delete a ${o.name.toLowerCase()}`, tags, responses: { '204': { description: 'deleted' }, ...writes } },
  ];
}

export const monolithOperations: ApiOperation[] = [
  { method: 'get', path: WS, operationId: 'getWorkspace', summary: 'The workspace', tags: ['workspaces'], responses: { '200': { description: 'the workspace', schema: Workspace }, ...reads } },
  { method: 'patch', path: WS, operationId: 'updateWorkspace', summary: 'Rename the workspace (admins)', tags: ['workspaces'], body: WorkspacePatchBody, responses: { '200': { description: 'the workspace', schema: Workspace }, ...writes } },
  ...crud({ path: `${WS}/members`, item: 'id', tag: 'members', name: 'Member', plural: 'Members', schema: Member, create: MemberCreateBody, patch: MemberPatchBody, list: MEMBER_LIST }),
  ...crud({ path: `${WS}/features`, item: 'id', tag: 'features', name: 'Feature', plural: 'Features', schema: Feature, create: FeatureCreateBody, patch: FeaturePatchBody, list: FEATURE_LIST }),
  ...crud({ path: `${WS}/features/{featureId}/comments`, item: 'id', tag: 'features', name: 'Comment', plural: 'Comments', schema: Comment, create: CommentBody, patch: CommentBody, list: COMMENT_LIST }),
];
