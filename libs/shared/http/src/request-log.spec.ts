/**
 * The request log of every deployable (PlatformLogController): one line per request, none for
 * the probes, only the failed ones when the access log is off.
 */
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { platformPlugin, platformServerOptions, PlatformLogController } from './platform.plugin';

async function run(accessLog: boolean): Promise<Array<Record<string, unknown>>> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const app = Fastify(platformServerOptions({ loggerInstance: pino({ level: 'info' }, sink), logController: new PlatformLogController(accessLog) }));
  await app.register(platformPlugin, { service: 'test', defaultMetrics: false });
  app.get('/api/things', async () => ({ ok: true }));
  app.get('/api/boom', async () => {
    throw new Error('boom');
  });
  for (const url of ['/healthz', '/readyz', '/metrics', '/api/things', '/api/boom', '/healthz']) await app.inject({ url, headers: { 'x-request-id': `r-${url.slice(1).replace('/', '-')}` } });
  await app.close();
  return lines;
}

describe('the platform request log', () => {
  it('writes one line per request, none for the probes and the scrape (a failure also has its error line)', async () => {
    const lines = await run(true);
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.map((l) => [l.msg, l.url, l.status, l.reqId])).toEqual([
      ['request', '/api/things', 200, 'r-api-things'],
      ['request', '/api/boom', 500, 'r-api-boom'],
    ]);
    expect(requests.every((l) => typeof l.ms === 'number')).toBe(true);
    expect(lines.some((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toBe(false);
    expect(lines.filter((l) => l.msg === 'request failed').map((l) => l.reqId)).toEqual(['r-api-boom']);
    expect(lines.filter((l) => l.reqId === 'r-healthz' || l.reqId === 'r-readyz' || l.reqId === 'r-metrics')).toEqual([]);
  });

  it('with the access log off, writes only what failed', async () => {
    const lines = await run(false);
    expect(lines.filter((l) => l.msg === 'request')).toEqual([]);
    expect(lines.some((l) => l.msg === 'request failed' && l.reqId === 'r-api-boom')).toBe(true);
  });
});
