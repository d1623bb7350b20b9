/**
 * The gateway's spans, its real proxy against real upstreams, exported by OTLP/HTTP to a receiver
 * in this process (tracing is per process: the gateway with tracing off runs in this process, the
 * one with tracing on as a process of its own, apps/gateway/src/main.ts):
 *
 * - off, a client's `traceparent` and `tracestate` reach the upstream untouched, and nothing is
 *   exported;
 * - on, the client's trace is honoured: the server span is its span's child, each exchange with
 *   an upstream a client span under it whose context replaces the client's on the upstream
 *   request (a fallback is a second exchange), the access log line carries the trace id; a
 *   client's decision not to sample is followed (nothing recorded, the unsampled context sent
 *   upstream); a request without one starts a trace of its own, and when the sampler leaves
 *   that trace out, its unsampled context goes upstream and nothing is recorded.
 */
import { DEV_JWT_SECRET } from '@carve/shared-http';
import { freePorts, OTLP_KIND, type OtlpReceiver, type Proc, startOtlpReceiver, startProcess, waitHealthy } from '@carve/shared-testing';
import { ADMIN_TOKEN, http, type Stack, startStack, token, waitFor } from './support/harness';
import { TestUpstream } from './support/upstream';

const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const CLIENT_SPAN = 'eee19b7ec3c1b174';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

