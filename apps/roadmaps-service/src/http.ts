/**
 * The roadmaps-service's HTTP layer: NestJS on the Fastify adapter, through @carve/shared-nest (the
 * platform plugin owns 404s and errors: problem+json, /healthz, /readyz, /metrics, JWT identity;
 * the global ProblemFilter answers Nest's own errors the same way). A guard checks tenancy on
 * every route; the controller serves the aggregates the context keeps.
 */
import { type CanActivate, Controller, type DynamicModule, type ExecutionContext, Get, Inject, Injectable, Module, Param, Query } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { requireIdentity } from '@carve/shared-http';
import { createPlatformNestApp } from '@carve/shared-nest';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SERVICE_NAME } from './config';
import { checkTenancy, readOne, readPage, RESOURCES } from './http-common';
import type { HttpDeps, HttpServer } from './service';

export const HTTP_DEPS = Symbol('HTTP_DEPS');

/** Tenancy and roles for every route (authentication, 401, happened in the platform's onRequest). */
@Injectable()
export class TenancyGuard implements CanActivate {
  constructor(@Inject(HTTP_DEPS) private readonly deps: HttpDeps) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    await checkTenancy(requireIdentity(req), req.method, (req.params as { workspaceId?: string })?.workspaceId, this.deps.stageReader);
    return true;
  }
}

const resource = (plural: string) => {
  const r = RESOURCES.find((x) => x.plural === plural);
  if (!r) throw new Error(`no resource ${plural}`);
  return r;
};

@Controller('api/v1/workspaces/:workspaceId/releases')
export class ReleasesController {
  private readonly r = resource('releases');

  constructor(@Inject(HTTP_DEPS) private readonly deps: HttpDeps) {}

  @Get()
  list(@Param('workspaceId') workspaceId: string, @Query() query: unknown) {
    return readPage(this.deps.pool, this.r.type, workspaceId, query);
  }

  @Get(':id')
  get(@Param('workspaceId') workspaceId: string, @Param('id') id: string) {
    return readOne(this.deps.pool, this.r.type, this.r.what, workspaceId, id);
  }
}

@Module({})
export class RoadmapsHttpModule {
  static forRoot(deps: HttpDeps): DynamicModule {
    return {
      module: RoadmapsHttpModule,
      controllers: [ReleasesController],
      providers: [{ provide: HTTP_DEPS, useValue: deps }, { provide: APP_GUARD, useClass: TenancyGuard }],
    };
  }
}

/** The HTTP application, initialised, not listening (tests use `app.inject`). */
export function buildRoadmapsApp(deps: HttpDeps): Promise<NestFastifyApplication> {
  return createPlatformNestApp(RoadmapsHttpModule.forRoot(deps), {
    service: SERVICE_NAME,
    logger: deps.logger,
    auth: deps.config.jwt,
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: deps.config.trustProxy,
    readiness: async () => {
      await deps.pool.query('SELECT 1');
    },
  });
}

export async function buildRoadmapsHttp(deps: HttpDeps): Promise<HttpServer> {
  const app = await buildRoadmapsApp(deps);
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  return {
    metrics: fastify.platform.metrics,
    beginDrain: () => fastify.platform.beginDrain(),
    async listen(port, host) {
      await app.listen(port, host);
      const address = fastify.server.address();
      return typeof address === 'object' && address ? address.port : port;
    },
    close: () => app.close(),
  };
}
