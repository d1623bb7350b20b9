/**
 * The releases API as JSON Schema: the request bodies and list queries both sides validate with
 * (the monolith's releases controllers through @carve/legacy-domain, the roadmaps service
 * through @carve/roadmaps-domain), the response bodies, and the OpenAPI operations built from
 * them. The validators, the document at `/openapi.json` and the contract suite's response checks
 * all read these schemas.
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  type ApiOperation,
  CalendarDate,
  CREATED,
  compileSchema,
  Enum,
  List,
  listQuery,
  Obj,
  openApiDocument,
  Page,
  PartialObj,
  platformOperations,
  resourceProblems,
  Text,
  Uuid,
  WithDefault,
} from '@carve/shared-contract-kit';

/** Allowed values of the roadmaps context (the monolith's and the service's). */
export const RELEASE_STATES = ['planned', 'in-progress', 'released'] as const;

/** Limits on text fields (characters) and plans. */
export const RELEASE_LIMITS = { name: 200, description: 20_000, plannedFeatures: 500 } as const;

// ---- requests

/** Calendar dates; the end not before the start. */
export const Timeframe = Type.Unsafe<{ start: string; end: string }>({
  ...Obj({ start: CalendarDate(), end: CalendarDate() }),
  'x-ordered': ['start', 'end'],
  'x-ordered-message': 'must not be before the start',
});

const releasePatchable = {
  name: Text({ min: 1, max: RELEASE_LIMITS.name }),
  description: WithDefault(Text({ max: RELEASE_LIMITS.description }), ''),
  timeframe: Timeframe,
  state: WithDefault(Enum(RELEASE_STATES), 'planned'),
};

export const ReleaseCreateBody = Obj({
  ...releasePatchable,
  /** Planned features, written with the release in one transaction. */
  featureIds: WithDefault(List(Uuid(), { max: RELEASE_LIMITS.plannedFeatures, uniqueBy: '', uniqueMessage: 'plans the same feature twice' }), []),
});
export const ReleasePatchBody = PartialObj(releasePatchable);
export const PlannedFeatureBody = Obj({ featureId: Uuid() });

export const validateReleaseCreate = compileSchema(ReleaseCreateBody);
export const validateReleasePatch = compileSchema(ReleasePatchBody);
export const validatePlannedFeature = compileSchema(PlannedFeatureBody);

export type ReleaseCreate = Static<typeof ReleaseCreateBody>;
export type ReleasePatch = Static<typeof ReleasePatchBody>;

// ---- list queries

export const RELEASE_LIST = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', name: 'text', startsOn: 'date' },
  defaultSort: 'startsOn',
  filters: { state: Enum(RELEASE_STATES), featureId: Uuid() },
} as const;

export const PLANNED_FEATURE_LIST = {
  sorts: { createdAt: 'timestamp' },
  defaultSort: 'createdAt',
  filters: {},
} as const;

// ---- responses

const Timestamp = () => Type.String({ format: 'date-time' });

export const Release = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    workspaceId: Type.String({ format: 'uuid' }),
    name: Type.String(),
    description: Type.String(),
    timeframe: Type.Object({ start: Type.String({ format: 'date' }), end: Type.String({ format: 'date' }) }, { additionalProperties: false }),
    state: Type.String({ enum: [...RELEASE_STATES] }),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Timestamp(),
    updatedAt: Timestamp(),
  },
  { additionalProperties: false },
);

export const ReleaseWithPlan = Type.Object({ ...Release.properties, featureIds: Type.Array(Type.String({ format: 'uuid' })) }, { additionalProperties: false });

export const PlannedFeature = Type.Object(
  { releaseId: Type.String({ format: 'uuid' }), featureId: Type.String({ format: 'uuid' }), createdAt: Timestamp() },
  { additionalProperties: false },
);

// ---- operations

const RELEASES = '/api/v1/workspaces/{workspaceId}/releases';
const PLANNED = `${RELEASES}/{releaseId}/features`;
const tags = ['releases'];
const { reads, writes } = resourceProblems({
  notFound: 'no such workspace, release or planned feature (not_found)',
  conflict: 'not the source of truth for this workspace (not_source_of_truth), or a conflict of the operation (already_planned)',
});

export const releasesOperations: ApiOperation[] = [
  { method: 'get', path: RELEASES, operationId: 'listReleases', summary: 'A page of releases', tags, query: listQuery(RELEASE_LIST), responses: { '200': { description: 'a page', schema: Page(Release) }, ...reads } },
  {
    method: 'post',
    path: RELEASES,
    operationId: 'createRelease',
    summary: 'Create a release with its plan',
    tags,
    body: ReleaseCreateBody,
    responses: { '201': { description: 'created', schema: ReleaseWithPlan, headers: CREATED }, ...writes },
  },
  { method: 'get', path: `${RELEASES}/{id}`, operationId: 'getRelease', summary: 'A release with its plan', tags, responses: { '200': { description: 'the release', schema: ReleaseWithPlan }, ...reads } },
  { method: 'patch', path: `${RELEASES}/{id}`, operationId: 'updateRelease', summary: 'Change a release', tags, body: ReleasePatchBody, responses: { '200': { description: 'the release', schema: ReleaseWithPlan }, ...writes } },
  { method: 'delete', path: `${RELEASES}/{id}`, operationId: 'deleteRelease', summary: 'Delete a release and its plan', tags, responses: { '204': { description: 'deleted' }, ...writes } },
  {
    method: 'get',
    path: PLANNED,
    operationId: 'listPlannedFeatures',
    summary: 'A page of the features planned in the release',
    tags,
    query: listQuery(PLANNED_FEATURE_LIST),
    responses: { '200': { description: 'a page', schema: Page(PlannedFeature) }, ...reads },
  },
  {
    method: 'post',
    path: PLANNED,
    operationId: 'planFeature',
    summary: 'Plan a feature in the release',
    tags,
    body: PlannedFeatureBody,
    responses: { '201': { description: 'planned', schema: PlannedFeature, headers: CREATED }, ...writes },
  },
  { method: 'get', path: `${PLANNED}/{featureId}`, operationId: 'getPlannedFeature', summary: 'One planned feature', tags, responses: { '200': { description: 'the planned feature', schema: PlannedFeature }, ...reads } },
  { method: 'delete', path: `${PLANNED}/{featureId}`, operationId: 'unplanFeature', summary: 'Take a feature out of the release', tags, responses: { '204': { description: 'unplanned' }, ...writes } },
];

/** The roadmaps service's document: the releases API and the platform's routes. */
export function roadmapsServiceOpenApi(version = '1.0.0') {
  return openApiDocument(
    { title: 'roadmaps-service', version, description: 'The releases API of the carved Roadmaps context (the same contract as the monolith’s releases API).' },
    [...releasesOperations, ...platformOperations()],
  );
}
