import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { plannedFeatureList, releaseList, validatePlannedFeature, validateReleaseCreate, validateReleasePatch } from '@carve/legacy-domain';
import type { FastifyReply } from 'fastify';
import { created, listQuery, pathId, valid, workspacePath } from '../http/request';
import { plannedFeatureView, releaseView, releaseWithPlanView } from './releases.views';
import { ReleasesService } from './releases.service';

@Controller('api/v1/workspaces/:workspaceId/releases')
export class ReleasesController {
  constructor(private readonly releases: ReleasesService) {}

  @Get()
  async list(@Param('workspaceId') workspaceId: string, @Query() query: unknown) {
    const page = await this.releases.list(workspaceId, listQuery(releaseList, query));
    return { items: page.items.map(releaseView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    return releaseWithPlanView(await this.releases.get(workspaceId, pathId(id, 'The release')));
  }

  @Post()
  async create(@Param('workspaceId') workspaceId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const r = await this.releases.create(workspaceId, valid(validateReleaseCreate(body)));
    created(reply, `${workspacePath(workspaceId)}/releases/${r.release.id}`);
    return releaseWithPlanView(r);
  }

  @Patch(':id')
  async update(@Param('workspaceId') workspaceId: string, @Param('id') id: string, @Body() body: unknown) {
    const releaseId = pathId(id, 'The release');
    return releaseWithPlanView(await this.releases.update(workspaceId, releaseId, valid(validateReleasePatch(body))));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    await this.releases.remove(workspaceId, pathId(id, 'The release'));
  }
}

@Controller('api/v1/workspaces/:workspaceId/releases/:releaseId/features')
export class PlannedFeaturesController {
  constructor(private readonly releases: ReleasesService) {}

  @Get()
  async list(@Param('workspaceId') workspaceId: string, @Param('releaseId') releaseId: string, @Query() query: unknown) {
    const page = await this.releases.listPlanned(workspaceId, pathId(releaseId, 'The release'), listQuery(plannedFeatureList, query));
    return { items: page.items.map(plannedFeatureView), nextCursor: page.nextCursor };
  }

  @Get(':featureId')
  async get(@Param('workspaceId') workspaceId: string, @Param('releaseId') releaseId: string, @Param('featureId') featureId: string) {
    const rid = pathId(releaseId, 'The release');
    return plannedFeatureView(await this.releases.getPlanned(workspaceId, rid, pathId(featureId, 'The feature in this release')));
  }

  @Post()
  async create(@Param('workspaceId') workspaceId: string, @Param('releaseId') releaseId: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const rid = pathId(releaseId, 'The release');
    const { featureId } = valid(validatePlannedFeature(body));
    const planned = await this.releases.plan(workspaceId, rid, featureId);
    created(reply, `${workspacePath(workspaceId)}/releases/${rid}/features/${featureId}`);
    return plannedFeatureView(planned);
  }

  @Delete(':featureId')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('releaseId') releaseId: string, @Param('featureId') featureId: string) {
    await this.releases.unplan(workspaceId, pathId(releaseId, 'The release'), pathId(featureId, 'The feature in this release'));
  }
}
