/**
 * Test harness: a database per suite (@carve/shared-testing), route files in a temp folder,
 * gateways started in-process on ephemeral loopback ports, tokens, and a bounded HTTP client.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, DEV_JWT_SECRET, type Role, signToken } from '@carve/shared-http';
import { createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Agent, request } from 'undici';
import { startGateway, type GatewayConfigInput, type RunningGateway } from '../../src';
import { TestUpstream } from './upstream';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export const logger = () => createLogger('gateway-test', { level: (process.env.GATEWAY_TEST_LOG_LEVEL as 'info') ?? 'silent' });

export class RouteFiles {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-gateway-test-'));
  file(name = 'routes.yaml'): string {
    return path.join(this.dir, name);
  }
  /** Writes atomically (temp file + rename), the way editors and ConfigMaps do. */
  write(text: string, name = 'routes.yaml'): string {
    const f = this.file(name);
    const tmp = `${f}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, f);
    return f;
  }
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function testDatabase(prefix: string): Promise<TestDatabase> {
  return createTestDatabase(prefix);
}

export async function gateway(db: TestDatabase, routesFile: string, extra: Partial<GatewayConfigInput> = {}): Promise<RunningGateway> {
  return startGateway({
    routesFile,
    host: '127.0.0.1',
    port: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    adminToken: ADMIN_TOKEN,
    databaseUrl: db.url,
    jwt: { secret: DEV_JWT_SECRET },
    controlPollMs: 500,
    routesPollMs: 200,
    logger: logger(),
    ...extra,
  });
}

/** What a stack needs of an upstream: where it listens and how to stop it. */
export interface StackUpstream {
  readonly url: string;
  close(): Promise<void>;
}

/** A suite's test stack: its database, a monolith and a service upstream, its route files, and its gateways. */
export interface Stack<U extends StackUpstream = TestUpstream> {
  readonly db: TestDatabase;
  readonly files: RouteFiles;
  readonly monolith: U;
  readonly service: U;
  /** The route table written at start ('' when none was given). */
  readonly file: string;
  /** The gateway started on `file` (unset when none was started: no route table, or `gateway: false`). */
  readonly gw: RunningGateway;
  /** Starts another gateway on this stack's database (by default on `file`); `close()` stops it. */
  gateway(extra?: Partial<GatewayConfigInput>, routesFile?: string): Promise<RunningGateway>;
  /** Stops the gateways, then the upstreams; drops the database and removes the route files. */
  close(): Promise<void>;
}

export interface StackOptions<U extends StackUpstream> {
  /** With a `routes:` list: the service upstream's `timeoutMs` (default: the gateway's). */
  serviceTimeoutMs?: number;
  /** The started gateway's config over `gateway()`'s defaults; `false` starts none. */
  gateway?: Partial<GatewayConfigInput> | false;
  /** Starts an upstream (default: `TestUpstream.start(name)`). */
  upstream?: (name: 'monolith' | 'service') => Promise<U>;
}

/**
 * Starts a suite's stack: a database named after `prefix`, the monolith and service upstreams,
 * and, when `routes` is given, a route table and a gateway on it. `routes` is either the YAML of
 * a `routes:` list (the table then has upstreams `monolith`, the default, and `insights`, the
 * service) or a function of the upstreams' URLs giving the whole table. What did start is
 * stopped again when a later step fails.
 */
export async function startStack<U extends StackUpstream = TestUpstream>(
  prefix: string,
  routes?: string | ((u: { monolith: string; service: string }) => string),
  opts: StackOptions<U> = {},
): Promise<Stack<U>> {
  const startUpstream = opts.upstream ?? ((name: string) => TestUpstream.start(name) as unknown as Promise<U>);
  const started = await Promise.allSettled([testDatabase(prefix), startUpstream('monolith'), startUpstream('service')] as const);
  const files = new RouteFiles();
  const gateways: RunningGateway[] = [];
  const [dbR, monolithR, serviceR] = started;
  const close = async (): Promise<void> => {
    for (const g of gateways.splice(0)) await g.close();
    await Promise.all([monolithR, serviceR].map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    if (dbR.status === 'fulfilled') await dbR.value.drop();
    files.remove();
  };
  if (dbR.status === 'rejected' || monolithR.status === 'rejected' || serviceR.status === 'rejected') {
    await close();
    throw started.map((r) => (r.status === 'rejected' ? r.reason : undefined)).find(Boolean);
  }
  const db = dbR.value;
  const monolith = monolithR.value;
  const service = serviceR.value;
  const timeout = opts.serviceTimeoutMs === undefined ? '' : `, timeoutMs: ${opts.serviceTimeoutMs}`;
  const table =
    typeof routes === 'function'
      ? routes({ monolith: monolith.url, service: service.url })
      : routes === undefined
        ? undefined
        : `
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${service.url}${timeout} }
default: monolith
routes:${routes}`;
  const file = table === undefined ? '' : files.write(table);
  const another = async (extra: Partial<GatewayConfigInput> = {}, routesFile = file): Promise<RunningGateway> => {
    const gw = await gateway(db, routesFile, extra);
    gateways.push(gw);
    return gw;
  };
  let gw = undefined as unknown as RunningGateway;
  if (file && opts.gateway !== false) {
    try {
      gw = await another(opts.gateway ?? {});
    } catch (err) {
      await close();
      throw err;
    }
  }
  return { db, files, monolith, service, file, gw, gateway: another, close };
}

export function token(tid: string, opts: { sub?: string; role?: Role; ttlSec?: number; operator?: boolean } = {}): string {
  return signToken(
    { sub: opts.sub ?? `user-${tid}`, tid, role: opts.role ?? 'maker', ...(opts.operator ? { carve_operator: true as const } : {}) },
    DEV_JWT_SECRET,
    { ttlSec: opts.ttlSec ?? 3600 },
  );
}

export const client = new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 10_000 });

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
  ms: number;
}

export async function http(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer | AsyncIterable<Buffer>; timeoutMs?: number } = {},
): Promise<Res> {
  const t0 = performance.now();
  const res = await request(url, {
    dispatcher: client,
    method: (opts.method ?? 'GET') as 'GET',
    headers: opts.headers,
    body: opts.body as never,
    headersTimeout: opts.timeoutMs ?? 10_000,
    bodyTimeout: opts.timeoutMs ?? 10_000,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers as Res['headers'], text, json, ms: performance.now() - t0 };
}

export function admin(gw: RunningGateway, method: string, pathname: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  return http(gw.adminUrl + pathname, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/**
 * Runs `fn` over `items` with at most `concurrency` in flight; results in order. After the first
 * failure nothing new starts, and it is thrown once the calls in flight have ended, so that no
 * request of a failed test is still on its way while the next test runs.
 */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: { err: unknown } | undefined;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (!failed) {
      const i = next++;
      if (i >= items.length) return;
      try {
        out[i] = await fn(items[i], i);
      } catch (err) {
        failed ??= { err };
      }
    }
  });
  await Promise.all(workers);
  if (failed) throw failed.err;
  return out;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A test upstream in its own process (support/upstream.main.ts), to be killed by PID. */
export async function spawnUpstream(name: string): Promise<{ child: ChildProcess; url: string; kill: () => Promise<void> }> {
  const register = path.join(__dirname, '..', '..', '..', '..', 'tools', 'scripts', 'register-ts.js');
  const child = spawn(process.execPath, ['-r', register, path.join(__dirname, 'upstream.main.ts')], {
    env: { ...process.env, UPSTREAM_NAME: name, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`upstream ${name} did not start`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /LISTENING (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`upstream ${name} exited with ${code}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      await exited;
    },
  };
}
