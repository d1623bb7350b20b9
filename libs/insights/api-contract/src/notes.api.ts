/**
 * The notes API as JSON Schema: the request bodies and list queries both sides validate with
 * (the monolith's notes controllers through @carve/legacy-domain, the insights service through
 * @carve/insights-domain), the response bodies, and the OpenAPI operations built from them.
 * One definition: the validators below, the document at `/openapi.json` and the contract suite's
 * response checks all read these schemas.
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  type ApiOperation,
  CREATED,
  compileSchema,
  Email,
  Enum,
  List,
  listQuery,
  Nullable,
  Obj,
  Page,
  PartialObj,
  openApiDocument,
  platformOperations,
  resourceProblems,
  TagFilter,
  Tags,
  Text,
  Uuid,
  WithDefault,
} from '@carve/shared-contract-kit';

/** Allowed values of the insights context (the monolith's and the service's). */
export const NOTE_SOURCES = ['email', 'slack', 'intercom', 'manual'] as const;
export const NOTE_STATES = ['unprocessed', 'processed', 'archived'] as const;
export const IMPORTANCES = ['low', 'medium', 'high', 'critical'] as const;

/** Limits on text fields (characters). */
export const NOTE_LIMITS = { name: 200, title: 200, content: 50_000, linkedFeatures: 50 } as const;

// ---- requests

export const CustomerInput = Obj({
  email: Email(),
  name: WithDefault(Nullable(Text({ max: NOTE_LIMITS.name })), null),
  company: WithDefault(Nullable(Text({ max: NOTE_LIMITS.name })), null),
});

export const NoteLinkCreateBody = Obj({
  featureId: Uuid(),
  importance: WithDefault(Enum(IMPORTANCES), 'medium'),
});

const notePatchable = {
  title: Text({ min: 1, max: NOTE_LIMITS.title }),
  content: Text({ min: 1, max: NOTE_LIMITS.content }),
  source: WithDefault(Enum(NOTE_SOURCES), 'manual'),
  customer: WithDefault(Nullable(CustomerInput), null),
  tags: WithDefault(Tags(), []),
  state: WithDefault(Enum(NOTE_STATES), 'unprocessed'),
};

export const NoteCreateBody = Obj({
  ...notePatchable,
  /** Linked features, written with the note in one transaction. */
  features: WithDefault(List(NoteLinkCreateBody, { max: NOTE_LIMITS.linkedFeatures, uniqueBy: 'featureId', uniqueMessage: 'links the same feature twice' }), []),
});
export const NotePatchBody = PartialObj(notePatchable);
export const NoteLinkPatchBody = Obj({ importance: Enum(IMPORTANCES) });

export const validateNoteCreate = compileSchema(NoteCreateBody);
export const validateNotePatch = compileSchema(NotePatchBody);
export const validateNoteLinkCreate = compileSchema(NoteLinkCreateBody);
export const validateNoteLinkPatch = compileSchema(NoteLinkPatchBody);

export type NoteCreate = Static<typeof NoteCreateBody>;
export type NotePatch = Static<typeof NotePatchBody>;
export type NoteLinkCreate = Static<typeof NoteLinkCreateBody>;
export type NoteLinkPatch = Static<typeof NoteLinkPatchBody>;

// ---- list queries: sorts and filters (each filter a schema)

export const NOTE_LIST = {
  sorts: { createdAt: 'timestamp', updatedAt: 'timestamp', title: 'text' },
  defaultSort: '-createdAt',
  filters: {
    state: Enum(NOTE_STATES),
    source: Enum(NOTE_SOURCES),
    tag: TagFilter(),
    customerEmail: Email(),
    featureId: Uuid(),
  },
} as const;

export const NOTE_LINK_LIST = {
  sorts: { createdAt: 'timestamp' },
  defaultSort: 'createdAt',
  filters: { importance: Enum(IMPORTANCES) },
} as const;

// ---- responses

const Timestamp = () => Type.String({ format: 'date-time' });

