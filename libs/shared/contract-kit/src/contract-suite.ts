/**
 * The scaffolding of an executable contract suite of one workspace resource, the same for any
 * resource and run against either side (the monolith or a carved service): `describeResourceContract`
 * declares the Jest suite, sets up two workspaces and three features of the first, checks every
 * response against the OpenAPI document the side serves, and ends with the check that every
 * operation of the resource is served as documented. The checks every resource API passes alike
 * (per-field validation errors as problem+json, cursors bound to their sort and filters, sort keys
 * and parameters looked up in the allow-list only, tenancy and roles, malformed JSON, the body
 * limit, the request id) are the suite's `expect*` helpers; a resource's own cases stay in its
 * contract. Uses Jest's globals (`describe`, `beforeAll`, `it`, `expect`), like the suites it serves.
 */
import type { ApiOperation } from './openapi';
import { collectAll as collectPages, type HttpResponse, request, type RequestOptions } from './http';
import { servedDocumentChecker } from './openapi';
import { randomUUID } from 'node:crypto';

export type ContractRole = 'admin' | 'maker' | 'viewer';

export interface ContractWorkspace {
  id: string;
  token(role?: ContractRole): string;
}

/** What a side offers every contract suite; a resource's target adds its seeding hooks. */
export interface ContractTarget {
  /** Shown in the suite's name. */
  name: string;
  /** The side's base URL (read after `beforeAll` ran), e.g. http://127.0.0.1:3101. */
  baseUrl(): string;
  /** A fresh, empty workspace and tokens for its admin, maker and viewer. */
  workspace(): Promise<ContractWorkspace>;
  /** Features of the workspace (the features context owns them): their ids, in order. */
  features(ws: ContractWorkspace, titles: string[]): Promise<string[]>;
  /** The body limit the side runs with (bytes), to aim a 413 at. */
  bodyLimitBytes: number;
}

/** A request the suite makes and what it must answer: 400 validation_failed with exactly these field errors. */
export type ValidationCase = [method: string, url: string, body: unknown, errors: Array<{ field: string; message: string }>];
/** A request of the suite: method, path and body. */
export type ContractRequest = [method: string, url: string, body?: unknown];

export const CURSOR_ERROR = { field: 'cursor', message: 'is not a cursor of this list with this sort and these filters' };

export const byField = (x: { field: string }, y: { field: string }) => x.field.localeCompare(y.field);

/** The suite's state and checks (its workspaces and features are set once its `beforeAll` ran). */
export interface ResourceContract {
  /** A request to the side, its response checked against the served OpenAPI document. */
  api(method: string, path: string, opts?: RequestOptions): Promise<HttpResponse>;
  /** Every item of a list, following its cursors (each page checked against the document). */
  collectAll(path: string, token: string): Promise<{ items: any[]; pages: number }>;
  /** The workspace the cases write in, and another one. */
  a: ContractWorkspace;
  b: ContractWorkspace;
  /** `/api/v1/workspaces/<a>/<resource>`. */
  base: string;
  /** Three features of `a`: Export, SSO, Dark mode. */
  features: string[];
  /** Each case answers 400 validation_failed as problem+json with exactly its field errors (in any order). */
  expectValidationErrors(cases: ValidationCase[], token: string): Promise<void>;
  /**
   * Workspaces apart and roles in their lane: each of `aimedAtB` with a's token is a 403
   * workspace_mismatch (problem+json), each of `viewerWrites` with a's viewer token a 403
   * forbidden_role; no token is a 401 token_missing, a forged one a 401.
   */
  expectTenancy(o: { aimedAtB: ContractRequest[]; viewerWrites: ContractRequest[] }): Promise<void>;
  /**
   * Malformed JSON to `base` is a 400 malformed_json; `body` padded over the body limit in its
   * field `pad` a 413 payload_too_large (problem+json); the request id sent comes back as the
   * header and in the problem.
   */
  expectEdgeProblems(o: { malformed: string; body: Record<string, unknown>; pad: string; requestId: string }): Promise<void>;
  /**
   * A cursor of `list?<query>` pages on with the same query (200) and is refused (400, the cursor
   * error alone) with each of the queries `others` (another sort or other filters); forged cursors (another id, not JSON, not base64url) are
   * a 400 on `cursor`. Returns the first page and the next, for the resource's own order checks.
   */
  expectBoundCursor(list: string, query: string, others: string[], token: string): Promise<{ first: HttpResponse; next: HttpResponse }>;
  /** Prototype names (`constructor`, `__proto__`, ...) as sort keys or parameters of `list` are a 400 on that field, never a 500. */
  expectAllowListOnly(list: string, token: string): Promise<void>;
}

export interface ResourceContractOptions {
  /** e.g. `notes API contract`. */
  title: string;
  /** The path segment under the workspace, e.g. `notes`. */
  resource: string;
  /** The resource's operations: each must be served under its operationId. */
  operations: readonly ApiOperation[];
  /** At least this many responses must have been checked against the document by the end. */
  minChecked: number;
}

