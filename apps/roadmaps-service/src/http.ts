/**
 * The roadmaps service's HTTP layer: NestJS on the Fastify adapter, through @carve/shared-nest
 * (the platform plugin owns 404s and errors: problem+json, /healthz, /readyz, /metrics, JWT
 * identity; the global ProblemFilter answers Nest's own errors the same way). The controllers
 * are the monolith's release controllers (apps/legacy-monolith src/releases) over the service's
 * schema: same paths, bodies, statuses, pages and problems; each write in one transaction with its
 * event in roadmaps.outbox, refused by the database's write fence until the service owns the writes.
 */
import {
  type CanActivate,
  Body,
  Controller,
  Delete,
  type DynamicModule,
  type ExecutionContext,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  createRelease,
  deleteRelease,
  getPlannedFeature,
  getRelease,
  listPlannedFeatures,
  listReleases,
  planFeature,
  updateRelease,
  unplanFeature,
  type WriteContext,
} from '@carve/roadmaps-data-access';
import { plannedFeatureList, releaseList, validatePlannedFeature, validateReleaseCreate, validateReleasePatch } from '@carve/roadmaps-domain';
import { roadmapsServiceOpenApi } from '@carve/roadmaps-api-contract';
import { requireIdentity, serveOpenApi } from '@carve/shared-http';
import { pgTransactions, type TransactionRunner } from '@carve/shared-messaging';
import { createPlatformNestApp, nestHttpServer, serviceNestOptions } from '@carve/shared-nest';
import { checkTenancy, edge, type HttpServer, listQuery, pathId, type ServiceDeps as HttpDeps, valid, workspacePath } from '@carve/shared-service';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PoolClient } from 'pg';

export const HTTP_DEPS = Symbol('HTTP_DEPS');

/**
 * Tenancy and roles for every route (authentication, 401, happened in the platform's onRequest).
 * Ownership of the writes is the database's write fence, in the writing transaction.
 */
@Injectable()
export class TenancyGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    checkTenancy(requireIdentity(req), req.method, (req.params as { workspaceId?: string })?.workspaceId);
    return true;
  }
}

/** The database and a transaction runner, with the request id as the events' correlation id. */
abstract class ReleasesEdge {
  protected readonly tx: TransactionRunner<PoolClient>;

  constructor(protected readonly deps: HttpDeps) {
    this.tx = pgTransactions(deps.pool);
  }

  protected write<T>(req: FastifyRequest, fn: (c: PoolClient, ctx: WriteContext) => Promise<T>): Promise<T> {
    return edge(() => this.tx((c) => fn(c, { correlationId: String(req.id) })));
  }
}

@Controller('api/v1/workspaces/:workspaceId/releases')
export class ReleasesController extends ReleasesEdge {
  constructor(@Inject(HTTP_DEPS) deps: HttpDeps) {
    super(deps);
  }

  @Get()
  list(@Param('workspaceId') workspaceId: string, @Query() query: unknown) {
    const q = listQuery(releaseList, query);
    return edge(() => listReleases(this.deps.pool, workspaceId, q));
  }

  @Get(':id')
  get(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    const releaseId = pathId(id, 'The release');
    return edge(() => getRelease(this.deps.pool, workspaceId, releaseId));
  }

  @Post()
  async create(@Param('workspaceId') workspaceId: string, @Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const input = valid(validateReleaseCreate(body));
    const r = await this.write(req, (c, ctx) => createRelease(c, workspaceId, input, ctx));
    void reply.header('location', `${workspacePath(workspaceId)}/releases/${r.id}`);
    return r;
  }

  @Patch(':id')
  update(@Param('workspaceId') workspaceId: string, @Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest) {
    const releaseId = pathId(id, 'The release');
    const patch = valid(validateReleasePatch(body));
    return this.write(req, (c, ctx) => updateRelease(c, workspaceId, releaseId, patch, ctx));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('id') id: string, @Req() req: FastifyRequest) {
    const releaseId = pathId(id, 'The release');
    await this.write(req, (c, ctx) => deleteRelease(c, workspaceId, releaseId, ctx));
  }
}

@Controller('api/v1/workspaces/:workspaceId/releases/:releaseId/features')
export class PlannedFeaturesController extends ReleasesEdge {
  constructor(@Inject(HTTP_DEPS) deps: HttpDeps) {
    super(deps);
  }

  @Get()
  list(@Param('workspaceId') workspaceId: string, @Param('releaseId') releaseId: string, @Query() query: unknown) {
    const rid = pathId(releaseId, 'The release');
    const q = listQuery(plannedFeatureList, query);
    return edge(() => listPlannedFeatures(this.deps.pool, workspaceId, rid, q));
  }

  @Get(':featureId')
  get(@Param('workspaceId') workspaceId: string, @Param('releaseId') releaseId: string, @Param('featureId') featureId: string) {
    const rid = pathId(releaseId, 'The release');
    const fid = pathId(featureId, 'The feature in this release');
    return edge(() => getPlannedFeature(this.deps.pool, workspaceId, rid, fid));
  }

  @Post()
  async create(
    @Param('workspaceId') workspaceId: string,
    @Param('releaseId') releaseId: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const rid = pathId(releaseId, 'The release');
    const { featureId } = valid(validatePlannedFeature(body));
    const planned = await this.write(req, (c, ctx) => planFeature(c, workspaceId, rid, featureId, ctx));
    void reply.header('location', `${workspacePath(workspaceId)}/releases/${rid}/features/${featureId}`);
    return planned;
  }

  @Delete(':featureId')
  @HttpCode(204)
  async remove(@Param('workspaceId') workspaceId: string, @Param('releaseId') releaseId: string, @Param('featureId') featureId: string, @Req() req: FastifyRequest) {
    const rid = pathId(releaseId, 'The release');
    const fid = pathId(featureId, 'The feature in this release');
    await this.write(req, (c, ctx) => unplanFeature(c, workspaceId, rid, fid, ctx));
  }
}

@Module({})
export class RoadmapsHttpModule {
  static forRoot(deps: HttpDeps): DynamicModule {
    return {
      module: RoadmapsHttpModule,
      controllers: [ReleasesController, PlannedFeaturesController],
      providers: [{ provide: HTTP_DEPS, useValue: deps }, { provide: APP_GUARD, useClass: TenancyGuard }],
    };
  }
}

/** The HTTP application, initialised, not listening (tests use `app.inject`); its OpenAPI document at /openapi.json, rendered at /docs. */
export function buildRoadmapsApp(deps: HttpDeps): Promise<NestFastifyApplication> {
  return createPlatformNestApp(RoadmapsHttpModule.forRoot(deps), { ...serviceNestOptions(deps), beforeInit: (fastify) => serveOpenApi(fastify, roadmapsServiceOpenApi()) });
}

export async function buildRoadmapsHttp(deps: HttpDeps): Promise<HttpServer> {
  return nestHttpServer(await buildRoadmapsApp(deps));
}
