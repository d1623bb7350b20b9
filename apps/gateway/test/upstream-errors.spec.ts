/**
 * How an upstream failure reaches the client: 503 with Retry-After when the request reached no
 * upstream (the connection was refused or could not be made: safe to send again), 502 when the
 * connection failed after the request went out (the upstream may have acted on it), 504 on a
 * timeout. Against real sockets: a port nobody listens on, and an upstream that drops the
 * connection.
 */
import net from 'node:net';
import { freePorts } from '@carve/shared-testing';
import { Agent, request } from 'undici';
import { neverSent, upstreamProblem } from '../src/proxy/errors';

async function failureOf(url: string): Promise<unknown> {
  const dispatcher = new Agent({ connect: { timeout: 5000 } });
  try {
    await request(url, { method: 'POST', body: '{}', dispatcher });
  } catch (err) {
    return err;
  } finally {
    await dispatcher.close();
  }
  throw new Error(`${url} answered`);
}

describe('upstream failures', () => {
  it('a refused connection sent nothing: 503 upstream_unavailable with Retry-After', async () => {
    const [port] = [await freePorts(1)];
    const err = await failureOf(`http://127.0.0.1:${port}/`);
    expect(neverSent(err)).toBe(true);
    const p = upstreamProblem('connect', 'insights', 1000, neverSent(err));
    expect([p.status, p.code, p.retryAfterSeconds]).toEqual([503, 'upstream_unavailable', 1]);
  });

  it('a connection dropped after the request went out may have acted: 502, no Retry-After', async () => {
    const server = net.createServer((s) => s.once('data', () => s.destroy()));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const err = await failureOf(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
      expect(neverSent(err)).toBe(false);
      const p = upstreamProblem('connect', 'insights', 1000, neverSent(err));
      expect([p.status, p.code, p.retryAfterSeconds]).toEqual([502, 'upstream_unavailable', undefined]);
    } finally {
      server.close();
    }
  });

  it('an open breaker sends nothing either: 503 with Retry-After; a timeout is 504', () => {
    const open = upstreamProblem('breaker-open', 'insights');
    expect([open.status, open.retryAfterSeconds]).toEqual([503, 1]);
    expect(upstreamProblem('timeout', 'insights', 300).status).toBe(504);
  });
});
