/**
 * WebSocket pass-through through the real gateway, with real `ws` clients and servers: only on
 * routes that opt in; the route's mode decides the side (a canary by tenant: an allow-listed
 * tenant on the service, a deny-listed one on the monolith); the token, the workspace and the
 * gateway's identity headers apply as to any request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { type Stack, startStack, token } from './support/harness';

interface WsUpstream {
  url: string;
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** A WebSocket server that echoes `<name>:<message>` and records the handshake headers. */
async function wsUpstream(name: string): Promise<WsUpstream> {
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('upgrade required');
  });
  const wss = new WebSocketServer({ server });
  const seen: http.IncomingHttpHeaders[] = [];
  wss.on('connection', (socket, req) => {
    seen.push(req.headers);
    socket.on('message', (data) => socket.send(`${name}:${data.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Opens a socket, sends one message, returns the echo (or the refusal's status and body). */
function exchange(url: string, headers: Record<string, string>, message = 'hi'): Promise<{ echo?: string; status?: number; body?: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: 5000 });
    const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
    ws.on('open', () => ws.send(message));
    ws.on('message', (data) => {
      clearTimeout(timer);
      ws.close();
      resolve({ echo: data.toString() });
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined });
      });
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

describe('gateway WebSocket pass-through', () => {
  let stack: Stack<WsUpstream>;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_websocket',
      `
  - id: live
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/live }
    target: insights
    mode: canary
    percent: 0
    allow: [ws-on-service]
    websocket: true
  - id: notes
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes }
    target: insights
    mode: service
`,
      { upstream: wsUpstream },
    );
  });

  afterAll(() => stack?.close());

  const wsUrl = (tid: string, what = 'live') => `${stack.gw.url.replace('http:', 'ws:')}/api/v1/workspaces/${tid}/${what}`;
  const auth = (tid: string) => ({ authorization: `Bearer ${token(tid)}` });

  it("sends a tenant's socket to the side the route's canary gives it, with the gateway's identity headers", async () => {
    expect(await exchange(wsUrl('ws-on-service'), auth('ws-on-service'), 'one')).toEqual({ echo: 'service:one' });
    expect(stack.service.seen.at(-1)?.['x-carve-tenant']).toBe('ws-on-service');
    expect(await exchange(wsUrl('ws-other'), auth('ws-other'), 'two')).toEqual({ echo: 'monolith:two' });
    expect(stack.monolith.seen.at(-1)?.['x-carve-tenant']).toBe('ws-other');
    // A spoofed identity header never reaches the upstream.
    await exchange(wsUrl('ws-other'), { ...auth('ws-other'), 'x-carve-tenant': 'ws-on-service' });
    expect(stack.monolith.seen.at(-1)?.['x-carve-tenant']).toBe('ws-other');
  });

  it('keeps a socket open for many messages both ways', async () => {
    const ws = new WebSocket(wsUrl('ws-on-service'), { headers: auth('ws-on-service') });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const got: string[] = [];
    const all = new Promise<void>((r) => ws.on('message', (d) => got.push(d.toString()) === 50 && r()));
    for (let i = 0; i < 50; i++) ws.send(String(i));
    await all;
    ws.close();
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `service:${i}`));
  });

  it('refuses without a token (401), for another workspace (403), and on routes that do not opt in (400)', async () => {
    expect(await exchange(wsUrl('ws-a'), {})).toMatchObject({ status: 401, body: { code: 'token_missing' } });
    expect(await exchange(wsUrl('ws-b'), auth('ws-a'))).toMatchObject({ status: 403, body: { code: 'workspace_mismatch' } });
    expect(await exchange(wsUrl('ws-a', 'notes'), auth('ws-a'))).toMatchObject({ status: 400, body: { code: 'upgrade_not_allowed' } });
    expect(await exchange(wsUrl('ws-a', 'elsewhere'), auth('ws-a'))).toMatchObject({ status: 400, body: { code: 'upgrade_not_allowed' } });
  });
});
