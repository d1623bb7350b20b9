/**
 * What a client can send, sent to the real stack (`carve dev`: the gateway in front of the
 * monolith and the carved services, on real Postgres) through the gateway's public port: forged
 * and confused tokens, another tenant's paths, spoofed identity headers, request smuggling,
 * path tricks, bodies over the limit or of the wrong media type, prototype keys, and a seeded
 * fuzz of bodies. Every probe must get the expected 4xx (never a 5xx), and nothing may be
 * written. The gateway's own tests cover what needs a gateway of its own (limits, timeouts,
 * the slow-body attack, JWKS rotation, WebSocket pass-through).
 *
 * The fuzz is seeded: CARVE_FUZZ_SEED replays a run (the seed is printed).
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { waitFor } from '@carve/shared-testing';
import { createSigner } from 'fast-jwt';
import { call, prng, raw, type Stack, startStack, statuses, tokenFor, WORKSPACE } from './stack';

const OTHER = '00000000-0000-4000-a000-0000000000ff';

describe('security suite: the real stack through the gateway', () => {
  let s: Stack;
  let before: Record<string, number>;
  const api = (path: string) => `${s.url}/api/v1/workspaces/${WORKSPACE}${path}`;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    s = await startStack('security_suite');
    // The demo seed is in: the probes below must not add to it or change it.
    const ok = await call(api('/notes'), { headers: bearer(tokenFor()) });
    expect(ok.status).toBe(200);
    before = await s.counts();
  });

  afterAll(async () => {
    await s?.close();
  });

  afterEach(async () => {
    expect(await s.counts()).toEqual(before);
  });

  it('refuses every bad token with 401 problem+json', async () => {
    const claims = { sub: 'u', tid: WORKSPACE, role: 'admin' };
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(Date.now() / 1000) + 600, iss: 'carve', aud: 'carve-api' })).toString('base64url')}.`;
    const bad: Array<[string, Record<string, string>, string]> = [
      ['missing', {}, 'token_missing'],
      ['basic', { authorization: 'Basic YWRtaW46YWRtaW4=' }, 'token_missing'],
      ['garbage', bearer('not.a.jwt'), 'token_invalid'],
      ['alg none', bearer(none), 'token_invalid'],
      ['forged', bearer(signToken(claims as never, 'someone-elses-secret-0123456789')), 'token_invalid'],
      ['expired', bearer(signToken(claims as never, DEV_JWT_SECRET, { ttlSec: -120 })), 'token_expired'],
      ['no exp', bearer(createSigner({ key: DEV_JWT_SECRET, algorithm: 'HS256', iss: 'carve', aud: 'carve-api' })(claims)), 'token_invalid'],
      ['too long-lived', bearer(signToken(claims as never, DEV_JWT_SECRET, { ttlSec: 30 * 24 * 3600 })), 'token_invalid'],
      ['other issuer', bearer(signToken(claims as never, DEV_JWT_SECRET, { issuer: 'https://evil.example/' })), 'token_invalid'],
      ['other audience', bearer(signToken(claims as never, DEV_JWT_SECRET, { audience: 'another-api' })), 'token_invalid'],
      ['unknown role', bearer(signToken({ ...claims, role: 'root' } as never, DEV_JWT_SECRET)), 'token_invalid'],
    ];
    for (const [name, headers, code] of bad) {
      for (const [method, body] of [['GET', undefined], ['POST', JSON.stringify({ title: 'x', content: 'y' })]] as const) {
        const r = await call(api('/notes'), { method, headers: { ...headers, ...json }, body });
        expect({ name, method, status: r.status, code: r.body?.code }).toEqual({ name, method, status: 401, code });
        expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
    }
  });

  it("refuses another tenant's paths (403 workspace_mismatch), whatever identity headers the client adds", async () => {
    const t = tokenFor();
    const spoof = { 'x-carve-tenant': OTHER, 'x-carve-user': 'root', 'x-carve-role': 'admin', 'x-forwarded-for': '10.0.0.1' };
    for (const path of ['', '/members', '/features', '/notes', '/releases', `/features/${randomUUID()}/comments`]) {
      for (const method of ['GET', 'POST']) {
        const r = await call(`${s.url}/api/v1/workspaces/${OTHER}${path}`, { method, headers: { ...bearer(t), ...spoof, ...json }, body: method === 'POST' ? JSON.stringify({ title: 'x', name: 'x', content: 'x' }) : undefined });
        expect({ path, method, status: r.status, code: r.body?.code }).toEqual({ path, method, status: 403, code: 'workspace_mismatch' });
      }
    }
    // A viewer claiming to be an admin in a header is still a viewer.
    const viewer = tokenFor(WORKSPACE, 'viewer', randomUUID());
    const r = await call(api('/notes'), { method: 'POST', headers: { ...bearer(viewer), ...json, 'x-carve-role': 'admin' }, body: JSON.stringify({ title: 'x', content: 'y' }) });
    expect([r.status, r.body?.code]).toEqual([403, 'forbidden_role']);
  });

  it('refuses request smuggling: conflicting lengths and odd transfer encodings get 400 problem+json, nothing forwarded', async () => {
    const t = tokenFor();
    const path = `/api/v1/workspaces/${WORKSPACE}/notes`;
    const body = '{"title":"smuggled","content":"x"}';
    const inner = `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const head = (extra: string) => `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\n${extra}`;
    const probes = [
      head(`Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${inner}`),
      head(`Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${inner}`),
      head(`Content-Length: 5\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
      head(`Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${inner}`),
      head(`Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${inner}`),
      head(`Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${inner}`),
      head(`Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${inner}`),
      head(`Transfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`),
      head(`Content-Length: -1\r\n\r\n${body}`),
      head(`X-Bad: a\0b\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
    ];
    for (const probe of probes) {
      const response = await raw(s.port, probe);
      const codes = statuses(response);
      const problem = /content-type: application\/problem\+json/i.test(response) && /"code":"[a-z_]+"/.test(response);
      expect({ probe: probe.split('\r\n').slice(4, 6).join(' | '), codes, problem }).toEqual({ probe: probe.split('\r\n').slice(4, 6).join(' | '), codes: [400], problem: true });
    }
  });

  it('answers path tricks with 4xx, never with another tenant\'s data or a 5xx', async () => {
    const t = tokenFor();
    const paths = [
      `/api/v1/workspaces/${WORKSPACE}/../${OTHER}/notes`,
      `/api/v1/workspaces/${WORKSPACE}/%2e%2e/${OTHER}/notes`,
      `/api/v1/workspaces/${WORKSPACE}%2F..%2F${OTHER}/notes`,
      `/api/v1/workspaces/${OTHER}%00/notes`,
      `/api/v1/workspaces/${OTHER};x=1/notes`,
      `/%61pi/v1/workspaces/${OTHER}/notes`,
      `//api/v1/workspaces/${OTHER}/notes`,
      `/api/v1/workspaces/%E0%A4%A/notes`,
      `/api/v1/workspaces/${'a'.repeat(9000)}/notes`,
    ];
    for (const path of paths) {
      for (const auth of [`Authorization: Bearer ${t}\r\n`, '']) {
        const codes = statuses(await raw(s.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`));
        expect(codes).toHaveLength(1);
        expect({ path: path.slice(0, 80), auth: auth !== '', fourxx: codes[0] >= 400 && codes[0] < 500 }).toEqual({ path: path.slice(0, 80), auth: auth !== '', fourxx: true });
      }
    }
    // Headers larger than the server takes: 431.
    expect(statuses(await raw(s.port, `GET /api/v1/workspaces/${WORKSPACE}/notes HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`))).toEqual([431]);
  });

  it('refuses bodies over the limit (413), other media types (415), bad JSON and prototype keys (400)', async () => {
    const h = { ...bearer(tokenFor()), ...json };
    const big = await call(api('/notes'), { method: 'POST', headers: h, body: JSON.stringify({ title: 'big', content: 'x'.repeat(300 * 1024) }) });
    expect([big.status, big.body?.code]).toEqual([413, 'payload_too_large']);
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml']) {
      const r = await call(api('/notes'), { method: 'POST', headers: { ...h, 'content-type': type }, body: 'title=t&content=c' });
      expect({ type, status: r.status, code: r.body?.code }).toEqual({ type, status: 415, code: 'unsupported_media_type' });
    }
    for (const body of ['{"title":', '{"title":"t","content":"c",}', '[', '"just a string"', '{"__proto__":{"admin":true},"title":"t","content":"c"}', '{"constructor":{"prototype":{"x":1}},"title":"t","content":"c"}', '['.repeat(5000) + ']'.repeat(5000)]) {
      const r = await call(api('/notes'), { method: 'POST', headers: h, body });
      expect({ body: body.slice(0, 40), status: r.status }).toEqual({ body: body.slice(0, 40), status: 400 });
    }
    for (const sort of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      for (const list of ['/notes', '/features', '/releases', '/members']) {
        const r = await call(api(`${list}?sort=${sort}`), { headers: h });
        expect({ list, sort, status: r.status }).toEqual({ list, sort, status: 400 });
      }
    }
  });

  it('answers an 11 MiB chunked body with 413 before reading it, and a tenant past its concurrency with 429', async () => {
    const t = tokenFor();
    const path = `/api/v1/workspaces/${WORKSPACE}/notes`;
    // 11 MiB announced as chunks; the gateway answers once the body passes the monolith's limit.
    const chunk = `10000\r\n${'x'.repeat(0x10000)}\r\n`;
    const big = await raw(s.port, `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(176)}0\r\n\r\n`, 10_000);
    expect(statuses(big)).toEqual([413]);
    expect(big).toContain('"code":"payload_too_large"');

    // 80 bodies of one tenant trickling in: past its 64 in flight, the rest get 429 at once.
    const sockets = Array.from({ length: 80 }, () => net.connect(s.port, '127.0.0.1'));
    const answers: string[] = [];
    try {
      for (const sock of sockets) {
        sock.on('error', () => undefined);
        sock.on('data', (d) => answers.push(d.toString('latin1').split('\r\n', 1)[0]));
        sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"title":"`);
      }
      await waitFor('the 429s', () => answers.filter((a) => a.includes(' 429 ')).length >= 16, 20_000, 100);
      // Another tenant is not concerned.
      const other = randomUUID();
      const r = await call(`${s.url}/api/v1/workspaces/${other}/notes`, { headers: bearer(tokenFor(other, 'admin', randomUUID())) });
      expect(r.status).not.toBe(429);
    } finally {
      for (const sock of sockets) sock.destroy();
    }
    expect(answers.filter((a) => !a.includes(' 429 '))).toEqual([]);
  });

  it('answers a seeded fuzz of invalid bodies with 4xx only, writing nothing', async () => {
    const seed = Number(process.env.CARVE_FUZZ_SEED ?? 20261207);
    process.stdout.write(`security fuzz seed: ${seed} (CARVE_FUZZ_SEED replays it)\n`);
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const junk = (): unknown => pick([null, true, 0, -1, 1e308, [], {}, [1, 'a'], { a: { b: [] } }, 'x'.repeat(Math.floor(rnd() * 50))]);
    const text = () => Array.from({ length: Math.floor(rnd() * 40) }, () => String.fromCharCode(Math.floor(rnd() * 0x2fff))).join('');
    const h = { ...bearer(tokenFor()), ...json };
    const targets = [
      ['POST', '/notes', { title: 't', content: 'c' }],
      ['POST', '/features', { title: 't' }],
      ['POST', '/releases', { name: 'r', timeframe: { start: '2025-01-01', end: '2025-01-02' } }],
      ['PATCH', `/notes/${randomUUID()}`, { title: 't' }],
      ['POST', `/features/${randomUUID()}/comments`, { body: 'b' }],
    ] as const;
    const seen: number[] = [];
    for (let i = 0; i < 250; i++) {
      const [method, path, valid] = pick(targets);
      const field = Object.keys(valid)[0];
      const body = pick([
        // The first required field of the wrong type.
        () => JSON.stringify({ ...valid, [field]: pick([null, 1, true, [], {}, [text()], { v: text() }]) }),
        // Valid JSON cut short.
        () => JSON.stringify({ ...valid, extra: junk() }).slice(0, 1 + Math.floor(rnd() * 10)),
        // Not an object at the top.
        () => JSON.stringify(pick([[valid], 'text', 42, null, true])),
        // Random characters.
        () => text() || '{',
        // The required fields missing.
        () => JSON.stringify({ unrelated: junk(), [text() || 'k']: junk() }),
      ])();
      const r = await call(api(path), { method, headers: h, body });
      seen.push(r.status);
      expect({ i, method, path, body: body.slice(0, 60), fourxx: r.status >= 400 && r.status < 500 }).toEqual({ i, method, path, body: body.slice(0, 60), fourxx: true });
    }
    expect(seen.filter((c) => c >= 500)).toEqual([]);
  });
});
