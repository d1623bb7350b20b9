/**
 * The monolith under test: a database of its own (dropped afterwards), the app built in-process
 * and driven through Fastify's inject (the real HTTP pipeline without a socket), two workspaces
 * with an admin, a maker and a viewer each, and tokens for them.
 */
import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { MemberRole } from '@carve/legacy-domain';
import { responseChecker } from '@carve/shared-contract-kit';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { DataSource } from 'typeorm';
import { createApp, type CreateAppOptions } from '../src/app';
import { loadMonolithConfig } from '../src/config';
import { monolithOpenApi } from '../src/http/openapi';

const checkResponse = responseChecker(monolithOpenApi());

export interface TestWorkspace {
  id: string;
  users: Record<MemberRole, string>;
  token(role?: MemberRole): string;
}

export interface Harness {
  app: NestFastifyApplication;
  db: TestDatabase;
  ds: DataSource;
  a: TestWorkspace;
  b: TestWorkspace;
  api(method: string, url: string, opts?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<Res>;
  count(table: string, where?: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export interface Res {
  status: number;
  body: any;
  headers: Record<string, any>;
}

export async function startHarness(prefix: string, env: Record<string, string> = {}, appOptions: Omit<CreateAppOptions, 'logger'> = {}): Promise<Harness> {
  const db = await createTestDatabase(prefix);
  let app: NestFastifyApplication | undefined;
  try {
    app = await createApp(loadMonolithConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'silent', ...env }), appOptions);
    await app.getHttpAdapter().getInstance().ready();
    const ds = app.get(DataSource);
    const a = await workspace(ds, 'Alpha');
    const b = await workspace(ds, 'Beta');
    const theApp = app;
    return {
      app,
      db,
      ds,
      a,
      b,
      async api(method, url, opts = {}) {
        const token = opts.token === undefined ? a.token('admin') : opts.token;
        const headers: Record<string, string> = { ...(opts.headers ?? {}) };
        if (token) headers.authorization = `Bearer ${token}`;
        let payload: string | undefined;
        if (opts.raw !== undefined) payload = opts.raw;
        else if (opts.body !== undefined) payload = JSON.stringify(opts.body);
        if (payload !== undefined) headers['content-type'] ??= 'application/json';
        const res = await theApp.inject({ method: method as any, url, payload, headers });
        const text = res.body;
        let body: any = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          /* not JSON */
        }
        const out = { status: res.statusCode, body, headers: res.headers as Record<string, any> };
        // Every answer of every API test is checked against the monolith's OpenAPI document.
        const problems = checkResponse(method, url, out);
        if (problems.length) throw new Error(`the response does not match the OpenAPI document:\n${problems.join('\n')}\nbody: ${text.slice(0, 2000)}`);
        return out;
      },
      async count(table, where = 'true', params = []) {
        const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM legacy.${table} WHERE ${where}`, params);
        return n;
      },
      async close() {
        await theApp.close();
        await db.drop();
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await db.drop();
    throw err;
  }
}

async function workspace(ds: DataSource, name: string): Promise<TestWorkspace> {
  const id = randomUUID();
  const users = { admin: randomUUID(), maker: randomUUID(), viewer: randomUUID() };
  await ds.query('INSERT INTO legacy.workspaces (id, name, slug) VALUES ($1, $2, $3)', [id, name, `${name.toLowerCase()}-${id.slice(0, 8)}`]);
  for (const role of ['admin', 'maker', 'viewer'] as const) {
    await ds.query('INSERT INTO legacy.members (id, workspace_id, email, name, role) VALUES ($1, $2, $3, $4, $5)', [
      users[role],
      id,
      `${role}@${name.toLowerCase()}.test`,
      `${name} ${role}`,
      role,
    ]);
  }
  return { id, users, token: (role = 'admin') => signToken({ sub: users[role], tid: id, role }, DEV_JWT_SECRET) };
}

/** Follows nextCursor until the end (bounded), returning every item in order. */
export async function collectAll(h: Harness, url: string, opts: { token?: string; maxPages?: number } = {}): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  const sep = url.includes('?') ? '&' : '?';
  do {
    const res: Res = await h.api('GET', cursor ? `${url}${sep}cursor=${encodeURIComponent(cursor)}` : url, { token: opts.token });
    if (res.status !== 200) throw new Error(`GET ${url} → ${res.status} ${JSON.stringify(res.body)}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    pages += 1;
    if (pages > (opts.maxPages ?? 100)) throw new Error('too many pages');
  } while (cursor);
  return { items, pages };
}

/** The roles a contract suite asks tokens for. */
type ContractRole = 'admin' | 'maker' | 'viewer';

/**
 * The monolith as a target of an HTTP contract suite (@carve/insights-api-contract,
 * @carve/roadmaps-api-contract): a harness listening on loopback for the suite's lifetime,
 * workspaces inserted as rows with a token per role, features created through the monolith's
 * own API. The suite's seeding hooks use `harness()` for their rows.
 */
export function monolithContractTarget(prefix: string) {
  let h: Harness;
  let baseUrl: string;
  beforeAll(async () => {
    h = await startHarness(prefix);
    await h.app.listen(0, '127.0.0.1');
    baseUrl = (await h.app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(async () => {
    await h?.close();
  });
  return {
    harness: () => h,
    target: {
      name: 'legacy-monolith',
      baseUrl: () => baseUrl,
      async workspace() {
        const id = randomUUID();
        await h.ds.query('INSERT INTO legacy.workspaces (id, name, slug) VALUES ($1, $2, $3)', [id, 'Contract', `contract-${id.slice(0, 8)}`]);
        const users = { admin: randomUUID(), maker: randomUUID(), viewer: randomUUID() };
        return { id, token: (role: ContractRole = 'admin') => signToken({ sub: users[role], tid: id, role }, DEV_JWT_SECRET) };
      },
      async features(ws: { id: string; token(role?: ContractRole): string }, titles: string[]) {
        const ids: string[] = [];
        for (const title of titles) {
          const res = await h.api('POST', `/api/v1/workspaces/${ws.id}/features`, { token: ws.token(), body: { title } });
          if (res.status !== 201) throw new Error(`feature ${title}: ${res.status} ${JSON.stringify(res.body)}`);
          ids.push(res.body.id);
        }
        return ids;
      },
    },
  };
}
