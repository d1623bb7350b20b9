import { Type } from '@sinclair/typebox';
import { documentProblems, openApiDocument, platformOperations, problem, responseChecker, undocumentedRoutes, unservedOperations } from './openapi';
import { compileSchema, Obj, Text, WithDefault } from './schema';

const Thing = Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() }, { additionalProperties: false });
const doc = openApiDocument({ title: 't', version: '1' }, [
  { method: 'get', path: '/things/{id}', operationId: 'getThing', summary: 'one', responses: { '200': { description: 'ok', schema: Thing }, '404': problem('missing') } },
  { method: 'delete', path: '/things/{id}', operationId: 'deleteThing', summary: 'gone', responses: { '204': { description: 'deleted' } } },
  ...platformOperations(),
]);
const json = { 'content-type': 'application/json; charset=utf-8' };
const problemJson = { 'content-type': 'application/problem+json' };
const ID = '00000000-0000-4000-a000-000000000001';

describe('responseChecker', () => {
  const check = responseChecker(doc);

  it('passes a response that matches its operation', () => {
    expect(check('GET', `/things/${ID}?x=1`, { status: 200, headers: json, body: { id: ID, name: 'n' } })).toEqual([]);
    expect(check('GET', `/things/${ID}`, { status: 404, headers: problemJson, body: { type: 'about:blank', title: 'Not Found', status: 404, code: 'not_found' } })).toEqual([]);
    expect(check('DELETE', `/things/${ID}`, { status: 204, headers: {}, body: undefined })).toEqual([]);
  });

  it('names a body, status, media type or path the document does not have', () => {
    expect(check('GET', `/things/${ID}`, { status: 200, headers: json, body: { id: 'x', name: 'n', extra: 1 } })[0]).toMatch(/GET \/things\/.* → 200: .*must match format "uuid"/);
    expect(check('GET', `/things/${ID}`, { status: 200, headers: json, body: { id: ID, name: 'n', extra: 1 } })[0]).toMatch(/must NOT have additional properties/);
    expect(check('GET', `/things/${ID}`, { status: 409, headers: problemJson, body: {} })).toEqual([`GET /things/${ID} → 409: status not in the document (200, 404)`]);
    expect(check('GET', `/things/${ID}`, { status: 404, headers: json, body: {} })[0]).toMatch(/content-type application\/json, the document has application\/problem\+json/);
    expect(check('GET', '/widgets', { status: 200, headers: json, body: {} })).toEqual(['GET /widgets → 200: no operation in the document']);
    expect(check('GET', '/widgets', { status: 404, headers: problemJson, body: { code: 'route_not_found' } })[0]).toMatch(/problem body/);
  });
});

describe('routes against the document', () => {
  it('names registered routes the document lacks and operations no route serves; HEAD and OPTIONS are not operations', () => {
    const routes = [
      { method: 'GET', url: '/things/:id' },
      { method: 'HEAD', url: '/things/:id' },
      { method: 'POST', url: '/things' },
      ...['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs'].map((url) => ({ method: 'GET', url })),
    ];
    expect(undocumentedRoutes(doc, routes)).toEqual(['POST /things']);
    expect(unservedOperations(doc, routes)).toEqual(['DELETE /things/{id}']);
  });
});

describe('compileSchema', () => {
  it('answers with the kernel validator\'s field errors and fills defaults', () => {
    const v = compileSchema(Obj({ name: Text({ min: 1, max: 3 }), kind: WithDefault(Text({ max: 5 }), 'a') }));
    expect(v({ name: '  ab ' })).toEqual({ ok: true, value: { name: 'ab', kind: 'a' } });
    expect(v({ name: '   ', other: 1 })).toEqual({ ok: false, errors: [{ field: 'other', message: 'is not a known field' }, { field: 'name', message: 'must not be empty' }] });
    expect(v([])).toEqual({ ok: false, errors: [{ field: '(body)', message: 'must be a JSON object' }] });
  });
});

describe('documentProblems', () => {
  it('passes a well-formed document and names what is wrong with another', () => {
    expect(documentProblems(doc)).toEqual([]);
    const broken = JSON.parse(JSON.stringify(doc));
    broken.paths['/things/{id}'].delete.operationId = 'getThing';
    broken.paths['/things/{id}'].get.parameters = [];
    broken.paths['/things/{id}'].get.responses['200'].content['application/json'].schema = { $ref: '#/components/schemas/Missing' };
    delete broken.paths['/healthz'].get.responses['200'].description;
    expect(documentProblems(broken)).toEqual([
      'GET /things/{id}: path parameters (none) for id',
      expect.stringMatching(/^GET \/things\/\{id\} 200 application\/json: can't resolve reference/),
      'DELETE /things/{id}: operationId getThing is used twice',
      'GET /healthz 200: no description',
    ]);
  });
});
