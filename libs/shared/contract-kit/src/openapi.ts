/**
 * OpenAPI 3.1 documents built from the JSON Schemas that validate requests (`schema.ts`), the
 * check of a response against a document (the contract suites run it on every response), and
 * the comparison of a server's registered routes with a document's operations.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import { createAjv, Int } from './schema';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ApiResponse {
  description: string;
  /** The JSON body (`application/json`); none for 204. */
  schema?: TSchema;
  /** `application/problem+json` with the Problem schema. */
  problem?: boolean;
  /** Another media type than JSON (text/plain for metrics, text/html for docs). */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface ApiOperation {
  method: HttpMethod;
  /** An OpenAPI path template: `/api/v1/workspaces/{workspaceId}/notes/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  tags?: string[];
  /** Query parameters, each optional. */
  query?: Record<string, TSchema>;
  body?: TSchema;
  responses: Record<string, ApiResponse>;
  /** False for routes without a token (health, metrics, the document itself). */
  secured?: boolean;
}

export interface ApiInfo {
  title: string;
  version: string;
  description?: string;
}

export type OpenApiDocument = Record<string, any> & { openapi: string; paths: Record<string, Record<string, any>> };

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details as every Carve API answers an error, with the stable `code`. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({ description: 'stable, machine-readable' }),
    detail: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }, { additionalProperties: false }))),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

/** A keyset page: `items` and the cursor of the next page (null on the last). */
export const Page = <T extends TSchema>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false });

/** The query of a keyset list: limit, cursor, sort (field names, `-` for descending) and filters. */
export function listQuery(spec: { sorts: Record<string, unknown>; filters: Record<string, TSchema> }, maxLimit = 200): Record<string, TSchema> {
  const sorts = Object.keys(spec.sorts).flatMap((s) => [s, `-${s}`]);
  return {
    limit: Int({ min: 1, max: maxLimit }),
    cursor: Type.String({ description: 'nextCursor of the previous page, for the same sort and filters' }),
    sort: Type.String({ enum: sorts }),
    ...spec.filters,
  };
}

/** A problem response. */
export const problem = (description: string): ApiResponse => ({ description, problem: true });

/** The problems every operation of an authenticated API may answer, besides its own. */
export const COMMON_PROBLEMS: Record<string, ApiResponse> = {
  '401': problem('no token, or a token that does not verify (unauthorized)'),
  '403': problem('the token is for another workspace (workspace_mismatch) or its role may not write (forbidden_role)'),
  default: problem('any other failure, as problem+json with a stable code'),
};

/**
 * The problems of a workspace resource's operations: `reads` (400, 404 and the common ones) and
 * `writes` (also 409, 413, 415 and 503 write_fenced); `notFound` and `conflict` say what this
 * API's 404 and 409 name. `CREATED` is the header of a 201.
 */
export function resourceProblems(o: { notFound: string; conflict: string }): { reads: Record<string, ApiResponse>; writes: Record<string, ApiResponse> } {
  const bad = problem('invalid body or query (validation_failed with per-field errors, malformed_json, cursor)');
  const notFound = problem(o.notFound);
  return {
    reads: { '400': bad, '404': notFound, ...COMMON_PROBLEMS },
    writes: {
      '400': bad,
      '404': notFound,
      '409': problem(o.conflict),
      '413': problem('body larger than the limit (payload_too_large)'),
      '415': problem('not JSON (unsupported_media_type)'),
      '503': problem('writes are fenced during a handover (write_fenced)'),
      ...COMMON_PROBLEMS,
    },
  };
}

export const CREATED = { location: 'the new resource' };

const strip = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema));

export function openApiDocument(info: ApiInfo, operations: ApiOperation[]): OpenApiDocument {
  const paths: Record<string, Record<string, any>> = {};
  for (const op of operations) {
    const params = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = Object.entries(op.query ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema: strip(schema) }));
    const responses: Record<string, any> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      const out: Record<string, any> = { description: r.description };
      if (r.problem) out.content = { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } };
      else if (r.schema) out.content = { [r.contentType ?? 'application/json']: { schema: strip(r.schema) } };
      else if (r.contentType) out.content = { [r.contentType]: { schema: { type: 'string' } } };
      if (r.headers) out.headers = Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]));
      responses[status] = out;
    }
    const entry: Record<string, any> = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.tags ? { tags: op.tags } : {}),
      ...(params.length + query.length ? { parameters: [...params, ...query] } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: strip(op.body) } } } } : {}),
      responses,
      ...(op.secured === false ? { security: [] } : {}),
    };
    (paths[op.path] ??= {})[op.method] = entry;
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info,
    paths,
    components: {
      schemas: { Problem: strip(ProblemSchema) },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearer: [] }],
  };
}

