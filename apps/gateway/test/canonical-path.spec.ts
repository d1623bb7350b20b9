/**
 * One canonical path, through the real gateway: encoded variants of a path are routed, checked
 * for the workspace, authenticated and forwarded as the path they decode to; the ones apps and
 * proxies disagree about are refused with 400 `bad_path` and reach no upstream. The admin API
 * checks its token on the same canonical path, and the gateway's /metrics is only on the admin
 * port. Requests go over raw sockets so the exact bytes of the request line reach the gateway
 * (an HTTP client's URL parser would resolve `..` and `\` itself).
 */
import net from 'node:net';
import { ADMIN_TOKEN, admin, gateway, type Stack, startStack, token } from './support/harness';

interface RawRes {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: any;
}

/** Sends one request with exactly this request-target and reads the whole answer (Connection: close). */
function raw(baseUrl: string, method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<RawRes> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${method} ${target}`)));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      const [statusLine, ...lines] = head.split('\r\n');
      const h: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let rest = text.slice(head.length + 4);
      if (h['transfer-encoding'] === 'chunked') {
        let out = '';
        for (;;) {
          const nl = rest.indexOf('\r\n');
          const size = parseInt(rest.slice(0, nl), 16);
          if (!size) break;
          out += rest.slice(nl + 2, nl + 2 + size);
          rest = rest.slice(nl + 2 + size + 2);
        }
        rest = out;
      }
      let json: unknown;
      try {
        json = JSON.parse(rest);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers: h, body: rest, json });
    });
    const lines = [`${method} ${target} HTTP/1.1`, `host: ${hostname}:${port}`];
    if (!('connection' in headers)) lines.push('connection: close');
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    if (body) lines.push('content-type: application/json', `content-length: ${Buffer.byteLength(body)}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

describe('one canonical path', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_canonical',
      `
  - id: notes-read
    match: { methods: [GET, HEAD], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
  - id: notes-write
    match: { methods: [POST, PUT, PATCH, DELETE], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
`,
    );
  });

  afterAll(() => stack?.close());

  const auth = (tid = 'ws-1') => ({ authorization: `Bearer ${token(tid)}` });
  const reset = () => {
    stack.monolith.reset();
    stack.service.reset();
  };

  it.each([
    ['/api/v1/workspaces/ws-1/%6eotes', '/api/v1/workspaces/ws-1/notes'],
    ['/%61pi/v1/workspaces/ws-1/notes', '/api/v1/workspaces/ws-1/notes'],
    ['/%61%70%69/v1/workspaces/ws-1/%6E%6F%74%65%73', '/api/v1/workspaces/ws-1/notes'],
    ['/api/v1/workspaces/%77%73-1/notes/', '/api/v1/workspaces/ws-1/notes'],
  ])('sends a write to %s to the service that owns writes, as %s, never to the monolith', async (target, canonical) => {
    reset();
    const r = await raw(stack.gw.url, 'POST', target, auth(), JSON.stringify({ title: 't', content: 'c' }));
    expect([r.status, r.json.who, r.json.url]).toEqual([200, 'service', canonical]);
    expect(stack.service.seen.map((s) => s.url)).toEqual([canonical]);
    expect(stack.monolith.count()).toBe(0);
  });

  it('authenticates an encoded /api path: without a token it is 401 and nothing is forwarded', async () => {
    reset();
    const r = await raw(stack.gw.url, 'POST', '/%61pi/v1/workspaces/ws-1/notes', {}, '{}');
    expect([r.status, r.json.code]).toEqual([401, 'token_missing']);
    expect(stack.monolith.count() + stack.service.count()).toBe(0);
  });

  it('checks the workspace on the canonical path: an encoded other workspace is 403', async () => {
    reset();
    const r = await raw(stack.gw.url, 'POST', '/api/v1/workspaces/%77s-2/notes', auth('ws-1'), '{}');
    expect([r.status, r.json.code]).toEqual([403, 'workspace_mismatch']);
    expect(stack.monolith.count() + stack.service.count()).toBe(0);
  });

  it('forwards the canonical path: upper-case hex for what stays encoded, the query string as sent', async () => {
    reset();
    const r = await raw(stack.gw.url, 'GET', '/api/v1/workspaces/ws-1/notes/%c3%a9%7e?q=%61&b=/../x', auth());
    expect(r.status).toBe(200);
    expect(stack.monolith.seen.map((s) => s.url)).toEqual(['/api/v1/workspaces/ws-1/notes/%C3%A9~?q=%61&b=/../x']);
  });

  it.each([
    ['/api/v1/workspaces/ws-1/notes%2Fx', 'encoded-slash'],
    ['/api/v1/workspaces/ws-1%2f..%2fws-2/notes', 'encoded-slash'],
    ['/api/v1/workspaces/ws-1/notes%5Cx', 'backslash'],
    ['/api/v1/workspaces/ws-1/notes\\x', 'backslash'],
    ['/api/v1/workspaces/ws-1/notes%00', 'nul'],
    ['/api/v1/workspaces/ws-1/./notes', 'dot-segment'],
    ['/api/v1/workspaces/ws-2/../ws-1/notes', 'dot-segment'],
    ['/api/v1/workspaces/ws-2/%2e%2e/ws-1/notes', 'dot-segment'],
    ['/api/v1/workspaces/ws-1//notes', 'empty-segment'],
    ['//api/v1/workspaces/ws-1/notes', 'empty-segment'],
    ['/api/v1/workspaces/ws-1/notes%zz', 'bad-percent-encoding'],
  ])('refuses %s with 400 bad_path (%s); nothing reaches an upstream', async (target, why) => {
    reset();
    const r = await raw(stack.gw.url, 'POST', target, auth(), '{}');
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ code: 'bad_path', status: 400 });
    expect(r.json.detail).toContain(`(${why})`);
    expect(stack.monolith.count() + stack.service.count()).toBe(0);
  });

  it("serves the gateway's own /healthz for an encoded path too, and never its /metrics on the proxy port", async () => {
    reset();
    expect((await raw(stack.gw.url, 'GET', '/%68ealthz')).json).toMatchObject({ status: 'ok', service: 'gateway' });
    for (const target of ['/metrics', '/%6detrics', '/%6D%65%74%72%69%63%73', '/metrics/']) {
      const r = await raw(stack.gw.url, 'GET', target);
      expect([target, r.status, r.json?.code]).toEqual([target, 404, 'route_not_found']);
      expect(r.body).not.toContain('carve_gateway');
      expect(r.body).not.toContain('http_server_request_duration_seconds');
    }
    expect((await raw(stack.gw.url, 'POST', '/readyz', {}, '{}')).status).toBe(404);
    expect(stack.monolith.count() + stack.service.count()).toBe(0);
    // The gateway's metrics are on the admin port, with an operator's token.
    const m = await admin(stack.gw, 'GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toContain('http_server_request_duration_seconds');
  });

  it('authenticates the admin API on the canonical path: encoded admin paths need the token too', async () => {
    for (const target of ['/%61dmin/routes', '/%61dmin/routes/notes-read', '/admin/routes/', '/%41dmin/routes', '/metrics', '/%6detrics', '/nothing-here']) {
      const r = await raw(stack.gw.adminUrl, 'GET', target);
      expect([target, r.status, r.json?.code]).toEqual([target, 401, 'admin_token_missing']);
    }
    const put = await raw(stack.gw.adminUrl, 'PUT', '/%61dmin/routes/notes-read', {}, JSON.stringify({ mode: 'service', reason: 'no token' }));
    expect([put.status, put.json.code]).toEqual([401, 'admin_token_missing']);
    expect(await stack.gw.controlPlane.listOverrides()).toEqual([]);
    expect(await stack.gw.controlPlane.audit()).toEqual([]);

    // With the token, the encoded path is the endpoint it decodes to.
    const ok = await raw(stack.gw.adminUrl, 'GET', '/%61dmin/routes/notes-read', { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect([ok.status, ok.json.id]).toEqual([200, 'notes-read']);
    // Paths that cannot be made canonical are refused before any endpoint.
    for (const target of ['/admin/../admin/routes', '/admin/%2e%2e/admin/routes', '/admin%2Froutes', '//admin/routes']) {
      const r = await raw(stack.gw.adminUrl, 'GET', target, { authorization: `Bearer ${ADMIN_TOKEN}` });
      expect([target, r.status, r.json?.code]).toEqual([target, 400, 'bad_path']);
    }
    // Health alone needs no token.
    expect((await raw(stack.gw.adminUrl, 'GET', '/healthz')).status).toBe(200);
    expect((await raw(stack.gw.adminUrl, 'GET', '/%68ealthz')).status).toBe(200);
  });

  it('makes the path of a WebSocket upgrade canonical too', async () => {
    const upgrade = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    reset();
    const bad = await raw(stack.gw.url, 'GET', '/api/v1/workspaces/ws-2/%2e%2e/ws-1/notes', { ...upgrade, ...auth() });
    expect([bad.status, bad.json.code]).toEqual([400, 'bad_path']);
    // An encoded /api path is under /api/: the token is required before anything else.
    const noToken = await raw(stack.gw.url, 'GET', '/%61pi/v1/workspaces/ws-1/notes', upgrade);
    expect([noToken.status, noToken.json.code]).toEqual([401, 'token_missing']);
    expect(stack.monolith.count() + stack.service.count()).toBe(0);
  });

  it("forwards an upstream's /metrics only when a route names it", async () => {
    const file = stack.files.write(`
upstreams:
  monolith: { url: ${stack.monolith.url} }
  insights: { url: ${stack.service.url} }
default: monolith
routes:
  - id: service-metrics
    match: { methods: [GET], path: /metrics }
    target: insights
    mode: service
`, 'metrics-route.yaml');
    const other = await gateway(stack.db, file);
    try {
      reset();
      const r = await raw(other.url, 'GET', '/%6detrics');
      expect([r.status, r.json.who, r.json.url]).toEqual([200, 'service', '/metrics']);
      expect(stack.monolith.count()).toBe(0);
    } finally {
      await other.close();
    }
  });
});
