/**
 * The shadow comparison's noise baseline and the mismatch browser, on a real gateway with test
 * upstreams and a real control plane:
 * - with `compare.noiseSample`, the monolith answers a shadowed GET twice; fields it generates
 *   per call are learned as noise, and a difference only there is no mismatch, while a real
 *   difference elsewhere still is; a replica that starts later uses the noise learned before;
 * - stored mismatches are paged and filtered by field path and time with a cursor, kept by
 *   count and by age, and their per-path counts outlive the samples.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestDatabase } from '@carve/shared-testing';
import type { RunningGateway } from '../src';
import { ADMIN_TOKEN, admin, gateway, http, RouteFiles, testDatabase, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

const DAY_MS = 24 * 3600_000;
const root = path.resolve(__dirname, '..', '..', '..');
const carveBin = path.join(root, 'tools', 'carve', 'bin', 'carve.js');

describe('gateway shadow noise baseline and mismatch browser', () => {
  let db: TestDatabase;
  let files: RouteFiles;
  let monolith: TestUpstream;
  let service: TestUpstream;
  let gw: RunningGateway;

  beforeAll(async () => {
    [db, monolith, service] = await Promise.all([testDatabase('gateway_noise'), TestUpstream.start('monolith'), TestUpstream.start('service')]);
    files = new RouteFiles();
    const file = files.write(`
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${service.url} }
default: monolith
routes:
  - id: feed
    match: { path: /api/v1/workspaces/:workspaceId/feed/* }
    target: insights
    mode: shadow
    compare: { noiseSample: 1 }
    guard: { maxErrorRate: 0.5, maxMismatchRate: 0.5, window: 60s, minRequests: 3 }
  - id: archive
    match: { path: /api/v1/workspaces/:workspaceId/archive/* }
    target: insights
    mode: shadow
`);
    gw = await gateway(db, file, { shadow: { timeoutMs: 2000, maxBodyBytes: 64 * 1024, maxInFlight: 100, keepMismatches: 5, keepMismatchesMs: DAY_MS } });
  });

  afterAll(async () => {
    await gw?.close();
    await Promise.all([monolith?.close(), service?.close()]);
    await db?.drop();
    files?.remove();
  });

  const auth = { authorization: `Bearer ${token('ws-1')}` };
  const feed = (title: string) => ({
    requestId: randomUUID(),
    generatedAt: new Date(Date.now() + Math.floor(Math.random() * 100_000)).toISOString(),
    items: [1, 2].map((id) => ({ id, title: `${title} ${id}`, etag: randomUUID() })),
  });
  const counters = async (id: string) => (await admin(gw, 'GET', `/admin/routes/${id}`)).json.counters.shadow;

  it('learns fields the monolith generates per call as noise: they yield no mismatch and none the guard counts, a real difference still counts', async () => {
    monolith.reset(() => ({ body: feed('note') }));
    service.reset(() => ({ body: feed('note') }));
    for (let i = 0; i < 6; i++) expect((await http(`${gw.url}/api/v1/workspaces/ws-1/feed/list`, { headers: auth })).status).toBe(200);
    const c = await waitFor('6 comparisons', async () => {
      const s = await counters('feed');
      return s.noise + s.match + s.mismatch >= 6 ? s : undefined;
    });
    expect(c).toMatchObject({ mismatch: 0, noise: 6 });
    // The guard counted them as matches: 0 mismatches in its window.
    expect((await admin(gw, 'GET', '/admin/routes/feed')).json.guard.stats).toMatchObject({ ok: 6, mismatch: 0, mismatchRate: 0 });
    // Every shadowed GET reached the monolith twice: the client's request and the noise probe.
    expect(monolith.count((s) => s.headers['x-carve-shadow'] === '1')).toBe(6);
    expect(monolith.count((s) => s.headers['x-carve-shadow'] === undefined)).toBe(6);

    const noise = await waitFor('the noise in the control plane', async () => {
      const r = (await admin(gw, 'GET', '/admin/routes/feed/noise')).json;
      return r.paths.length >= 3 && r.paths.every((p: { count: number }) => p.count >= 6) ? r : undefined;
    });
    expect(noise.noiseSample).toBe(1);
    expect(noise.paths.map((p: { path: string }) => p.path).sort()).toEqual(['$.generatedAt', '$.items[*].etag', '$.requestId']);

    // A real difference in another field is a mismatch; only that field is stored.
    service.reset(() => ({ body: feed('renamed') }));
    expect((await http(`${gw.url}/api/v1/workspaces/ws-1/feed/list?x=1`, { headers: auth })).status).toBe(200);
    await waitFor('the mismatch', async () => (await counters('feed')).mismatch === 1);
    const page = await waitFor('the stored mismatch', async () => {
      const r = (await admin(gw, 'GET', '/admin/routes/feed/mismatches')).json;
      return r.items.length === 1 ? r : undefined;
    });
    expect(page.items[0].paths).toEqual(['$.items[*].title']);
    expect(page.items[0].differences.map((d: { path: string }) => d.path)).toEqual(['$.items[0].title', '$.items[1].title']);
    const status = await admin(gw, 'GET', '/admin/routes/feed');
    expect(status.json.mismatches.count).toBe(1);
    expect(status.json.guard.stats).toMatchObject({ ok: 6, mismatch: 1 });
    expect(status.json.mode).toBe('shadow');

    // A route without noiseSample never asks the monolith twice.
    monolith.reset(() => ({ body: { same: true } }));
    service.reset(() => ({ body: { same: true } }));
    await http(`${gw.url}/api/v1/workspaces/ws-1/archive/list`, { headers: auth });
    await waitFor('the archive comparison', async () => (await counters('archive')).match === 1);
    expect(monolith.count()).toBe(1);
  });

  it('another replica uses the noise learned elsewhere, without asking the monolith twice', async () => {
    const file = files.write(
      `
upstreams:
  monolith: { url: ${monolith.url} }
  insights: { url: ${service.url} }
default: monolith
routes:
  - id: feed
    match: { path: /api/v1/workspaces/:workspaceId/feed/* }
    target: insights
    mode: shadow
`,
      'other-replica.yaml',
    );
    const other = await gateway(db, file, { shadow: { timeoutMs: 2000, maxBodyBytes: 64 * 1024, maxInFlight: 100 } });
    try {
      monolith.reset(() => ({ body: feed('note') }));
      service.reset(() => ({ body: feed('note') }));
      expect((await http(`${other.url}/api/v1/workspaces/ws-1/feed/list`, { headers: auth })).status).toBe(200);
      const c = await waitFor('the comparison on the other replica', async () => {
        const s = (await admin(other, 'GET', '/admin/routes/feed')).json.counters.shadow;
        return s.noise + s.match + s.mismatch >= 1 ? s : undefined;
      });
      expect(c).toMatchObject({ noise: 1, mismatch: 0 });
      expect(monolith.count()).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('never sends a write twice', async () => {
    monolith.reset();
    service.reset();
    const r = await http(`${gw.url}/api/v1/workspaces/ws-1/feed/n1`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect(r.json.who).toBe('monolith');
    // The next GET's comparison is done only after the POST was proxied: by then a second POST would have arrived.
    const compared = (s: { match: number; mismatch: number; noise: number }) => s.match + s.mismatch + s.noise;
    const before = compared(await counters('feed'));
    await http(`${gw.url}/api/v1/workspaces/ws-1/feed/list`, { headers: auth });
    await waitFor('the GET compared', async () => compared(await counters('feed')) > before);
    expect(monolith.count((s) => s.method === 'GET')).toBe(2);
    expect(monolith.count((s) => s.method === 'POST')).toBe(1);
    expect(service.count((s) => s.method === 'POST')).toBe(0);
  });

  describe('stored mismatches', () => {
    const record = (path: string, i: number) =>
      gw.controlPlane.recordMismatch({
        routeId: 'archive',
        request: { method: 'GET', path: `/api/v1/workspaces/ws-1/archive/${i}` },
        monolithStatus: 200,
        serviceStatus: 200,
        differences: [{ path, kind: 'changed', monolith: i, service: i + 1 }],
        paths: [path],
      });
    const setAt = (id: number, at: Date) => gw.controlPlane.pool.query('UPDATE carve.shadow_mismatches SET at = $2 WHERE id = $1', [id, at]);
    const browse = async (query: string) => {
      const r = await admin(gw, 'GET', `/admin/routes/archive/mismatches?${query}`);
      expect(r.status).toBe(200);
      return r.json as { items: Array<{ id: number; paths: string[]; at: string }>; nextCursor: string | null };
    };

    it('pages by field path and time with a cursor', async () => {
      const stored = [];
      for (let i = 0; i < 5; i++) stored.push(await record(i % 2 === 0 ? '$.a' : '$.items[*].b', i));
      // Spread them one minute apart, the oldest first.
      const base = Date.now() - 10 * 60_000;
      for (let i = 0; i < stored.length; i++) await setAt(stored[i].id, new Date(base + i * 60_000));

      const first = await browse('path=$.a&limit=2');
      expect(first.items.map((m) => m.id)).toEqual([stored[4].id, stored[2].id]);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = await browse(`path=$.a&limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`);
      expect(second.items.map((m) => m.id)).toEqual([stored[0].id]);
      expect(second.nextCursor).toBeNull();

      // An index in the asked path is a wildcard, as stored.
      expect((await browse('path=$.items[7].b')).items.map((m) => m.id)).toEqual([stored[3].id, stored[1].id]);

      const since = new Date(base + 60_000).toISOString();
      const until = new Date(base + 3 * 60_000).toISOString();
      expect((await browse(`since=${since}&until=${until}`)).items.map((m) => m.id)).toEqual([stored[2].id, stored[1].id]);

      const bad = await admin(gw, 'GET', '/admin/routes/archive/mismatches?cursor=nonsense');
      expect(bad.status).toBe(400);
      expect(bad.json.code).toBe('bad_cursor');
      const badQuery = await admin(gw, 'GET', '/admin/routes/archive/mismatches?since=yesterday&limit=0');
      expect(badQuery.status).toBe(400);
      expect(badQuery.json.code).toBe('validation_failed');
      expect(badQuery.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(['limit', 'since']);
    });

    it('keeps the latest N per route and none older than the age limit; counts per path survive trimming', async () => {
      const seen = [];
      for (let i = 0; i < 8; i++) seen.push(await record('$.c', 100 + i));
      const left = await browse('limit=100');
      expect(left.items.map((m) => m.id)).toEqual(seen.slice(-5).reverse().map((m) => m.id));

      // Two of them age past the limit: the next sample of the route removes them.
      await setAt(seen[4].id, new Date(Date.now() - 2 * DAY_MS));
      await setAt(seen[5].id, new Date(Date.now() - 2 * DAY_MS));
      const newest = await record('$.d', 200);
      expect((await browse('limit=100')).items.map((m) => m.id)).toEqual([newest.id, seen[7].id, seen[6].id]);

      const counts = (await admin(gw, 'GET', '/admin/routes/archive/mismatches/paths')).json.paths as Array<{ path: string; count: number }>;
      const byPath = Object.fromEntries(counts.map((p) => [p.path, p.count]));
      expect(byPath).toEqual({ '$.c': 8, '$.a': 3, '$.items[*].b': 2, '$.d': 1 });
    });

    it('carve routes mismatches: pages with --path and --cursor, and --counts shows per-path counts and the noise', async () => {
      const carve = async (...args: string[]) => {
        const env = { ...process.env, CARVE_ADMIN_URL: gw.adminUrl, CARVE_ADMIN_TOKEN: ADMIN_TOKEN };
        return promisify(execFile)(process.execPath, [carveBin, 'routes', 'mismatches', ...args], { cwd: root, env, timeout: 30_000 });
      };
      const text = (await carve('archive', '--path', '$.c', '--limit', '1', '--since', '1d')).stdout;
      expect(text).toMatch(/^ {2}\S+ {2}GET \/api\/v1\/workspaces\/ws-1\/archive\/107 {2}tenant - {2}status 200\/200\n {4}\$\.c: changed {2}monolith=107 {2}service=108\n/);
      const more = /more: carve routes mismatches archive --cursor (\S+) --path '\$\.c' --since '\S+Z' --limit '1'/.exec(text);
      expect(more).not.toBeNull();
      const next = JSON.parse((await carve('archive', '--path', '$.c', '--limit', '1', '--cursor', more![1], '--json')).stdout);
      expect(next.items.map((m: { request: { path: string } }) => m.request.path)).toEqual(['/api/v1/workspaces/ws-1/archive/106']);
      expect(next.nextCursor).toBeNull();
      const counts = (await carve('feed', '--counts')).stdout;
      expect(counts).toMatch(/mismatches per field path \(feed\):\nPATH\s+COUNT.*\n\$\.items\[\*\]\.title\s+1 /);
      expect(counts).toMatch(/noise \(the monolith differed from itself; noiseSample 1\):\nPATH\s+COUNT[^\n]*\n(.*\n)*\$\.requestId\s+\d+ /);
      await expect(carve('archive', '--since', 'last week')).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--since must be an ISO-8601 instant or a duration/) });
    });
  });
});
