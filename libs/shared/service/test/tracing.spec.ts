/**
 * Tracing in one carved service run as its own process (test/traced-service.main.ts, through
 * `runServiceProcess` like every service), on real Postgres and real HTTP, its spans collected
 * by an OTLP/HTTP receiver in this process.
 *
 * - With tracing off (here `OTEL_SDK_DISABLED=true` beside an endpoint that would accept spans)
 *   nothing is exported, the outbox row carries no trace context and no log line a trace id.
 * - With an endpoint set, a client's `traceparent` is honoured: the service's server span is the
 *   client's span's child, the outbox write (`create`) and the relay's `send` follow in that
 *   trace, the row consumers read carries the relay's context, and the log lines the trace id.
 */
import { randomUUID } from 'node:crypto';
import { DEV_JWT_SECRET, signToken, tracingConfigured } from '@carve/shared-http';
import { createTestDatabase, freePorts, OTLP_KIND, type OtlpReceiver, type Proc, startOtlpReceiver, startProcess, type TestDatabase, waitFor, waitHealthy } from '@carve/shared-testing';
import { Client } from 'pg';
import { TRACED_SCHEMA } from './traced-service.main';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TOPIC = `${TRACED_SCHEMA}.things.v1`;

let db: TestDatabase;
let c: Client;
let receiver: OtlpReceiver;

beforeAll(async () => {
  db = await createTestDatabase('shared_service_tracing');
  c = new Client({ connectionString: db.url });
  await c.connect();
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await c?.end();
  await db?.drop();
});

/** The service as a process with `otel` added to its environment (the test's own OTEL_* removed). */
async function startTraced(otel: NodeJS.ProcessEnv): Promise<{ proc: Proc; url: string }> {
  const port = await freePorts(1);
  const env: NodeJS.ProcessEnv = { DATABASE_URL: db.url, PORT: String(port), CARVE_TRANSPORT: 'postgres', CARVE_FORWARD_SYNC: 'false', LOG_LEVEL: 'info', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET, ...otel };
  for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_') && !(k in otel)) env[k] = '';
  const proc = startProcess('traced-service', 'libs/shared/service/test/traced-service.main.ts', env);
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(proc, `${url}/readyz`).catch(async (err) => {
    await proc.stop();
    throw err;
  });
  return { proc, url };
}

/** POSTs a thing with the client's traceparent; resolves with its id once the relay marked its row, and the row. */
async function writeThing(url: string): Promise<{ id: string; row: { headers: Record<string, string> | null } }> {
  const ws = randomUUID();
  const res = await fetch(`${url}/api/v1/workspaces/${ws}/things`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${signToken({ sub: randomUUID(), tid: ws, role: 'maker' }, DEV_JWT_SECRET)}`,
      'content-type': 'application/json',
      traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
      tracestate: 'vendor=opaque',
    },
    body: '{}',
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  const row = await waitFor(
    'the relay to mark the row',
    async () => (await c.query(`SELECT headers FROM ${TRACED_SCHEMA}.outbox WHERE key = $1 AND published_at IS NOT NULL`, [id])).rows[0],
    20_000,
  );
  return { id, row };
}

const logLines = (proc: Proc) => proc.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

it('is off unless an OTLP endpoint is set, and off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none', () => {
  expect(tracingConfigured({})).toBe(false);
  expect(tracingConfigured({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBe(false);
  expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
  expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
  expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
  expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
});

it('records and exports nothing with tracing off', async () => {
  const { proc, url } = await startTraced({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' });
  let id: string;
  try {
    const written = await writeThing(url);
    id = written.id;
    expect(written.row.headers).toBeNull();
  } finally {
    await proc.stop(); // a graceful stop: with tracing on, it would export what is buffered
  }
  const lines = logLines(proc);
  expect(lines.find((l) => l.msg === 'thing written')).toMatchObject({ thing: id });
  expect(lines.filter((l) => 'trace_id' in l || 'span_id' in l)).toEqual([]);
  expect(receiver.requests).toBe(0);
}, 60_000);

it("honours a client's traceparent: its trace id in the service's spans, the outbox row and the log lines", async () => {
  const { proc, url } = await startTraced({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  let id: string;
  let row: { headers: Record<string, string> | null };
  try {
    ({ id, row } = await writeThing(url));
  } finally {
    await proc.stop(); // exports the buffered spans before it exits
  }
  const spans = receiver.spans.filter((s) => s.traceId === TRACE_ID);
  expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['traced-service']));
  const server = spans.find((s) => s.kind === OTLP_KIND.server)!;
  expect(server).toMatchObject({ name: 'POST /api/v1/workspaces/:workspaceId/things', parentSpanId: CLIENT_SPAN, attributes: expect.objectContaining({ 'http.response.status_code': 201 }) });
  const create = spans.find((s) => s.name === `create ${TOPIC}`)!;
  expect(create).toMatchObject({ kind: OTLP_KIND.producer, parentSpanId: server.spanId });
  const send = spans.find((s) => s.name === `send ${TOPIC}`)!;
  expect(send).toMatchObject({ kind: OTLP_KIND.producer, parentSpanId: create.spanId, attributes: expect.objectContaining({ 'messaging.message.id': create.attributes['messaging.message.id'] }) });
  // What consumers read carries the relay's context, and the client's tracestate.
  expect(row.headers).toEqual({ traceparent: `00-${TRACE_ID}-${send.spanId}-01`, tracestate: 'vendor=opaque' });

  const lines = logLines(proc);
  expect(lines.find((l) => l.msg === 'thing written')).toMatchObject({ thing: id, trace_id: TRACE_ID, span_id: server.spanId });
  expect(lines.find((l) => l.msg === 'request' && l.status === 201)).toMatchObject({ trace_id: TRACE_ID, span_id: server.spanId });
}, 60_000);
