import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { commentList, featureList, validateCommentCreate, validateCommentPatch, validateFeatureCreate, validateFeaturePatch } from '@carve/legacy-domain';
import type { Identity } from '@carve/shared-http';
import type { FastifyReply } from 'fastify';
import { created, CurrentIdentity, listQuery, pathId, valid, workspacePath } from '../http/request';
import { commentView, featureView } from './features.views';
import { CommentsService, FeaturesService } from './features.service';

@Controller('api/v1/workspaces/:workspaceId/features')
export class FeaturesController {
  constructor(private readonly features: FeaturesService) {}

  @Get()
  async list(@Param('workspaceId') workspaceId: string, @Query() query: unknown) {
    const page = await this.features.list(workspaceId, listQuery(featureList, query));
    return { items: page.items.map(featureView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    return featureView(await this.features.get(workspaceId, pathId(id, 'The feature')));
  }

  @Post()
  async create(@Param('workspaceId') workspaceId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const feature = await this.features.create(workspaceId, valid(validateFeatureCreate(body)));
    created(reply, `${workspacePath(workspaceId)}/features/${feature.id}`);
    return featureView(feature);
  }

  @Patch(':id')
  async update(@Param('workspaceId') workspaceId: string, @Param('id') id: string, @Body() body: unknown) {
    const featureId = pathId(id, 'The feature');
    return featureView(await this.features.update(workspaceId, featureId, valid(validateFeaturePatch(body))));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    await this.features.remove(workspaceId, pathId(id, 'The feature'));
  }
}

@Controller('api/v1/workspaces/:workspaceId/features/:featureId/comments')
export class CommentsController {
  constructor(private readonly comments: CommentsService) {}

  @Get()
  async list(@Param('workspaceId') workspaceId: string, @Param('featureId') featureId: string, @Query() query: unknown) {
    const page = await this.comments.list(workspaceId, pathId(featureId, 'The feature'), listQuery(commentList, query));
    return { items: page.items.map(commentView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(@Param('workspaceId') workspaceId: string, @Param('featureId') featureId: string, @Param('id') id: string) {
    return commentView(await this.comments.get(workspaceId, pathId(featureId, 'The feature'), pathId(id, 'The comment')));
  }

  @Post()
  async create(
    @Param('workspaceId') workspaceId: string,
    @Param('featureId') featureId: string,
    @CurrentIdentity() identity: Identity,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const fid = pathId(featureId, 'The feature');
    const comment = await this.comments.create(workspaceId, fid, identity.userId, valid(validateCommentCreate(body)));
    created(reply, `${workspacePath(workspaceId)}/features/${fid}/comments/${comment.id}`);
    return commentView(comment);
  }

  @Patch(':id')
  async update(@Param('workspaceId') workspaceId: string, @Param('featureId') featureId: string, @Param('id') id: string, @Body() body: unknown) {
    const fid = pathId(featureId, 'The feature');
    const cid = pathId(id, 'The comment');
    return commentView(await this.comments.update(workspaceId, fid, cid, valid(validateCommentPatch(body))));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('featureId') featureId: string, @Param('id') id: string) {
    await this.comments.remove(workspaceId, pathId(featureId, 'The feature'), pathId(id, 'The comment'));
  }
}
