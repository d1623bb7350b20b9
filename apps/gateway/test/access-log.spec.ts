/**
 * The access log: one line per proxied request naming the route, target and side that answered
 * (and the fallback when there was one), with the request id the client got. It is written by
 * the access log's own writer (src/telemetry/access-log.ts), which takes fixed fields and not
 * the logger's redaction, so the test also proves a line carries no request header (a bearer
 * token must never reach the log).
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { http, type Stack, startStack, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

describe('gateway access log', () => {
  let stack: Stack;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    // The same redaction as the platform's createLogger: the access log must not depend on it.
    const logger = pino({ level: 'info', redact: { paths: ['req.headers.authorization', '*.token'], censor: '[redacted]' } }, sink);
    stack = await startStack(
      'gateway_access_log',
      `
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    fallback: true
`,
      { serviceTimeoutMs: 2000, gateway: { logger, accessLog: true } },
    );
  });

  afterAll(() => stack?.close());

  const requestLines = () => lines.filter((l) => l.msg === 'request');

  it('names the route, target and side of each request, and the fallback when the service failed', async () => {
    const bearer = token('ws-1');
    const served = await http(`${stack.gw.url}/api/v1/workspaces/ws-1/notes/n-1`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(served.status).toBe(200);
    stack.service.behaviour = () => ({ status: 503, body: { down: true } });
    const fellBack = await http(`${stack.gw.url}/api/v1/workspaces/ws-1/notes/n-2`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(fellBack.status).toBe(200);
    expect(fellBack.json.who).toBe('monolith');
    stack.service.behaviour = TestUpstream.echo;
    const other = await http(`${stack.gw.url}/api/v1/workspaces/ws-1/features`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(other.status).toBe(200);

    await waitFor('three access-log lines', () => requestLines().length >= 3);
    const [first, second, third] = requestLines();
    expect(first).toMatchObject({ method: 'GET', url: '/api/v1/workspaces/ws-1/notes/n-1', status: 200, route: 'notes-read', target: 'insights', side: 'service', tenant: 'ws-1' });
    expect(first.reqId).toBe(served.headers['x-request-id']);
    expect(typeof first.ms).toBe('number');
    expect(second).toMatchObject({ route: 'notes-read', target: 'monolith', side: 'monolith', status: 200 });
    expect(second.fallback).toBeTruthy();
    expect(third).toMatchObject({ url: '/api/v1/workspaces/ws-1/features', side: 'monolith', status: 200 });
    // No header, and so no token, is in any line.
    for (const l of requestLines()) {
      expect(JSON.stringify(l)).not.toContain(bearer);
      expect(l).not.toHaveProperty('headers');
    }
  });
});