describe('gateway tracing', () => {
  let stack: Stack;
  let receiver: OtlpReceiver;
  let traced: { proc: Proc; url: string } | undefined;
  let unsampled: { proc: Proc; url: string } | undefined;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack(
      'gateway_tracing',
      `
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: service
    fallback: true
`,
      { serviceTimeoutMs: 2000 },
    );
  });

  afterAll(async () => {
    await traced?.proc.stop();
    await unsampled?.proc.stop();
    await stack?.close();
    await receiver?.close();
  });

  const get = (url: string, headers: Record<string, string> = {}) => http(url, { headers: { authorization: `Bearer ${token('ws-1')}`, ...headers } });

  it("with tracing off (no endpoint configured): the client's trace context reaches the upstream untouched, nothing is exported", async () => {
    const res = await get(`${stack.gw.url}/api/v1/workspaces/ws-1/notes/n-1`, { traceparent: TRACEPARENT, tracestate: 'vendor=opaque' });
    expect(res.status).toBe(200);
    const seen = stack.service.seen.at(-1)!;
    expect([seen.headers.traceparent, seen.headers.tracestate]).toEqual([TRACEPARENT, 'vendor=opaque']);
    await get(`${stack.gw.url}/api/v1/workspaces/ws-1/notes/n-2`);
    expect(stack.service.seen.at(-1)!.headers.traceparent).toBeUndefined();
    expect(receiver.requests).toBe(0);
  });

  /** The gateway as a process on the same routes, tracing on, exporting every 100 ms. */
  async function startTraced(extra: NodeJS.ProcessEnv = {}): Promise<{ proc: Proc; url: string }> {
    const port = await freePorts(2);
    const env: NodeJS.ProcessEnv = {
      PORT: String(port),
      CARVE_ADMIN_PORT: String(port + 1),
      CARVE_ADMIN_TOKEN: ADMIN_TOKEN,
      CARVE_ROUTES_FILE: stack.file,
      DATABASE_URL: stack.db.url,
      CARVE_JWT_SECRET: DEV_JWT_SECRET,
      CARVE_ACCESS_LOG: 'true',
      LOG_LEVEL: 'info',
      PLATFORM: 'local',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...extra,
    };
    for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_') && !(k in env)) env[k] = '';
    const proc = startProcess('gateway', 'apps/gateway/src/main.ts', env);
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(proc, `${url}/readyz`).catch(async (err) => {
      await proc.stop();
      throw err;
    });
    return { proc, url };
  }

  it("honours a client's traceparent: server span, a client span per upstream exchange, their context upstream, the trace id in the access log", async () => {
    traced = await startTraced();
    stack.service.reset();
    stack.monolith.reset();
    // The service fails once: the gateway falls back to the monolith, a second exchange.
    stack.service.behaviour = () => ({ status: 503, body: { down: true } });
    const res = await get(`${traced.url}/api/v1/workspaces/ws-1/notes/n-3`, { traceparent: TRACEPARENT, tracestate: 'vendor=opaque' });
    expect([res.status, res.json.who]).toEqual([200, 'monolith']);
    const spans = await waitFor('the server span and two client spans', () => {
      const mine = receiver.spans.filter((s) => s.traceId === TRACE_ID);
      return mine.length >= 3 ? mine : undefined;
    }, 10_000);

    const server = spans.find((s) => s.kind === OTLP_KIND.server)!;
    expect(server).toMatchObject({
      service: 'gateway',
      name: 'GET notes-read',
      parentSpanId: CLIENT_SPAN,
      attributes: expect.objectContaining({ 'http.request.method': 'GET', 'url.path': '/api/v1/workspaces/ws-1/notes/n-3', 'carve.route': 'notes-read', 'http.response.status_code': 200 }),
    });
    const exchanges = spans.filter((s) => s.kind === OTLP_KIND.client);
    expect(exchanges.map((s) => [s.name, s.parentSpanId, s.attributes['carve.side'], s.attributes['http.response.status_code'], s.status])).toEqual(
      expect.arrayContaining([
        ['GET insights', server.spanId, 'service', 503, 2],
        ['GET monolith', server.spanId, 'monolith', 200, 0],
      ]),
    );
    expect(exchanges).toHaveLength(2);
    // Each upstream got its exchange's context, the client's tracestate kept.
    const byName = (n: string) => exchanges.find((s) => s.name === n)!.spanId;
    expect([stack.service.seen[0].headers.traceparent, stack.service.seen[0].headers.tracestate]).toEqual([`00-${TRACE_ID}-${byName('GET insights')}-01`, 'vendor=opaque']);
    expect([stack.monolith.seen[0].headers.traceparent, stack.monolith.seen[0].headers.tracestate]).toEqual([`00-${TRACE_ID}-${byName('GET monolith')}-01`, 'vendor=opaque']);

    const lines = () => traced!.proc.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = await waitFor('the access log line', () => lines().find((l) => l.msg === 'request' && l.url === '/api/v1/workspaces/ws-1/notes/n-3'));
    expect(line).toMatchObject({ trace_id: TRACE_ID, span_id: server.spanId });
    stack.service.reset(TestUpstream.echo);
  });

  it("follows a client's decision not to sample: nothing recorded, the unsampled context sent upstream", async () => {
    stack.service.reset();
    const UNSAMPLED = 'a3ce929d0e0e47364bf92f3577b34da6';
    const res = await get(`${traced!.url}/api/v1/workspaces/ws-1/notes/n-5`, { traceparent: `00-${UNSAMPLED}-${CLIENT_SPAN}-00` });
    expect(res.status).toBe(200);
    const upstream = String(stack.service.seen[0].headers.traceparent);
    expect(upstream).toMatch(new RegExp(`^00-${UNSAMPLED}-[0-9a-f]{16}-00$`));
    expect(upstream).not.toContain(CLIENT_SPAN);
    // A sampled request after it: once its spans are in, the exporter has sent everything before.
    await get(`${traced!.url}/api/v1/workspaces/ws-1/notes/n-6`, { traceparent: `00-${'1'.repeat(32)}-${CLIENT_SPAN}-01` });
    await waitFor('the sampled request\'s spans', () => receiver.spans.some((s) => s.traceId === '1'.repeat(32)), 10_000);
    expect(receiver.spans.filter((s) => s.traceId === UNSAMPLED)).toEqual([]);
  });

  it('starts a trace of its own for a request without a traceparent', async () => {
    stack.service.reset();
    const res = await get(`${traced!.url}/api/v1/workspaces/ws-1/notes/n-4`);
    expect(res.status).toBe(200);
    const server = await waitFor('its server span', () => receiver.spans.find((s) => s.kind === OTLP_KIND.server && s.attributes['url.path'] === '/api/v1/workspaces/ws-1/notes/n-4'), 10_000);
    expect(server).toMatchObject({ parentSpanId: '', name: 'GET notes-read' });
    expect(server.traceId).not.toBe(TRACE_ID);
    const exchange = receiver.spans.find((s) => s.kind === OTLP_KIND.client && s.parentSpanId === server.spanId)!;
    expect(stack.service.seen[0].headers.traceparent).toBe(`00-${server.traceId}-${exchange.spanId}-01`);
  });

  it('sends the unsampled context of its own trace upstream when the sampler leaves a request without one out', async () => {
    // Roots never sampled; a client's sampled trace is still followed.
    unsampled = await startTraced({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    stack.service.reset();
    const res = await get(`${unsampled.url}/api/v1/workspaces/ws-1/notes/n-7`);
    expect(res.status).toBe(200);
    const upstream = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(String(stack.service.seen[0].headers.traceparent));
    expect(upstream).not.toBeNull();
    const [, traceId, spanId] = upstream!;
    expect([traceId, spanId]).toEqual([expect.not.stringMatching(/^0+$/), expect.not.stringMatching(/^0+$/)]);
    expect(stack.service.seen[0].headers.tracestate).toBeUndefined();
    const lines = () => unsampled!.proc.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = await waitFor('the access log line', () => lines().find((l) => l.msg === 'request' && l.url === '/api/v1/workspaces/ws-1/notes/n-7'));
    expect(line).toMatchObject({ trace_id: traceId, span_id: spanId });
    // A client's sampled trace after it: once its spans are in, the exporter has sent everything before.
    const SAMPLED = '2'.repeat(32);
    await get(`${unsampled.url}/api/v1/workspaces/ws-1/notes/n-8`, { traceparent: `00-${SAMPLED}-${CLIENT_SPAN}-01` });
    await waitFor("the client's sampled trace", () => receiver.spans.some((s) => s.traceId === SAMPLED && s.kind === OTLP_KIND.server), 10_000);
    expect(receiver.spans.filter((s) => s.traceId === traceId)).toEqual([]);
  });
});
