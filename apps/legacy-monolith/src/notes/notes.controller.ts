import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { noteLinkList, noteList, validateNoteCreate, validateNoteLinkCreate, validateNoteLinkPatch, validateNotePatch } from '@carve/legacy-domain';
import type { FastifyReply } from 'fastify';
import { created, listQuery, pathId, valid, workspacePath } from '../http/request';
import { noteLinkView, noteView, noteWithLinksView } from './notes.views';
import { NotesService } from './notes.service';

@Controller('api/v1/workspaces/:workspaceId/notes')
export class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Get()
  async list(@Param('workspaceId') workspaceId: string, @Query() query: unknown) {
    const page = await this.notes.list(workspaceId, listQuery(noteList, query));
    return { items: page.items.map(noteView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    return noteWithLinksView(await this.notes.get(workspaceId, pathId(id, 'The note')));
  }

  @Post()
  async create(@Param('workspaceId') workspaceId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const created_ = await this.notes.create(workspaceId, valid(validateNoteCreate(body)));
    created(reply, `${workspacePath(workspaceId)}/notes/${created_.note.id}`);
    return noteWithLinksView(created_);
  }

  @Patch(':id')
  async update(@Param('workspaceId') workspaceId: string, @Param('id') id: string, @Body() body: unknown) {
    const noteId = pathId(id, 'The note');
    return noteWithLinksView(await this.notes.update(workspaceId, noteId, valid(validateNotePatch(body))));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    await this.notes.remove(workspaceId, pathId(id, 'The note'));
  }
}

@Controller('api/v1/workspaces/:workspaceId/notes/:noteId/features')
export class NoteLinksController {
  constructor(private readonly notes: NotesService) {}

  @Get()
  async list(@Param('workspaceId') workspaceId: string, @Param('noteId') noteId: string, @Query() query: unknown) {
    const page = await this.notes.listLinks(workspaceId, pathId(noteId, 'The note'), listQuery(noteLinkList, query));
    return { items: page.items.map(noteLinkView), nextCursor: page.nextCursor };
  }

  @Get(':featureId')
  async get(@Param('workspaceId') workspaceId: string, @Param('noteId') noteId: string, @Param('featureId') featureId: string) {
    const nid = pathId(noteId, 'The note');
    return noteLinkView(await this.notes.getLink(workspaceId, nid, pathId(featureId, 'The link between this note and feature')));
  }

  @Post()
  async create(@Param('workspaceId') workspaceId: string, @Param('noteId') noteId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const nid = pathId(noteId, 'The note');
    const link = await this.notes.link(workspaceId, nid, valid(validateNoteLinkCreate(body)));
    created(reply, `${workspacePath(workspaceId)}/notes/${nid}/features/${link.featureId}`);
    return noteLinkView(link);
  }

  @Patch(':featureId')
  async update(@Param('workspaceId') workspaceId: string, @Param('noteId') noteId: string, @Param('featureId') featureId: string, @Body() body: unknown) {
    const nid = pathId(noteId, 'The note');
    const fid = pathId(featureId, 'The link between this note and feature');
    const { importance } = valid(validateNoteLinkPatch(body));
    return noteLinkView(await this.notes.updateLink(workspaceId, nid, fid, importance));
  }

  @Delete(':featureId')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('noteId') noteId: string, @Param('featureId') featureId: string) {
    await this.notes.unlink(workspaceId, pathId(noteId, 'The note'), pathId(featureId, 'The link between this note and feature'));
  }
}
