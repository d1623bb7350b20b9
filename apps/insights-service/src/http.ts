/**
 * The insights service's HTTP layer on Fastify 5: the platform app of @carve/shared-service
 * (request ids, problem+json, /healthz, /readyz, /metrics, JWT identity, JSON only), the pool
 * as `app.db` and `app.tx(fn)` for one transaction, the notes routes, and their OpenAPI document
 * (`/openapi.json`, rendered at `/docs`; @carve/insights-api-contract).
 */
import { pgTransactions, type TransactionRunner } from '@carve/shared-messaging';
import { insightsServiceOpenApi } from '@carve/insights-api-contract';
import { serveOpenApi } from '@carve/shared-http';
import { fastifyHttpServer, type HttpServer, platformFastifyApp, type ServiceDeps } from '@carve/shared-service';
import type { FastifyInstance } from 'fastify';
import type { Pool, PoolClient } from 'pg';
import { notesRoutes } from './notes.routes';

declare module 'fastify' {
  interface FastifyInstance {
    db: Pool;
    tx: TransactionRunner<PoolClient>;
  }
}

/** The HTTP application, not listening (tests use `app.inject`). */
export async function buildInsightsApp(deps: ServiceDeps): Promise<FastifyInstance> {
  const app = await platformFastifyApp(deps);
  app.decorate('db', deps.pool);
  app.decorate('tx', pgTransactions(deps.pool));
  await app.register(notesRoutes);
  serveOpenApi(app, insightsServiceOpenApi());
  return app;
}

export async function buildInsightsHttp(deps: ServiceDeps): Promise<HttpServer> {
  return fastifyHttpServer(await buildInsightsApp(deps));
}
