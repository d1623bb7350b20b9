/**
 * One trace across the carve, on real processes (test/support/drill-stack.ts, the Postgres
 * transport): the gateway, the insights service (its writes cut over, its outbox shipped by a
 * relay of its own, `carve relay --schema insights`) and the monolith with reverse sync, every
 * one exporting spans by OTLP/HTTP to a receiver in this process.
 *
 * A client's write with its own `traceparent` goes through the gateway to the service, whose
 * event the relay ships and the monolith's reverse sync applies: one trace, the client's, with
 * spans from four processes in parent order: the gateway's server span, its client span to the
 * upstream it chose, the service's server span, the outbox write, the relay's send, the
 * monolith's `process`. The log lines of the request carry the trace id.
 */
import { randomUUID } from 'node:crypto';
import { freePorts, OTLP_KIND, type OtlpReceiver, type Proc, type ReceivedSpan, startOtlpReceiver, startProcess, waitFor, waitHealthy } from '@carve/shared-testing';
import { type DrillStack, startDrillStack } from '../support/drill-stack';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

describe('tracing across the carve (postgres transport)', () => {
  let receiver: OtlpReceiver;
  let s: DrillStack;
  let relay: Proc | undefined;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    // Every process exports to the receiver, in batches flushed every 200 ms, sampling all.
    const otel: NodeJS.ProcessEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_TRACES_SAMPLER: 'parentbased_always_on', OTEL_SDK_DISABLED: '', OTEL_TRACES_EXPORTER: '', OTEL_SERVICE_NAME: '', OTEL_RESOURCE_ATTRIBUTES: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '', LOG_LEVEL: 'info' };
    s = await startDrillStack({ name: 'insights-tracing', transport: 'postgres', workspaces: 1, notes: 20, env: otel, serviceEnv: { CARVE_OUTBOX_RELAY: 'false' }, gatewayEnv: { CARVE_SERVED_BY_HEADER: 'true' } });
    const port = await freePorts(1);
    relay = startProcess('carve-relay', 'tools/carve/src/main.ts', { ...s.serviceEnv, PORT: String(port) }, ['relay', '--schema', 'insights', '--poll', '200ms']);
    await waitHealthy(relay, `http://127.0.0.1:${port}/readyz`);
  }, 150_000);

  afterAll(async () => {
    await relay?.stop();
    await s?.stop();
    await receiver?.close();
  }, 90_000);

  it('follows one write from the gateway through the service, its outbox and the relay to the monolith applying it', async () => {
    const [w] = s.workspaces;
    await s.ok('backfill', 'insights');
    await s.ok('verify', 'insights');
    await s.ok('stage', 'insights', 'shadow', '--reason', 'tracing: compare');
    await s.ok('stage', 'insights', 'canary', '--percent', '100', '--reason', 'tracing: canary');
    await s.ok('stage', 'insights', 'reads', '--reason', 'tracing: reads');
    expect((await s.ok('cutover', 'insights', '--writes', '--reason', 'tracing: the service owns notes')).stdout).toContain('writes cut over');

    const res = await fetch(`${s.gatewayUrl}/api/v1/workspaces/${w.id}/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`, 'x-request-id': randomUUID() },
      body: JSON.stringify({ title: 'traced across the carve', content: 'one trace, four processes' }),
      signal: AbortSignal.timeout(10_000),
    });
    expect([res.status, res.headers.get('x-carve-served-by')]).toEqual([201, 'insights']);
    const note = (await res.json()) as { id: string };
    // The monolith holds it: its reverse sync applied the service's event.
    await waitFor('the monolith to hold the note', async () => (await s.c.query('SELECT 1 FROM legacy.notes WHERE id = $1', [note.id])).rowCount === 1, 30_000, 200);

    const trace = () => receiver.spans.filter((x) => x.traceId === TRACE_ID);
    const one = (what: string, pick: (x: ReceivedSpan) => boolean): ReceivedSpan => {
      const found = trace().filter(pick);
      if (found.length !== 1) throw new Error(`${found.length} spans for ${what}; the trace has ${JSON.stringify(trace().map((x) => [x.service, x.name, x.kind]))}`);
      return found[0];
    };
    // Each process exports in its own batches: wait until the spans of all four are in.
    const expected: Array<[string, (x: ReceivedSpan) => boolean]> = [
      ['gateway server', (x) => x.service === 'gateway' && x.kind === OTLP_KIND.server],
      ['gateway client', (x) => x.service === 'gateway' && x.kind === OTLP_KIND.client],
      ['service server', (x) => x.service === 'insights-service' && x.kind === OTLP_KIND.server],
      ['outbox write', (x) => x.service === 'insights-service' && x.kind === OTLP_KIND.producer],
      ['relay send', (x) => x.service === 'carve-relay' && x.kind === OTLP_KIND.producer],
      ['monolith process', (x) => x.service === 'legacy-monolith' && x.kind === OTLP_KIND.consumer],
    ];
    await waitFor('every process to export its spans of the trace', () => expected.every(([, pick]) => trace().some(pick)), 15_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}; missing: ${expected.filter(([, pick]) => !trace().some(pick)).map(([what]) => what).join(', ')}`);
    });

    const gatewayServer = one('the gateway server span', (x) => x.service === 'gateway' && x.kind === OTLP_KIND.server);
    const gatewayClient = one('the gateway client span', (x) => x.service === 'gateway' && x.kind === OTLP_KIND.client);
    const serviceServer = one('the service server span', (x) => x.service === 'insights-service' && x.kind === OTLP_KIND.server);
    const create = one('the outbox write', (x) => x.service === 'insights-service' && x.kind === OTLP_KIND.producer && x.name.startsWith('create '));
    const send = one('the relay send', (x) => x.service === 'carve-relay' && x.kind === OTLP_KIND.producer && x.name.startsWith('send '));
    const apply = one("the monolith's reverse sync", (x) => x.service === 'legacy-monolith' && x.kind === OTLP_KIND.consumer);

    // Parent order: client → gateway → upstream it chose → service → outbox → relay → monolith.
    expect(gatewayServer).toMatchObject({ parentSpanId: CLIENT_SPAN, name: 'POST notes-write', attributes: expect.objectContaining({ 'carve.route': 'notes-write', 'http.response.status_code': 201 }) });
    expect(gatewayClient).toMatchObject({ parentSpanId: gatewayServer.spanId, name: 'POST insights', attributes: expect.objectContaining({ 'carve.upstream': 'insights', 'carve.side': 'service', 'http.response.status_code': 201 }) });
    expect(serviceServer).toMatchObject({ parentSpanId: gatewayClient.spanId, name: 'POST /api/v1/workspaces/:workspaceId/notes' });
    expect(create).toMatchObject({ parentSpanId: serviceServer.spanId, attributes: expect.objectContaining({ 'carve.outbox.schema': 'insights' }) });
    const topic = create.name.slice('create '.length);
    expect(send).toMatchObject({ parentSpanId: create.spanId, name: `send ${topic}`, attributes: expect.objectContaining({ 'messaging.message.id': create.attributes['messaging.message.id'] }) });
    expect(apply).toMatchObject({ parentSpanId: send.spanId, name: `process ${topic}`, attributes: expect.objectContaining({ 'messaging.message.id': create.attributes['messaging.message.id'], 'carve.outcome': 'applied' }) });
    expect(new Set(trace().map((x) => x.service))).toEqual(new Set(['gateway', 'insights-service', 'carve-relay', 'legacy-monolith']));
    expect(trace().filter((x) => x.status === 2)).toEqual([]);

    // The service's log line for the request carries the trace id and its server span.
    const service = s.procs.find((p) => p.name === 'insights-service')!;
    const lines = service.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'request' && l.status === 201)).toMatchObject({ trace_id: TRACE_ID, span_id: serviceServer.spanId });
  }, 180_000);

  it('follows a read the gateway sends to the monolith (its default route) into the monolith', async () => {
    const [w] = s.workspaces;
    const READ_TRACE = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const res = await fetch(`${s.gatewayUrl}/api/v1/workspaces/${w.id}/features`, {
      headers: { authorization: `Bearer ${w.token}`, traceparent: `00-${READ_TRACE}-${CLIENT_SPAN}-01` },
      signal: AbortSignal.timeout(10_000),
    });
    expect([res.status, res.headers.get('x-carve-served-by')]).toEqual([200, 'monolith']);
    // Each process exports on its own schedule: wait for the three spans, whichever comes last.
    const spans = await waitFor('the gateway and the monolith to export their spans', () => {
      const mine = receiver.spans.filter((x) => x.traceId === READ_TRACE);
      const has = (service: string, kind: number) => mine.some((x) => x.service === service && x.kind === kind);
      return has('legacy-monolith', OTLP_KIND.server) && has('gateway', OTLP_KIND.server) && has('gateway', OTLP_KIND.client) ? mine : undefined;
    }, 15_000, 200);
    const gatewayServer = spans.find((x) => x.service === 'gateway' && x.kind === OTLP_KIND.server)!;
    const gatewayClient = spans.find((x) => x.service === 'gateway' && x.kind === OTLP_KIND.client)!;
    const monolith = spans.find((x) => x.service === 'legacy-monolith' && x.kind === OTLP_KIND.server)!;
    expect(gatewayServer).toMatchObject({ parentSpanId: CLIENT_SPAN, name: 'GET _default' });
    expect(gatewayClient).toMatchObject({ parentSpanId: gatewayServer.spanId, name: 'GET monolith', attributes: expect.objectContaining({ 'carve.side': 'monolith' }) });
    expect(monolith).toMatchObject({ parentSpanId: gatewayClient.spanId, name: 'GET /api/v1/workspaces/:workspaceId/features', attributes: expect.objectContaining({ 'http.response.status_code': 200 }) });
  }, 60_000);
});
