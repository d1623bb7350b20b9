/**
 * The monolith's OpenAPI document: served without a token at /openapi.json and rendered at
 * /docs, and in step with the routes the server registers (Nest's controllers and the
 * platform's). Contexts whose API is not in the document yet are named here route by route, so
 * a new route anywhere that the document lacks fails this test.
 */
import { undocumentedRoutes, unservedOperations } from '@carve/shared-contract-kit';
import { registeredRoutes } from '@carve/shared-http';
import type { FastifyInstance } from 'fastify';
import { monolithOpenApi } from '../src/http/openapi';
import { type Harness, startHarness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('legacy_openapi');
});
afterAll(async () => {
  await h?.close();
});

/** Routes of the contexts whose schemas have not moved onto JSON Schema yet (hand-written validation). */
const NOT_YET_DOCUMENTED: string[] = [
  'DELETE /api/v1/workspaces/{workspaceId}/features/{featureId}/comments/{id}',
  'DELETE /api/v1/workspaces/{workspaceId}/features/{id}',
  'DELETE /api/v1/workspaces/{workspaceId}/members/{id}',
  'GET /api/v1/workspaces/{workspaceId}',
  'GET /api/v1/workspaces/{workspaceId}/features',
  'GET /api/v1/workspaces/{workspaceId}/features/{featureId}/comments',
  'GET /api/v1/workspaces/{workspaceId}/features/{featureId}/comments/{id}',
  'GET /api/v1/workspaces/{workspaceId}/features/{id}',
  'GET /api/v1/workspaces/{workspaceId}/members',
  'GET /api/v1/workspaces/{workspaceId}/members/{id}',
  'PATCH /api/v1/workspaces/{workspaceId}',
  'PATCH /api/v1/workspaces/{workspaceId}/features/{featureId}/comments/{id}',
  'PATCH /api/v1/workspaces/{workspaceId}/features/{id}',
  'PATCH /api/v1/workspaces/{workspaceId}/members/{id}',
  'POST /api/v1/workspaces/{workspaceId}/features',
  'POST /api/v1/workspaces/{workspaceId}/features/{featureId}/comments',
  'POST /api/v1/workspaces/{workspaceId}/members',
];

describe('the OpenAPI document of the monolith', () => {
  it('documents every registered route but those named above, and every documented operation is served', () => {
    const routes = registeredRoutes(h.app.getHttpAdapter().getInstance() as unknown as FastifyInstance);
    expect(routes.length).toBeGreaterThan(20);
    expect(undocumentedRoutes(monolithOpenApi(), routes)).toEqual(NOT_YET_DOCUMENTED);
    expect(unservedOperations(monolithOpenApi(), routes)).toEqual([]);
  });

  it('serves the document at /openapi.json and its rendered docs at /docs, without a token', async () => {
    const doc = await h.api('GET', '/openapi.json', { token: null });
    expect(doc.status).toBe(200);
    expect(doc.body).toEqual(JSON.parse(JSON.stringify(monolithOpenApi())));
    const page = await h.api('GET', '/docs', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain("fetch('openapi.json')");
    expect((await h.api('GET', `/api/v1/workspaces/${h.a.id}/notes`, { token: null })).status).toBe(401);
  });
});