/** The operations of the platform every service serves: health, readiness, metrics, this document and its page. */
export function platformOperations(tag = 'platform'): ApiOperation[] {
  const Health = Type.Object({ status: Type.String() }, { additionalProperties: true });
  return [
    { method: 'get', path: '/healthz', operationId: 'health', summary: 'Liveness', tags: [tag], secured: false, responses: { '200': { description: 'alive', schema: Health } } },
    {
      method: 'get',
      path: '/readyz',
      operationId: 'readiness',
      summary: 'Readiness (dependencies reachable, not draining)',
      tags: [tag],
      secured: false,
      responses: { '200': { description: 'ready', schema: Health }, '503': problem('not ready') },
    },
    { method: 'get', path: '/metrics', operationId: 'metrics', summary: 'Prometheus metrics', tags: [tag], secured: false, responses: { '200': { description: 'metrics', contentType: 'text/plain' } } },
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      summary: 'This OpenAPI document',
      tags: [tag],
      secured: false,
      responses: { '200': { description: 'the document', schema: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) } },
    },
    { method: 'get', path: '/docs', operationId: 'docs', summary: 'This document, rendered', tags: [tag], secured: false, responses: { '200': { description: 'an HTML page', contentType: 'text/html' } } },
  ];
}

// ---------------------------------------------------------------------------------------------
// checks against a document

interface Match {
  template: string;
  operation: Record<string, any>;
}

const templateRegex = (template: string) => new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);

/** Finds the operation of a concrete request path (without query). */
export function findOperation(doc: OpenApiDocument, method: string, path: string): Match | undefined {
  const m = method.toLowerCase();
  // Literal segments win over parameters (`/notes/x` before `/notes/{id}` when both exist).
  const candidates = Object.keys(doc.paths)
    .filter((t) => templateRegex(t).test(path))
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  for (const template of candidates) {
    const operation = doc.paths[template][m];
    if (operation) return { template, operation };
  }
  return undefined;
}

export interface ResponseLike {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * Checks responses against `doc`: the operation exists, the status is declared (or a `default`),
 * the media type is the declared one, and the body matches its schema. A request to a path the
 * document does not have must be answered 404 or 405 with a problem. Returns what is wrong (empty when right).
 */
export function responseChecker(doc: OpenApiDocument): (method: string, url: string, res: ResponseLike) => string[] {
  const ajv = createAjv();
  ajv.addSchema({ ...doc, $id: 'openapi.json' });
  const compiled = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string) => {
    let fn = compiled.get(pointer);
    if (!fn) {
      fn = ajv.getSchema(`openapi.json#${pointer}`);
      if (!fn) throw new Error(`no schema at ${pointer}`);
      compiled.set(pointer, fn);
    }
    return fn;
  };
  const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const problemCheck = (res: ResponseLike): string[] => {
    const fn = validatorAt('/components/schemas/Problem');
    return fn(res.body) ? [] : [`problem body: ${ajv.errorsText(fn.errors)}`];
  };

  return (method, url, res) => {
    const path = url.split('?')[0];
    const where = `${method} ${path} → ${res.status}`;
    const type = (res.headers['content-type'] ?? '').split(';')[0].trim();
    const match = findOperation(doc, method, path);
    if (!match) {
      if (res.status !== 404 && res.status !== 405) return [`${where}: no operation in the document`];
      if (type !== PROBLEM_CONTENT_TYPE) return [`${where}: not a problem (${type})`];
      return problemCheck(res).map((p) => `${where}: ${p}`);
    }
    const status = String(res.status);
    const key = match.operation.responses[status] ? status : match.operation.responses.default ? 'default' : undefined;
    if (!key) return [`${where}: status not in the document (${Object.keys(match.operation.responses).join(', ')})`];
    const declared = match.operation.responses[key];
    if (!declared.content) return res.body === undefined || res.body === '' ? [] : [`${where}: a body where the document has none`];
    const media = Object.keys(declared.content);
    if (!media.includes(type)) return [`${where}: content-type ${type || '(none)'}, the document has ${media.join(', ')}`];
    const fn = validatorAt(`/paths/${esc(match.template)}/${method.toLowerCase()}/responses/${key}/content/${esc(type)}/schema`);
    return fn(res.body) ? [] : [`${where}: ${ajv.errorsText(fn.errors)}`];
  };
}

