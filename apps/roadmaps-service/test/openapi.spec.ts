/**
 * The service's OpenAPI document: served without a token at /openapi.json (the one the
 * contract suite checks every response against) and rendered at /docs, and in step with the
 * routes the server registers (Nest's controllers and the platform's): a route missing from the
 * document, or an operation no route serves, fails here.
 */
import { roadmapsServiceOpenApi } from '@carve/roadmaps-api-contract';
import { documentProblems, undocumentedRoutes, unservedOperations } from '@carve/shared-contract-kit';
import { createLogger, registeredRoutes } from '@carve/shared-http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { Pool } from 'pg';
import { loadRoadmapsConfig, SERVICE_NAME } from '../src/config';
import { buildRoadmapsApp } from '../src/http';

// Routes are registered without touching the database: the pool never connects here.
const pool = new Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
let app: NestFastifyApplication;

beforeAll(async () => {
  app = await buildRoadmapsApp({ name: SERVICE_NAME, config: loadRoadmapsConfig({ LOG_LEVEL: 'silent' }), pool, logger: createLogger(SERVICE_NAME, { level: 'silent' }) });
  await app.getHttpAdapter().getInstance().ready();
});
afterAll(async () => {
  await app?.close();
  await pool.end();
});

describe('the OpenAPI document of the roadmaps service', () => {
  it('is a well-formed OpenAPI 3.1 document: unique operation ids, path parameters, every schema compiles', () => {
    expect(documentProblems(roadmapsServiceOpenApi())).toEqual([]);
  });

  it('documents every registered route, and every documented operation is served', () => {
    const routes = registeredRoutes(app.getHttpAdapter().getInstance() as unknown as FastifyInstance);
    expect(routes.length).toBeGreaterThan(10);
    expect(undocumentedRoutes(roadmapsServiceOpenApi(), routes)).toEqual([]);
    expect(unservedOperations(roadmapsServiceOpenApi(), routes)).toEqual([]);
  });

  it('serves the document at /openapi.json and its rendered docs at /docs, without a token', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/workspaces/00000000-0000-4000-a000-000000000001/releases' })).statusCode).toBe(401);
    const doc = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(doc.statusCode).toBe(200);
    expect(doc.json()).toEqual(JSON.parse(JSON.stringify(roadmapsServiceOpenApi())));
    const page = await app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain("fetch('openapi.json')");
  });

  it('publishes the request schemas the controllers validate with', () => {
    const create = roadmapsServiceOpenApi().paths['/api/v1/workspaces/{workspaceId}/releases'].post.requestBody.content['application/json'].schema;
    expect(create).toMatchObject({ type: 'object', additionalProperties: false, required: ['name', 'timeframe'] });
    expect(create.properties.timeframe).toMatchObject({ required: ['start', 'end'], 'x-ordered': ['start', 'end'] });
    expect(create.properties.featureIds).toMatchObject({ maxItems: 500, items: { format: 'uuid' } });
  });
});
