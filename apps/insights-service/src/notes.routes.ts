/**
 * /api/v1/workspaces/:workspaceId/notes: the monolith's notes API (same paths, bodies, statuses,
 * pages, filters, sorts and problem codes), served from schema `insights`.
 *
 * Tenancy and roles run first on every route, in the monolith's order (its TenancyGuard): the
 * token's workspace must be the path's (403 workspace_mismatch), a path workspace that is no UUID
 * is not found (404), viewers cannot write (403 forbidden_role); a preHandler, so after
 * authentication (401, the platform's onRequest) and body parsing (400 malformed_json, 413), as
 * in the monolith. Whether the service owns the writes is not checked here: the write fence of
 * its database (insights.write_fence, @carve/shared-persistence write-fence.ts) refuses a write it
 * does not own in the writing transaction itself (409 not_source_of_truth, or 503 write_fenced
 * while a handover holds the writes, both with Retry-After).
 */
import {
  createNote,
  deleteNote,
  getNote,
  getNoteLink,
  linkFeature,
  listNoteLinks,
  listNotes,
  unlinkFeature,
  updateNote,
  updateNoteLink,
} from '@carve/insights-data-access';
import {
  noteLinkList,
  noteList,
  validateNoteCreate,
  validateNoteLinkCreate,
  validateNoteLinkPatch,
  validateNotePatch,
} from '@carve/insights-domain';
import { requireIdentity } from '@carve/shared-http';
import { checkTenancy, edge, listQuery, pathId, valid, workspacePath } from '@carve/shared-service';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const NOTE = 'The note';
const LINK = 'The link between this note and feature';

type P = { workspaceId: string; id: string; noteId: string; featureId: string };

export async function notesRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('preHandler', async (req) => checkTenancy(requireIdentity(req), req.method, (req.params as Partial<P>).workspaceId));
  const ctx = (req: FastifyRequest) => ({ correlationId: req.id });
  const base = '/api/v1/workspaces/:workspaceId/notes';

  // ---- notes
  app.get<{ Params: P }>(base, async (req) => {
    const query = listQuery(noteList, req.query);
    return edge(() => listNotes(app.db, req.params.workspaceId, query));
  });

  app.get<{ Params: P }>(`${base}/:id`, async (req) => {
    const id = pathId(req.params.id, NOTE);
    return edge(() => getNote(app.db, req.params.workspaceId, id));
  });

  app.post<{ Params: P }>(base, async (req, reply) => {
    const ws = req.params.workspaceId;
    const input = valid(validateNoteCreate(req.body));
    const note = await edge(() => app.tx((tx) => createNote(tx, ws, input, ctx(req))));
    void reply.code(201).header('location', `${workspacePath(ws)}/notes/${note.id}`);
    return note;
  });

  app.patch<{ Params: P }>(`${base}/:id`, async (req) => {
    const id = pathId(req.params.id, NOTE);
    const patch = valid(validateNotePatch(req.body));
    return edge(() => app.tx((tx) => updateNote(tx, req.params.workspaceId, id, patch, ctx(req))));
  });

  app.delete<{ Params: P }>(`${base}/:id`, async (req, reply) => {
    const id = pathId(req.params.id, NOTE);
    await edge(() => app.tx((tx) => deleteNote(tx, req.params.workspaceId, id, ctx(req))));
    return reply.code(204).send();
  });

  // ---- the note's links to features
  const links = `${base}/:noteId/features`;

  app.get<{ Params: P }>(links, async (req) => {
    const noteId = pathId(req.params.noteId, NOTE);
    const query = listQuery(noteLinkList, req.query);
    return edge(() => listNoteLinks(app.db, req.params.workspaceId, noteId, query));
  });

  app.get<{ Params: P }>(`${links}/:featureId`, async (req) => {
    const noteId = pathId(req.params.noteId, NOTE);
    const featureId = pathId(req.params.featureId, LINK);
    return edge(() => getNoteLink(app.db, req.params.workspaceId, noteId, featureId));
  });

  app.post<{ Params: P }>(links, async (req, reply) => {
    const ws = req.params.workspaceId;
    const noteId = pathId(req.params.noteId, NOTE);
    const input = valid(validateNoteLinkCreate(req.body));
    const link = await edge(() => app.tx((tx) => linkFeature(tx, ws, noteId, input, ctx(req))));
    void reply.code(201).header('location', `${workspacePath(ws)}/notes/${noteId}/features/${link.featureId}`);
    return link;
  });

  app.patch<{ Params: P }>(`${links}/:featureId`, async (req) => {
    const noteId = pathId(req.params.noteId, NOTE);
    const featureId = pathId(req.params.featureId, LINK);
    const { importance } = valid(validateNoteLinkPatch(req.body));
    return edge(() => app.tx((tx) => updateNoteLink(tx, req.params.workspaceId, noteId, featureId, importance, ctx(req))));
  });

  app.delete<{ Params: P }>(`${links}/:featureId`, async (req, reply) => {
    const noteId = pathId(req.params.noteId, NOTE);
    const featureId = pathId(req.params.featureId, LINK);
    await edge(() => app.tx((tx) => unlinkFeature(tx, req.params.workspaceId, noteId, featureId, ctx(req))));
    return reply.code(204).send();
  });
}
