/**
 * Serving an API's OpenAPI document (`GET /openapi.json`) and its rendered docs (`GET /docs`, a
 * self-contained page, no CDN), and the inventory of the routes a Fastify instance registered,
 * which the route-coverage tests compare with the document.
 */
import { docsPage, type OpenApiDocument } from '@carve/shared-contract-kit';
import type { FastifyInstance } from 'fastify';

export interface RegisteredRoute {
  method: string;
  url: string;
}

const inventories = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Starts recording every route registered on `app` from now on (call it right after creating the instance). */
export function recordRoutes(app: FastifyInstance): void {
  if (inventories.has(app)) return;
  const routes: RegisteredRoute[] = [];
  inventories.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) routes.push({ method: String(method), url: route.url });
  });
}

/** The routes registered on `app` since `recordRoutes` (empty when it was never called). */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  return [...(inventories.get(app) ?? [])];
}

/**
 * `GET /openapi.json` (the document) and `GET /docs` (the page rendering it); both without a
 * token on the platform plugin (its public paths), or with `config` a server of its own reads
 * (the gateway's admin port: `{ public: true }`).
 */
export function serveOpenApi(app: FastifyInstance, document: OpenApiDocument, opts: { config?: Record<string, unknown> } = {}): void {
  const json = JSON.stringify(document);
  const page = docsPage(String(document.info?.title ?? 'API'));
  const route = opts.config ? { config: opts.config } : {};
  app.get('/openapi.json', route, async (_req, reply) => reply.type('application/json; charset=utf-8').send(json));
  app.get('/docs', route, async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
}
