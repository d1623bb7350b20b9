/**
 * The monolith's OpenAPI document: served without a token at /openapi.json and rendered at
 * /docs, and in step with the routes the server registers (Nest's controllers and the
 * platform's): a route missing from the document, or an operation no route serves, fails here.
 */
import { documentProblems, undocumentedRoutes, unservedOperations } from '@carve/shared-contract-kit';
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

describe('the OpenAPI document of the monolith', () => {
  it('is a well-formed OpenAPI 3.1 document: unique operation ids, path parameters, every schema compiles', () => {
    expect(documentProblems(monolithOpenApi())).toEqual([]);
  });

  it('documents every registered route, and every documented operation is served', () => {
    const routes = registeredRoutes(h.app.getHttpAdapter().getInstance() as unknown as FastifyInstance);
    expect(routes.length).toBeGreaterThan(20);
    expect(undocumentedRoutes(monolithOpenApi(), routes)).toEqual([]);
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