export function describeResourceContract<T extends ContractTarget>(target: T, o: ResourceContractOptions, cases: (s: ResourceContract) => void): void {
  describe(`${o.title}: ${target.name}`, () => {
    let openapi: Awaited<ReturnType<typeof servedDocumentChecker>>;
    const api = async (method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> => {
      const res = await request(target.baseUrl(), method, path, opts);
      openapi.check(method, path, res);
      return res;
    };
    const s: ResourceContract = {
      api,
      collectAll: (path, token) => collectPages(target.baseUrl(), path, token, 100, openapi.check),
      a: undefined as unknown as ContractWorkspace,
      b: undefined as unknown as ContractWorkspace,
      base: '',
      features: [],

      async expectValidationErrors(list, token) {
        for (const [method, url, body, errors] of list) {
          const res = await api(method, url, { token, body });
          expect({ method, url, status: res.status, type: res.headers['content-type']?.split(';')[0], code: res.body.code }).toEqual({
            method, url, status: 400, type: 'application/problem+json', code: 'validation_failed',
          });
          expect([...res.body.errors].sort(byField)).toEqual([...errors].sort(byField));
        }
      },

      async expectTenancy({ aimedAtB, viewerWrites }) {
        for (const [method, url, body] of aimedAtB) {
          const res = await api(method, url, { token: s.a.token(), body });
          expect({ method, url, status: res.status, code: res.body?.code, type: res.headers['content-type']?.split(';')[0] }).toEqual({
            method, url, status: 403, code: 'workspace_mismatch', type: 'application/problem+json',
          });
        }
        const viewer = s.a.token('viewer');
        for (const [method, url, body] of viewerWrites) {
          const res = await api(method, url, { token: viewer, body });
          expect({ method, url, status: res.status, code: res.body.code }).toEqual({ method, url, status: 403, code: 'forbidden_role' });
        }
        const none = await api('GET', s.base, { token: null });
        expect({ status: none.status, code: none.body.code }).toEqual({ status: 401, code: 'token_missing' });
        expect((await api('GET', s.base, { token: `${s.a.token()}x` })).status).toBe(401);
      },

      async expectEdgeProblems({ malformed, body, pad, requestId }) {
        const bad = await api('POST', s.base, { token: s.a.token(), raw: malformed });
        expect({ status: bad.status, code: bad.body.code }).toEqual({ status: 400, code: 'malformed_json' });
        const big = await api('POST', s.base, { token: s.a.token(), body: { ...body, [pad]: 'x'.repeat(target.bodyLimitBytes + 1024) } });
        expect({ status: big.status, code: big.body.code, type: big.headers['content-type']?.split(';')[0] }).toEqual({ status: 413, code: 'payload_too_large', type: 'application/problem+json' });
        const rid = await api('GET', `${s.base}/${randomUUID()}`, { token: s.a.token(), headers: { 'x-request-id': requestId } });
        expect({ header: rid.headers['x-request-id'], body: rid.body.requestId }).toEqual({ header: requestId, body: requestId });
      },

      async expectBoundCursor(list, query, others, token) {
        const first = await api('GET', `${list}?${query}`, { token });
        const cursor = encodeURIComponent(first.body.nextCursor);
        const next = await api('GET', `${list}?${query}&cursor=${cursor}`, { token });
        expect(next.status).toBe(200);
        for (const other of others) {
          const res = await api('GET', `${list}?${other}&cursor=${cursor}`, { token });
          expect({ other, status: res.status, errors: res.body.errors }).toEqual({ other, status: 400, errors: [CURSOR_ERROR] });
        }
        const real = JSON.parse(Buffer.from(first.body.nextCursor, 'base64url').toString());
        const forge = (patch: object) => Buffer.from(JSON.stringify({ ...real, ...patch })).toString('base64url');
        for (const forged of [forge({ id: 'x'.repeat(36) }), 'bm90IGpzb24', '%%%']) {
          const res = await api('GET', `${list}?${query}&cursor=${encodeURIComponent(forged)}`, { token });
          expect({ forged, status: res.status, field: res.body.errors?.[0]?.field }).toEqual({ forged, status: 400, field: 'cursor' });
        }
        return { first, next };
      },

      async expectAllowListOnly(list, token) {
        for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
          for (const query of [`sort=${key}`, `sort=-${key}`, `${key}=x`]) {
            const res = await api('GET', `${list}?${query}`, { token });
            expect({ query, status: res.status, type: res.headers['content-type'], field: res.body.errors?.[0]?.field }).toEqual({
              query,
              status: 400,
              type: expect.stringContaining('application/problem+json'),
              field: query.startsWith('sort=') ? 'sort' : key,
            });
          }
        }
      },
    };

    beforeAll(async () => {
      openapi = await servedDocumentChecker(target.baseUrl());
      s.a = await target.workspace();
      s.b = await target.workspace();
      s.base = `/api/v1/workspaces/${s.a.id}/${o.resource}`;
      s.features = await target.features(s.a, ['Export', 'SSO', 'Dark mode']);
    });

    cases(s);

    it('answered every request above as the OpenAPI document it serves at /openapi.json says', () => {
      for (const op of o.operations) expect({ op: op.operationId, served: openapi.document.paths[op.path]?.[op.method]?.operationId }).toEqual({ op: op.operationId, served: op.operationId });
      // Each response was checked as it came (a mismatch fails its test); this many came.
      expect(openapi.checked()).toBeGreaterThan(o.minChecked);
    });
  });
}
