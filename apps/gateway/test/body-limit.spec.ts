/**
 * The body-limit contract through the real gateway, in front of upstreams that accept 256 KiB
 * (as the apps do by default): a request's limit never exceeds what its upstream accepts, and
 * a body over it gets 413 problem+json from the gateway (never the 502 of an upstream that
 * closed early), declared or chunked, without the gateway reading the rest of it.
 */
import nodeHttp from 'node:http';
import { Readable } from 'node:stream';
import { http, type Stack, startStack, token } from './support/harness';
import { TestUpstream } from './support/upstream';

const KIB = 1024;
const APP_LIMIT = 256 * KIB;

/**
 * Sends `total` bytes chunked (64 KiB writes, with backpressure) and stops writing once the
 * answer arrives: how much was written by then, and the answer.
 */
function chunkedPost(url: string, headers: Record<string, string>, total: number): Promise<{ status: number; body: any; written: number; headers: nodeHttp.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let written = 0;
    let answered = false;
    const req = nodeHttp.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' }, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer after ${written} bytes`));
    }, 20_000);
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        const text = Buffer.concat(parts).toString();
        resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, written, headers: res.headers });
      });
    });
    // Writing after the gateway closed its side may fail: the answer is what counts.
    req.on('error', (err) => {
      if (!answered) {
        clearTimeout(timer);
        reject(err);
      }
    });
    const chunk = Buffer.alloc(64 * KIB, 120);
    const pump = () => {
      while (!answered && written < total) {
        written += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('gateway body limit', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_body_limit',
      `
  - id: notes
    match: { path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    fallback: false
  - id: small
    match: { path: /api/v1/workspaces/:workspaceId/small }
    target: insights
    mode: service
    bodyLimitBytes: 8192
`,
      // The gateway-wide ceiling is far above the upstreams': theirs must win.
      { gateway: { bodyLimitBytes: 10 * 1024 * KIB }, upstream: (name) => TestUpstream.start(name, { bodyLimit: APP_LIMIT }) },
    );
  });

  afterAll(() => stack?.close());

  const auth = (tid: string) => ({ authorization: `Bearer ${token(tid)}`, 'content-type': 'application/json' });
  const notes = (tid: string) => `${stack.gw.url}/api/v1/workspaces/${tid}/notes`;

  it('passes a body the upstream accepts', async () => {
    stack.service.reset();
    const body = Buffer.alloc(APP_LIMIT - 1024, 97);
    const r = await http(notes('ws-1'), { method: 'POST', headers: auth('ws-1'), body });
    expect(r.status).toBe(200);
    expect(stack.service.seen.at(-1)?.bodyBytes).toBe(body.length);
  });

  it.each([APP_LIMIT + 1, 1024 * KIB, 9 * 1024 * KIB])('answers 413 itself for a declared %i bytes, sending nothing upstream', async (n) => {
    stack.service.reset();
    const r = await http(notes('ws-1'), { method: 'POST', headers: auth('ws-1'), body: Buffer.alloc(n, 97) });
    expect([r.status, r.json?.code, r.headers['content-type']]).toEqual([413, 'payload_too_large', 'application/problem+json; charset=utf-8']);
    expect(r.headers.connection).toBe('close');
    expect(stack.service.count()).toBe(0);
  });

  it('answers 413 for chunked bodies over the upstream limit (300 KiB, 1 MiB, 11 MiB) before the rest is read', async () => {
    for (const total of [300 * KIB, 1024 * KIB, 11 * 1024 * KIB]) {
      stack.service.reset();
      const r = await chunkedPost(notes('ws-2'), auth('ws-2'), total);
      expect([total, r.status, r.body?.code]).toEqual([total, 413, 'payload_too_large']);
      expect(r.headers.connection).toBe('close');
      // The upstream never got a whole request.
      expect(stack.service.count()).toBe(0);
      if (total === 11 * 1024 * KIB) expect(r.written).toBeLessThan(total);
    }
  });

  it('applies a route limit below the upstream one, declared or chunked', async () => {
    const url = `${stack.gw.url}/api/v1/workspaces/ws-3/small`;
    stack.service.reset();
    const ok = await http(url, { method: 'POST', headers: auth('ws-3'), body: Buffer.alloc(8192, 97) });
    expect(ok.status).toBe(200);
    const declared = await http(url, { method: 'POST', headers: auth('ws-3'), body: Buffer.alloc(8193, 97) });
    expect([declared.status, declared.json?.code]).toEqual([413, 'payload_too_large']);
    async function* chunks() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 98);
    }
    const streamed = await http(url, { method: 'POST', headers: auth('ws-3'), body: Readable.from(chunks()) });
    expect([streamed.status, streamed.json?.code]).toEqual([413, 'payload_too_large']);
    expect(stack.service.count()).toBe(1);
  });

  it('uses the default upstream limit for requests no route matches', async () => {
    stack.monolith.reset();
    const r = await http(`${stack.gw.url}/api/v1/workspaces/ws-4/elsewhere`, { method: 'POST', headers: auth('ws-4'), body: Buffer.alloc(APP_LIMIT + 1, 97) });
    expect([r.status, r.json?.code]).toEqual([413, 'payload_too_large']);
    expect(stack.monolith.count()).toBe(0);
  });
});
