/**
 * The service's OpenAPI document: served without a token at /openapi.json (the one the
 * contract suite checks every response against) and rendered at /docs, and in step with the
 * routes the server registers: a route missing from the document, or an operation no route
 * serves, fails here.
 */
import { insightsServiceOpenApi } from '@carve/insights-api-contract';
import { documentProblems, undocumentedRoutes, unservedOperations } from '@carve/shared-contract-kit';
import { createLogger, registeredRoutes } from '@carve/shared-http';
import type { FastifyInstance } from 'fastify';
import { Pool } from 'pg';
import { loadInsightsConfig, SERVICE_NAME } from '../src/config';
import { buildInsightsApp } from '../src/http';

// Routes are registered without touching the database: the pool never connects here.
const pool = new Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
const build = () => buildInsightsApp({ name: SERVICE_NAME, config: loadInsightsConfig({ LOG_LEVEL: 'silent' }), pool, logger: createLogger(SERVICE_NAME, { level: 'silent' }) });
let app: FastifyInstance;

beforeAll(async () => {
  app = await build();
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await pool.end();
});

describe('the OpenAPI document of the insights service', () => {
  it('is a well-formed OpenAPI 3.1 document: unique operation ids, path parameters, every schema compiles', () => {
    expect(documentProblems(insightsServiceOpenApi())).toEqual([]);
  });

  it('documents every registered route, and every documented operation is served', () => {
    const routes = registeredRoutes(app);
    expect(routes.length).toBeGreaterThan(10);
    expect(undocumentedRoutes(insightsServiceOpenApi(), routes)).toEqual([]);
    expect(unservedOperations(insightsServiceOpenApi(), routes)).toEqual([]);
  });

  it('names a route the document lacks', async () => {
    const extra = await build();
    extra.get('/api/v1/workspaces/:workspaceId/notes/:id/history', async () => []);
    await extra.ready();
    try {
      expect(undocumentedRoutes(insightsServiceOpenApi(), registeredRoutes(extra))).toEqual(['GET /api/v1/workspaces/{workspaceId}/notes/{id}/history']);
    } finally {
      await extra.close();
    }
  });

  it('serves the document at /openapi.json and its rendered docs at /docs, without a token', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/workspaces/00000000-0000-4000-a000-000000000001/notes' })).statusCode).toBe(401);
    const doc = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(doc.statusCode).toBe(200);
    expect(doc.headers['content-type']).toMatch(/^application\/json/);
    expect(doc.json()).toEqual(JSON.parse(JSON.stringify(insightsServiceOpenApi())));
    expect(doc.json()).toMatchObject({ openapi: '3.1.0', info: { title: 'insights-service' } });
    expect(Object.keys(doc.json().paths)).toEqual(expect.arrayContaining(['/api/v1/workspaces/{workspaceId}/notes', '/api/v1/workspaces/{workspaceId}/notes/{noteId}/features/{featureId}']));

    const page = await app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain("fetch('openapi.json')");
    // Self-contained: no script, style or font from anywhere else.
    expect(page.body).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import|https?:\/\//);
  });

  it('publishes the request schemas the routes validate with', () => {
    const doc = insightsServiceOpenApi();
    const create = doc.paths['/api/v1/workspaces/{workspaceId}/notes'].post.requestBody.content['application/json'].schema;
    expect(create).toMatchObject({ type: 'object', additionalProperties: false, required: ['title', 'content'] });
    expect(create.properties.title).toMatchObject({ minLength: 1, maxLength: 200, 'x-trim': true });
    expect(create.properties.features).toMatchObject({ maxItems: 50, 'x-unique-by': 'featureId' });
    const list = doc.paths['/api/v1/workspaces/{workspaceId}/notes'].get.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
    expect(list).toEqual(['path:workspaceId', 'query:limit', 'query:cursor', 'query:sort', 'query:state', 'query:source', 'query:tag', 'query:customerEmail', 'query:featureId']);
  });
});
