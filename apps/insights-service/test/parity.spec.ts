/**
 * Parity with the real monolith: the monolith runs as its own process (as `carve dev` runs it),
 * on the same database, emitting its events through its outbox and embedded relay (Postgres
 * transport); the service consumes them. After writes through the monolith's API, both sides
 * answer the same JSON for every note, every list page and sort, and a cursor from one side
 * pages on at the other. The canonical projection (@carve/insights-domain) is equal too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { canonicalNote, stableJson } from '@carve/insights-domain';
import { collectAll, request } from '@carve/shared-contract-kit';
import { DEV_JWT_SECRET } from '@carve/shared-http';
import { createTestDatabase } from '@carve/shared-testing';
import { type ServiceHarness, sql, startServiceHarness, tokenFor, waitFor } from './support';

const ROOT = path.resolve(__dirname, '../../..');
let monolith: ChildProcess | undefined;
let monolithUrl: string;
let h: ServiceHarness;
let output = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const db = await createTestDatabase('insights_parity');
  const port = await freePort();
  monolithUrl = `http://127.0.0.1:${port}`;
  monolith = spawn(process.execPath, ['-r', path.join(ROOT, 'tools/scripts/register-ts.js'), path.join(ROOT, 'apps/legacy-monolith/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, PLATFORM: 'local', DATABASE_URL: db.url, PORT: String(port), CARVE_TRANSPORT: 'postgres', CARVE_RELAY: 'embedded', CARVE_JWT_SECRET: DEV_JWT_SECRET, LOG_LEVEL: 'warn', KAFKA_BROKERS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  monolith.stdout!.on('data', (d) => (output += d));
  monolith.stderr!.on('data', (d) => (output += d));
  await waitFor('the monolith to be ready', async () => {
    if (monolith!.exitCode !== null) throw new Error(`the monolith exited (${monolith!.exitCode}): ${output}`);
    return (await request(monolithUrl, 'GET', '/readyz').catch(() => undefined))?.status === 200;
  }, 60_000, 200);
  h = await startServiceHarness('insights_parity', { CARVE_FORWARD_SYNC: 'true', CARVE_TRANSPORT: 'postgres' }, { db });
}, 90_000);

afterAll(async () => {
  if (monolith && monolith.exitCode === null) {
    const exited = new Promise((r) => monolith!.once('exit', r));
    monolith.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
    clearTimeout(timer);
    if (monolith.exitCode === null) monolith.kill('SIGKILL');
  }
  await h?.close();
}, 30_000);

describe('parity with the monolith', () => {
  let ws: string;
  let token: string;
  const base = () => `/api/v1/workspaces/${ws}/notes`;

  beforeAll(async () => {
    ws = randomUUID();
    token = tokenFor(ws, 'admin');
    await sql(h.db.url, `INSERT INTO legacy.workspaces (id, name, slug) VALUES ($1, 'Parity', $2)`, [ws, `parity-${ws.slice(0, 8)}`]);
    const m = (method: string, url: string, body?: unknown) =>
      request(monolithUrl, method, url, { token, body }).then((r) => {
        if (r.status >= 300) throw new Error(`${method} ${url} → ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      });
    await m('PATCH', `/api/v1/workspaces/${ws}`, { name: 'Parity Inc' });
    const features: string[] = [];
    for (const title of ['Export', 'SSO', 'Dark mode', 'Webhooks']) features.push((await m('POST', `/api/v1/workspaces/${ws}/features`, { title })).id);
    const customers = [
      { email: 'ana@example.com', name: 'Ana', company: 'Example Ltd' },
      { email: 'bo@globex.test', name: 'Bo', company: null },
      null,
    ];
    const notes: string[] = [];
    for (let i = 0; i < 14; i++) {
      const note = await m('POST', base(), {
        title: `Note ${String.fromCharCode(65 + ((i * 7) % 14))}`,
        content: `content ${i}`,
        source: ['email', 'slack', 'intercom', 'manual'][i % 4],
        customer: customers[i % 3],
        tags: i % 2 ? ['odd'] : ['even', 'x'],
        features: i % 3 === 0 ? [{ featureId: features[i % 4], importance: 'high' }, { featureId: features[(i + 1) % 4] }] : [],
      });
      notes.push(note.id);
    }
    await m('PATCH', `${base()}/${notes[1]}`, { state: 'processed', customer: null, tags: ['changed'] });
    await m('PATCH', `${base()}/${notes[2]}`, { customer: { email: 'ana@example.com', name: 'Ana', company: 'Example Ltd' } });
    await m('POST', `${base()}/${notes[4]}/features`, { featureId: features[2], importance: 'critical' });
    await m('PATCH', `${base()}/${notes[4]}/features/${features[2]}`, { importance: 'low' });
    await m('DELETE', `${base()}/${notes[0]}/features/${features[0]}`);
    await m('DELETE', `${base()}/${notes[5]}`);
    await m('DELETE', `/api/v1/workspaces/${ws}/features/${features[1]}`); // cascades to links, bumps those notes
  }, 60_000);

  /**
   * Every note listed, each read on its own. null while a listed note cannot be read: the
   * service, still applying events, may delete a note between the list and its own GET.
   */
  const projection = async (url: string): Promise<string[] | null> => {
    const { items } = await collectAll(url, `${base()}?limit=200`, token);
    const full = await Promise.all(items.map((n) => request(url, 'GET', `${base()}/${n.id}`, { token })));
    if (full.some((r) => r.status !== 200)) return null;
    return full
      .map(({ body: n }) => stableJson(canonicalNote({ ...n, customerEmail: n.customer?.email ?? null })))
      .sort();
  };

  it('converges on the same notes, through the monolith\'s own events', async () => {
    const expected = await projection(monolithUrl);
    expect(expected).toHaveLength(13);
    await waitFor(
      'the service to hold what the monolith holds',
      async () => {
        const held = await projection(h.url);
        return held !== null && stableJson(held) === stableJson(expected);
      },
      30_000,
      200,
    );
    expect((await h.admin.query('SELECT name FROM insights.workspaces WHERE id = $1', [ws])).rows).toEqual([{ name: 'Parity Inc' }]);
    // Not only the projection: the very same JSON, note by note.
    const { items } = await collectAll(monolithUrl, `${base()}?limit=200`, token);
    for (const n of items) {
      const [a, b] = await Promise.all([request(monolithUrl, 'GET', `${base()}/${n.id}`, { token }), request(h.url, 'GET', `${base()}/${n.id}`, { token })]);
      expect(b.body).toEqual(a.body);
      const [la, lb] = await Promise.all([request(monolithUrl, 'GET', `${base()}/${n.id}/features`, { token }), request(h.url, 'GET', `${base()}/${n.id}/features`, { token })]);
      expect(lb.body).toEqual(la.body);
    }
  });

  it('answers every list page alike, and a cursor from one side pages on at the other', async () => {
    const queries = ['sort=-createdAt', 'sort=createdAt', 'sort=title', 'sort=-title', 'sort=-updatedAt', 'sort=title&tag=even', 'customerEmail=ana%40example.com&sort=-createdAt', 'source=email&sort=updatedAt'];
    for (const q of queries) {
      const whole = (await collectAll(monolithUrl, `${base()}?limit=200&${q}`, token)).items;
      expect({ q, items: (await collectAll(h.url, `${base()}?limit=200&${q}`, token)).items }).toEqual({ q, items: whole });
      // Three at a time, alternating sides with each page's cursor.
      const mixed: any[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 20; page++) {
        const side = page % 2 === 0 ? monolithUrl : h.url;
        const res = await request(side, 'GET', `${base()}?limit=3&${q}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token });
        expect(res.status).toBe(200);
        mixed.push(...res.body.items);
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      expect({ q, ids: mixed.map((n) => n.id) }).toEqual({ q, ids: whole.map((n: any) => n.id) });
    }
  });
});
