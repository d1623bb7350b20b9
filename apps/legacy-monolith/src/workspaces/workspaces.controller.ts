import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { memberList, validateMemberCreate, validateMemberPatch, validateWorkspacePatch } from '@carve/legacy-domain';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from '../http/tenancy.guard';
import { created, listQuery, pathId, valid, workspacePath } from '../http/request';
import { memberView, workspaceView } from './workspaces.views';
import { MembersService, WorkspacesService } from './workspaces.service';

@Controller('api/v1/workspaces/:workspaceId')
export class WorkspacesController {
  constructor(private readonly workspaces: WorkspacesService) {}

  @Get()
  async get(@Param('workspaceId') workspaceId: string) {
    return workspaceView(await this.workspaces.get(workspaceId));
  }

  @Patch()
  @AdminOnly()
  async update(@Param('workspaceId') workspaceId: string, @Body() body: unknown) {
    return workspaceView(await this.workspaces.update(workspaceId, valid(validateWorkspacePatch(body))));
  }
}

@Controller('api/v1/workspaces/:workspaceId/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get()
  async list(@Param('workspaceId') workspaceId: string, @Query() query: unknown) {
    const page = await this.members.list(workspaceId, listQuery(memberList, query));
    return { items: page.items.map(memberView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    return memberView(await this.members.get(workspaceId, pathId(id, 'The member')));
  }

  @Post()
  @AdminOnly()
  async create(@Param('workspaceId') workspaceId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const member = await this.members.create(workspaceId, valid(validateMemberCreate(body)));
    created(reply, `${workspacePath(workspaceId)}/members/${member.id}`);
    return memberView(member);
  }

  @Patch(':id')
  @AdminOnly()
  async update(@Param('workspaceId') workspaceId: string, @Param('id') id: string, @Body() body: unknown) {
    const memberId = pathId(id, 'The member');
    return memberView(await this.members.update(workspaceId, memberId, valid(validateMemberPatch(body))));
  }

  @Delete(':id')
  @AdminOnly()
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    await this.members.remove(workspaceId, pathId(id, 'The member'));
  }
}
