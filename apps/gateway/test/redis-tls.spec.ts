/**
 * The shared rate-limit store as ElastiCache serves it: Redis over TLS with AUTH (an ACL user and
 * password, the default user disabled). A redis-server of this file's own (the machine's binary)
 * listens on TLS only, with a certificate signed by a CA made here with openssl; it is stopped by
 * PID at the end. Two gateways share one tenant's bucket through it; a gateway with the wrong
 * password or without the CA never reaches it and limits on its own (neither open nor shut).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestDatabase } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { RedisBuckets } from '../src/limits/rate-store';
import type { GuardedConnector } from '../src/limits/redis-connector';
import { gateway, http, RouteFiles, testDatabase, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

const USER = 'carve-gateway';
const PASSWORD = `pw-${randomUUID()}`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A CA and a server certificate for 127.0.0.1 signed by it (PEM files in dir). */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=carve test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('redis.key'), '-out', f('redis.csr'), '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', f('redis.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('redis.pem'), '-days', '1', '-extfile', f('san.ext'));
  return { ca: f('ca.pem'), cert: f('redis.pem'), key: f('redis.key') };
}

describe('gateway limits through Redis over TLS with AUTH', () => {
  let dir: string;
  let redis: ChildProcess;
  let port: number;
  let ca: string;
  let db: TestDatabase;
  let files: RouteFiles;
  let upstream: TestUpstream;
  const gateways: RunningGateway[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-redis-tls-'));
    const certs = makeCertificates(dir);
    ca = certs.ca;
    port = await freePort();
    // TLS only (--port 0), no persistence, the default user off: only USER with PASSWORD gets in.
    redis = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', certs.cert, '--tls-key-file', certs.key, '--tls-ca-cert-file', certs.ca,
        '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir, '--user', 'default', 'off', '--user', USER, 'on', `>${PASSWORD}`, '~*', '&*', '+@all'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    redis.stdout!.on('data', (d) => (out += d.toString()));
    redis.stderr!.on('data', (d) => (out += d.toString()));
    redis.on('error', (err) => (out += `\n${err.message} (is redis-server on PATH? apt-get install redis-server)`));
    await waitFor(`redis-server to accept TLS connections on ${port}`, () => out.includes('Ready to accept connections') || (redis.exitCode !== null && Promise.reject(new Error(`redis-server exited: ${out}`))), 20_000).catch((err) => {
      throw new Error(`${(err as Error).message}\n${out}`);
    });
    [db, upstream] = await Promise.all([testDatabase('gateway_redis_tls'), TestUpstream.start('service')]);
    files = new RouteFiles();
    files.write(`
upstreams:
  monolith: { url: ${upstream.url}, timeoutMs: 10000 }
  insights: { url: ${upstream.url}, timeoutMs: 10000 }
default: monolith
routes:
  - id: notes
    match: { path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    fallback: false
    limits: { ratePerSecond: 0.1, burst: 3 }
`);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await upstream?.close();
    await db?.drop();
    files?.remove();
    if (redis && redis.exitCode === null) {
      const exited = new Promise((r) => redis.once('exit', r));
      redis.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const store = (g: RunningGateway) => g.limiter.store as unknown as { isDegraded: boolean; localAnswers: number };
  /** A gateway on the TLS Redis as USER; gateways given the same prefix share their buckets. */
  const start = async (rateStore: { password: string; caFile?: string; prefix?: string }) => {
    const g = await gateway(db, files.file(), {
      rateStore: { url: `rediss://127.0.0.1:${port}`, tls: true, username: USER, timeoutMs: 500, prefix: `carve-test:${randomUUID()}:`, ...rateStore },
    });
    gateways.push(g);
    return g;
  };
  const get = (g: RunningGateway, tid: string) => http(`${g.url}/api/v1/workspaces/${tid}/notes`, { headers: { authorization: `Bearer ${token(tid)}` } });

  it('shares one tenant bucket between two gateways through rediss:// with an ACL user', async () => {
    const prefix = `carve-test:${randomUUID()}:`;
    const a = await start({ password: PASSWORD, caFile: ca, prefix });
    const b = await start({ password: PASSWORD, caFile: ca, prefix });
    await waitFor('both gateways connected over TLS', () => !store(a).isDegraded && !store(b).isDegraded, 10_000);
    const tid = `ws-${randomUUID()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get(i % 2 ? b : a, tid)).status);
    // burst 3 at one token per 10 s, shared: 3 (4 if 10 s passed) of 8 through, not 3 per gateway.
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok).toBeGreaterThanOrEqual(3);
    expect(ok).toBeLessThanOrEqual(4);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(store(a).localAnswers + store(b).localAnswers).toBe(0);
  });

  it('survives a connection that emits a second error (ioredis listens to the first only)', async () => {
    // A failed handshake can emit two errors on one TLS socket; ioredis's own connector listens
    // with `once`, so the second would be thrown as an uncaught exception and kill the process.
    const warnings: string[] = [];
    const log = { warn: (_o: unknown, m: string) => warnings.push(m), info: () => undefined } as unknown as ConstructorParameters<typeof RedisBuckets>[1];
    const s = new RedisBuckets({ url: `rediss://127.0.0.1:${port}`, username: USER, password: PASSWORD, caFile: ca, timeoutMs: 500, prefix: `carve-test:${randomUUID()}:` }, log);
    try {
      await waitFor('the store to connect over TLS', () => !s.isDegraded, 10_000);
      const stream = (s.redis as unknown as { stream: net.Socket }).stream;
      expect(() => {
        stream.emit('error', new Error('first'));
        stream.emit('error', new Error('second'));
      }).not.toThrow();
      expect((s.redis as unknown as { connector: GuardedConnector }).connector.laterErrors).toBe(1);
      expect(warnings.length).toBe(1);
    } finally {
      await s.close();
    }
  });

  it.each([
    ['a wrong password', { wrongPassword: true, trustCa: true }],
    ['a CA it does not trust', { wrongPassword: false, trustCa: false }],
  ])('limits on its own with %s (never reaches Redis, neither open nor shut)', async (_what, { wrongPassword, trustCa }) => {
    const g = await start({ password: wrongPassword ? 'not-the-password' : PASSWORD, caFile: trustCa ? ca : undefined });
    const tid = `ws-${randomUUID()}`;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(g, tid)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(store(g).isDegraded).toBe(true);
    expect(store(g).localAnswers).toBeGreaterThanOrEqual(5);
  });
});
