/**
 * The access log's writer (src/telemetry/access-log.ts), against a real pino logger: a line is
 * the logger's own format (what pino would write for the same fields), strings a client
 * controls are escaped, and lines are written in batches of whole lines of at most 4 KiB: when
 * full, after `flushMs`, on close.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { type AccessLine, AccessLog } from '../src/telemetry/access-log';
import { waitFor } from './support/harness';

/** A pino logger like createLogger's (service binding, ISO time), writing into `writes`. */
function loggerInto(writes: string[], level = 'info') {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      writes.push(chunk.toString());
      done();
    },
  });
  return pino({ level, base: { service: 'gateway' }, timestamp: pino.stdTimeFunctions.isoTime }, sink);
}

const line = (over: Partial<AccessLine> = {}): AccessLine => ({
  reqId: 'req-1',
  method: 'GET',
  url: '/api/v1/workspaces/ws-1/notes/n-1',
  status: 200,
  ms: 1.25,
  route: 'notes-read',
  target: 'insights',
  side: 'service',
  reason: 'canary',
  fallback: null,
  shadow: false,
  tenant: 'ws-1',
  traceId: undefined,
  spanId: undefined,
  ...over,
});

const parsed = (writes: string[]) =>
  writes
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('access log writer', () => {
  it('writes what pino would write for the same fields, bindings and time format included', async () => {
    const writes: string[] = [];
    const logger = loggerInto(writes).child({ worker: 2 });
    const log = AccessLog.of(logger)!;
    const fields = line({ fallback: 'service_5xx', shadow: true, traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    log.write(fields);
    log.flush();
    logger.info(
      { reqId: 'req-1', method: 'GET', url: fields.url, status: 200, ms: 1.25, route: 'notes-read', target: 'insights', side: 'service', reason: 'canary', fallback: 'service_5xx', shadow: true, tenant: 'ws-1', trace_id: fields.traceId, span_id: fields.spanId },
      'request',
    );
    const [ours, pinos] = parsed(writes);
    expect(typeof ours.time).toBe('string');
    expect(new Date(ours.time as string).toISOString()).toBe(ours.time);
    expect({ ...ours, time: 0 }).toEqual({ ...pinos, time: 0 });
    expect(ours).toMatchObject({ level: 30, service: 'gateway', worker: 2, msg: 'request' });
  });

  it('escapes what a client controls, and writes a rejected request without route, target or side', () => {
    const writes: string[] = [];
    const log = AccessLog.of(loggerInto(writes))!;
    const url = '/api/"x"\\y\n\u0000é?q=</script>';
    log.write(line({ url, reqId: 'r"1', tenant: 'w\ns', route: null, target: null, side: null, reason: 'rejected' }));
    log.write(line({ tenant: undefined }));
    log.close();
    const [first, second] = parsed(writes);
    expect(first).toMatchObject({ url, reqId: 'r"1', tenant: 'w\ns', route: null, target: null, side: null, reason: 'rejected' });
    expect(first).not.toHaveProperty('fallback');
    expect(first).not.toHaveProperty('shadow');
    expect(second).not.toHaveProperty('tenant');
  });

  it('writes in batches of whole lines, each at most 4 KiB (a pipe write that never interleaves)', () => {
    const writes: string[] = [];
    const log = AccessLog.of(loggerInto(writes), { flushMs: 60_000 })!;
    const n = 200;
    // Some with non-ASCII paths: the limit is in bytes, not characters.
    for (let i = 0; i < n; i++) log.write(line({ reqId: `req-${i}`, url: i % 3 === 0 ? `/api/v1/workspaces/ws-1/notes/${'é'.repeat(120)}` : `/n/${i}` }));
    const before = writes.length;
    log.close();
    expect(before).toBeGreaterThan(5); // batches went out as they filled, before any flush
    for (const w of writes) {
      expect(Buffer.byteLength(w)).toBeLessThanOrEqual(4096);
      expect(w.endsWith('\n')).toBe(true);
    }
    // Full batches: the next line would not have fitted.
    for (let i = 0; i < writes.length - 1; i++) {
      const next = writes[i + 1].slice(0, writes[i + 1].indexOf('\n') + 1);
      expect(Buffer.byteLength(writes[i]) + Buffer.byteLength(next)).toBeGreaterThan(4096);
    }
    expect(parsed(writes).map((l) => l.reqId)).toEqual(Array.from({ length: n }, (_, i) => `req-${i}`));
  });

  it('writes a lone line after flushMs, and what is left when it closes; nothing after', async () => {
    const writes: string[] = [];
    const log = AccessLog.of(loggerInto(writes), { flushMs: 20 })!;
    log.write(line({ reqId: 'soon' }));
    expect(writes).toEqual([]);
    await waitFor('the line written by the timer', () => writes.length === 1);
    log.write(line({ reqId: 'at-close' }));
    log.close();
    log.write(line({ reqId: 'after-close' }));
    log.flush();
    expect(parsed(writes).map((l) => l.reqId)).toEqual(['soon', 'at-close']);
  });

  it('is off when the logger does not write info lines', () => {
    expect(AccessLog.of(loggerInto([], 'warn'))).toBeUndefined();
  });
});