export const Note = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    workspaceId: Type.String({ format: 'uuid' }),
    title: Type.String(),
    content: Type.String(),
    source: Type.String({ enum: [...NOTE_SOURCES] }),
    customer: Type.Union([
      Type.Object({ email: Type.String(), name: Type.Union([Type.String(), Type.Null()]), company: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }),
      Type.Null(),
    ]),
    tags: Type.Array(Type.String()),
    state: Type.String({ enum: [...NOTE_STATES] }),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Timestamp(),
    updatedAt: Timestamp(),
  },
  { additionalProperties: false },
);

export const NoteWithLinks = Type.Object(
  {
    ...Note.properties,
    features: Type.Array(Type.Object({ featureId: Type.String({ format: 'uuid' }), importance: Type.String({ enum: [...IMPORTANCES] }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);

export const NoteLink = Type.Object(
  {
    noteId: Type.String({ format: 'uuid' }),
    featureId: Type.String({ format: 'uuid' }),
    importance: Type.String({ enum: [...IMPORTANCES] }),
    createdAt: Timestamp(),
    updatedAt: Timestamp(),
  },
  { additionalProperties: false },
);

// ---- operations

const NOTES = '/api/v1/workspaces/{workspaceId}/notes';
const LINKS = `${NOTES}/{noteId}/features`;
const tags = ['notes'];
const { reads, writes } = resourceProblems({
  notFound: 'no such workspace, note or link (not_found)',
  conflict: 'not the source of truth for this workspace (not_source_of_truth), or a conflict of the operation',
});

export const notesOperations: ApiOperation[] = [
  { method: 'get', path: NOTES, operationId: 'listNotes', summary: 'A page of notes', tags, query: listQuery(NOTE_LIST), responses: { '200': { description: 'a page', schema: Page(Note) }, ...reads } },
  {
    method: 'post',
    path: NOTES,
    operationId: 'createNote',
    summary: 'Create a note with its customer and feature links',
    tags,
    body: NoteCreateBody,
    responses: { '201': { description: 'created', schema: NoteWithLinks, headers: CREATED }, ...writes },
  },
  { method: 'get', path: `${NOTES}/{id}`, operationId: 'getNote', summary: 'A note with its links', tags, responses: { '200': { description: 'the note', schema: NoteWithLinks }, ...reads } },
  { method: 'patch', path: `${NOTES}/{id}`, operationId: 'updateNote', summary: 'Change a note', tags, body: NotePatchBody, responses: { '200': { description: 'the note', schema: NoteWithLinks }, ...writes } },
  { method: 'delete', path: `${NOTES}/{id}`, operationId: 'deleteNote', summary: 'Delete a note and its links', tags, responses: { '204': { description: 'deleted' }, ...writes } },
  { method: 'get', path: LINKS, operationId: 'listNoteLinks', summary: "A page of the note's feature links", tags, query: listQuery(NOTE_LINK_LIST), responses: { '200': { description: 'a page', schema: Page(NoteLink) }, ...reads } },
  {
    method: 'post',
    path: LINKS,
    operationId: 'linkFeature',
    summary: 'Link a feature to the note',
    tags,
    body: NoteLinkCreateBody,
    responses: { '201': { description: 'linked', schema: NoteLink, headers: CREATED }, ...writes },
  },
  { method: 'get', path: `${LINKS}/{featureId}`, operationId: 'getNoteLink', summary: 'One link', tags, responses: { '200': { description: 'the link', schema: NoteLink }, ...reads } },
  { method: 'patch', path: `${LINKS}/{featureId}`, operationId: 'updateNoteLink', summary: "Change a link's importance", tags, body: NoteLinkPatchBody, responses: { '200': { description: 'the link', schema: NoteLink }, ...writes } },
  { method: 'delete', path: `${LINKS}/{featureId}`, operationId: 'unlinkFeature', summary: 'Remove a link', tags, responses: { '204': { description: 'unlinked' }, ...writes } },
];

/** The insights service's document: the notes API and the platform's routes. */
export function insightsServiceOpenApi(version = '1.0.0') {
  return openApiDocument(
    { title: 'insights-service', version, description: 'The notes API of the carved Insights context (the same contract as the monolith’s notes API).' },
    [...notesOperations, ...platformOperations()],
  );
}