/** A Fastify route (`/a/:id`, `/files/*`) as an OpenAPI template (`/a/{id}`, `/files/{wildcard}`). */
export const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{wildcard}');

/**
 * The registered routes the document has no operation for, as `METHOD /path`. HEAD beside a
 * GET (Fastify adds one per GET) and OPTIONS are not operations of their own.
 */
export function undocumentedRoutes(doc: OpenApiDocument, routes: Array<{ method: string; url: string }>): string[] {
  const out = new Set<string>();
  for (const r of routes) {
    const method = r.method.toLowerCase();
    if (method === 'head' || method === 'options') continue;
    const template = openApiPath(r.url.length > 1 ? r.url.replace(/\/$/, '') : r.url);
    if (!doc.paths[template]?.[method]) out.add(`${r.method.toUpperCase()} ${template}`);
  }
  return [...out].sort();
}

/** The document's operations no registered route serves, as `METHOD /path`. */
export function unservedOperations(doc: OpenApiDocument, routes: Array<{ method: string; url: string }>): string[] {
  const served = new Set(routes.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url.length > 1 ? r.url.replace(/\/$/, '') : r.url)}`));
  const out: string[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) if (!served.has(`${method} ${template}`)) out.push(`${method.toUpperCase()} ${template}`);
  }
  return out.sort();
}

/**
 * The document a running server serves at `/openapi.json`, as a checker the contract suites
 * call on every response: `check` throws, naming what does not match; `checked` counts the
 * responses seen.
 */
export async function servedDocumentChecker(baseUrl: string): Promise<{ document: OpenApiDocument; check: (method: string, url: string, res: ResponseLike) => void; checked: () => number }> {
  const res = await fetch(`${baseUrl}/openapi.json`);
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/openapi.json → ${res.status}`);
  const document = (await res.json()) as OpenApiDocument;
  const checker = responseChecker(document);
  let count = 0;
  return {
    document,
    check(method, url, r) {
      const problems = checker(method, url, r);
      count += 1;
      if (problems.length) throw new Error(`the response does not match the OpenAPI document:\n${problems.join('\n')}\nbody: ${JSON.stringify(r.body)?.slice(0, 2000)}`);
    },
    checked: () => count,
  };
}

/**
 * What is wrong with a document's structure (empty when nothing): the OpenAPI version and info,
 * unique operation ids, path parameters declared for every `{name}` of the path and no other,
 * a description on every response, and every schema (parameters, request bodies, responses)
 * compiling in ajv with the `$ref`s it uses resolved.
 */
export function documentProblems(doc: OpenApiDocument): string[] {
  const problems: string[] = [];
  if (doc.openapi !== '3.1.0') problems.push(`openapi is ${doc.openapi}, not 3.1.0`);
  if (!doc.info?.title || !doc.info?.version) problems.push('info needs a title and a version');
  const ajv = createAjv();
  ajv.addSchema({ ...doc, $id: 'openapi.json' });
  const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const compiles = (where: string, pointer: string) => {
    try {
      if (!ajv.getSchema(`openapi.json#${pointer}`)) problems.push(`${where}: no schema`);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  };
  const ids = new Set<string>();
  for (const [template, ops] of Object.entries(doc.paths)) {
    const inPath = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const [method, op] of Object.entries<any>(ops)) {
      const where = `${method.toUpperCase()} ${template}`;
      if (!op.operationId) problems.push(`${where}: no operationId`);
      else if (ids.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} is used twice`);
      else ids.add(op.operationId);
      const params: any[] = op.parameters ?? [];
      const declared = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
      if (JSON.stringify(declared) !== JSON.stringify(inPath)) problems.push(`${where}: path parameters ${declared.join(', ') || '(none)'} for ${inPath.join(', ') || '(none)'}`);
      const base = `/paths/${esc(template)}/${method}`;
      params.forEach((p, i) => compiles(`${where} parameter ${p.name}`, `${base}/parameters/${i}/schema`));
      for (const [type] of Object.entries(op.requestBody?.content ?? {})) compiles(`${where} request body`, `${base}/requestBody/content/${esc(type)}/schema`);
      if (!op.responses || Object.keys(op.responses).length === 0) problems.push(`${where}: no responses`);
      for (const [status, r] of Object.entries<any>(op.responses ?? {})) {
        if (!r.description) problems.push(`${where} ${status}: no description`);
        for (const type of Object.keys(r.content ?? {})) compiles(`${where} ${status} ${type}`, `${base}/responses/${status}/content/${esc(type)}/schema`);
      }
    }
  }
  return problems;
}
