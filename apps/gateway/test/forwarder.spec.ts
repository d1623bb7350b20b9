/**
 * The lean forwarder on its own, between two real node:http servers on loopback: large bodies
 * stream (the client has the first bytes while the upstream is still sending), small ones keep
 * their length, hop-by-hop response headers never reach the client, and a failure before the
 * answer leaves the owner to answer. The request-header rules are checked here too.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, request } from 'undici';
import { upstreamRequestHeaders } from '../src/edge/headers';
import { Exchange, type ExchangeOwner } from '../src/proxy/forwarder';

type Upstream = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Events {
  statuses: number[];
  failures: Array<{ message: string; relayed: boolean }>;
  finished: number;
  kept: Buffer | null;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('forwarder', () => {
  let upstreamBehaviour: Upstream;
  let upstream: http.Server;
  let front: http.Server;
  let pool: Pool;
  let frontUrl: string;
  let events: Events;
  let keep = 0;

  beforeAll(async () => {
    upstream = http.createServer((req, res) => upstreamBehaviour(req, res));
    const upstreamUrl = await listen(upstream);
    pool = new Pool(upstreamUrl, { connections: 4 });
    const owner: ExchangeOwner<http.ServerResponse> = {
      status: (_ex, status) => {
        events.statuses.push(status);
        return true;
      },
      failed: (ex, err, relayed) => {
        events.failures.push({ message: err.message, relayed });
        if (!relayed) {
          ex.ctx.writeHead(502, { 'content-type': 'text/plain' });
          ex.ctx.end('owner answered');
        }
      },
      finished: (ex) => {
        events.finished += 1;
        events.kept = ex.kept === null ? null : ex.keptBody();
      },
    };
    front = http.createServer((req, res) => {
      const headers = upstreamRequestHeaders(req.headers, { requestId: 'rid-1', clientIp: '127.0.0.1', protocol: 'http', host: req.headers.host, trustProxy: false });
      new Exchange(owner, req, res, 'rid-1', res, keep).send(pool, { method: req.method!, path: req.url!, headers, body: null, timeoutMs: 2000 });
    });
    frontUrl = await listen(front);
  });

  beforeEach(() => {
    events = { statuses: [], failures: [], finished: 0, kept: null };
    keep = 0;
  });

  afterAll(async () => {
    await pool.close();
    front.closeAllConnections();
    upstream.closeAllConnections();
    await Promise.all([new Promise((r) => front.close(r)), new Promise((r) => upstream.close(r))]);
  });

  it('streams a large body: the client has the first megabyte before the upstream sends the rest', async () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    upstreamBehaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
      for (let i = 0; i < 16; i++) res.write(chunk);
      void released.then(() => {
        for (let i = 0; i < 112; i++) res.write(chunk);
        res.end();
      });
    };
    const res = await request(frontUrl + '/big');
    expect(res.statusCode).toBe(200);
    const hash = createHash('sha256');
    let received = 0;
    for await (const part of res.body as AsyncIterable<Buffer>) {
      hash.update(part);
      received += part.length;
      if (received >= 1024 * 1024) release(); // idempotent: the upstream holds the rest until now
    }
    expect(received).toBe(128 * 64 * 1024);
    const want = createHash('sha256');
    for (let i = 0; i < 128; i++) want.update(chunk);
    expect(hash.digest('hex')).toBe(want.digest('hex'));
    expect(events.finished).toBe(1);
  });

  it('aborts the upstream when the client goes away in the middle of a streamed body', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const chunk = Buffer.alloc(64 * 1024, 1);
    upstreamBehaviour = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(chunk), 5); // never ends on its own
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed();
      });
    };
    await new Promise<void>((resolve, reject) => {
      const req = http.get(frontUrl + '/endless', { agent: false }, (res) => {
        let got = 0;
        res.on('data', (d: Buffer) => {
          got += d.length;
          if (got > 256 * 1024) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no data')), 5000);
    });
    await closed; // the upstream's connection was dropped, not left streaming until a timeout
    await new Promise((r) => setTimeout(r, 50));
    expect(events.finished).toBe(0);
    expect(events.failures).toEqual([expect.objectContaining({ relayed: true })]);
  });

  it('relays a small body with its length, and keeps a copy when asked', async () => {
    keep = 1024;
    const body = JSON.stringify({ hello: 'world' });
    upstreamBehaviour = (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const res = await request(frontUrl + '/small');
    expect(res.statusCode).toBe(201);
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(await res.body.text()).toBe(body);
    expect(events.kept?.toString()).toBe(body);
  });

  it('drops hop-by-hop response headers, and those the upstream names in Connection', async () => {
    upstreamBehaviour = (_req, res) => {
      res.setHeader('connection', 'keep-alive, x-hop');
      res.setHeader('x-hop', 'should not pass');
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('proxy-authenticate', 'Basic');
      res.setHeader('trailer', 'x-checksum');
      res.setHeader('x-request-id', 'the-upstream-id');
      res.setHeader('x-kept', 'yes');
      res.end('ok');
    };
    const raw = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(frontUrl + '/hop', { agent: false }, resolve).on('error', reject);
    });
    raw.resume();
    const h = raw.headers;
    expect(h['x-hop']).toBeUndefined();
    expect(h['proxy-authenticate']).toBeUndefined();
    expect(h.trailer).toBeUndefined();
    expect(h['keep-alive']).not.toBe('timeout=5'); // Node's own, if any
    expect(h['x-request-id']).toBe('rid-1');
    expect(h['x-kept']).toBe('yes');
  });

  it('leaves the answer to the owner when the upstream fails before answering', async () => {
    upstreamBehaviour = (req) => req.socket.destroy();
    const res = await request(frontUrl + '/broken');
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toBe('owner answered');
    expect(events.failures).toEqual([expect.objectContaining({ relayed: false })]);
    expect(events.finished).toBe(0);
  });

  it('builds the upstream request headers: hop-by-hop, Connection-named and x-carve-* dropped, identity and forwarding added', () => {
    const out = upstreamRequestHeaders(
      {
        host: 'gw.example',
        connection: 'keep-alive, x-drop-me',
        'x-drop-me': '1',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        expect: '100-continue',
        'x-carve-tenant': 'ws-spoofed',
        'x-carve-anything': 'x',
        'x-forwarded-for': '6.6.6.6',
        'x-request-id': 'client-id',
        accept: 'application/json',
        cookie: 'a=1',
      },
      { identity: { workspaceId: 'ws-1', userId: 'u-1', role: 'viewer' }, requestId: 'rid-9', clientIp: '10.0.0.1', protocol: 'http', host: 'gw.example', trustProxy: false },
    );
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < out.length; i += 2) pairs.push([out[i], out[i + 1]]);
    expect(Object.fromEntries(pairs)).toEqual({
      accept: 'application/json',
      cookie: 'a=1',
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.example',
      'x-request-id': 'rid-9',
      'x-carve-tenant': 'ws-1',
      'x-carve-user': 'u-1',
      'x-carve-role': 'viewer',
    });
    expect(pairs).toHaveLength(9);

    const trusted = upstreamRequestHeaders(
      { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example' },
      { requestId: 'r', clientIp: '10.0.0.1', protocol: 'http', host: 'gw.internal', trustProxy: true },
    );
    expect(trusted).toEqual(['x-forwarded-for', '6.6.6.6, 10.0.0.1', 'x-forwarded-proto', 'https', 'x-forwarded-host', 'public.example', 'x-request-id', 'r']);
  });
});
