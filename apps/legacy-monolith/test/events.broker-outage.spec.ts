/**
 * The broker goes away for about ten seconds while the monolith keeps taking writes through its
 * API (one of the faults that must lose nothing): every write succeeds, the monolith stays
 * ready, the outbox absorbs the events, and once the broker is back every event arrives, in
 * order per aggregate. The broker is this suite's own (own port, own data dir), stopped and
 * started again on the same data, so no other suite loses its broker.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKafka, stopKafka } from '@carve/kafka-broker';
import { LEGACY_TOPICS } from '@carve/legacy-events';
import {
  createKafkaTransport,
  type DeliveredMessage,
  type Envelope,
  ensureTopics,
  loadTopicDeclarations,
  parseEnvelope,
  type SubscribeOptions,
} from '@carve/shared-messaging';
import { freePorts } from '@carve/shared-testing';
import { outboxRows, waitFor } from './events-support';
import { type Harness, startHarness } from './support';

const OUTAGE_MS = 10_000;
const quiet = () => undefined;

describe('broker outage while the monolith takes writes', () => {
  let dataDir: string;
  let port: number;
  let brokers: string[];
  let h: Harness | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-monolith-outage-kafka-'));
    port = await freePorts(2); // the broker's client and controller ports
    brokers = (await startKafka({ port, dataDir, log: quiet })).brokers;
    const admin = createKafkaTransport({ brokers, clientId: 'outage-test-admin' });
    try {
      const legacy = new Set<string>(LEGACY_TOPICS);
      await ensureTopics(admin, loadTopicDeclarations().filter((d) => legacy.has(d.name.replace(/\.dlq$/, ''))));
    } finally {
      await admin.close();
    }
    h = await startHarness('legacy_events_outage', { CARVE_TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(','), CARVE_RELAY: 'embedded' });
  }, 90_000);

  afterAll(async () => {
    await h?.close();
    await stopKafka({ dataDir, log: quiet });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('every write succeeds (2xx) during a ~10 s outage; afterwards every event arrives once or more, in order per aggregate', async () => {
    const hh = h!;
    const ws = `/api/v1/workspaces/${hh.a.id}`;
    const statuses: number[] = [];
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await hh.api(method, url, { body });
      statuses.push(res.status);
      return res.body;
    };

    // Before: a few aggregates, shipped while the broker is up.
    const features = [await call('POST', `${ws}/features`, { title: 'F1' }), await call('POST', `${ws}/features`, { title: 'F2' })].map((f) => f.id);
    const notes: string[] = [];
    for (let i = 0; i < 3; i++) notes.push((await call('POST', `${ws}/notes`, { title: `note ${i}`, content: 'c', features: [{ featureId: features[0] }] })).id);
    await waitFor('the first events published', async () => (await outboxRows(hh.ds)).every((r) => r.publishedAt !== null));

    // The outage: the broker is stopped, writes keep coming through the API.
    expect((await stopKafka({ dataDir, log: quiet })).stopped).toBe(true);
    const downAt = Date.now();
    let i = 0;
    let readyDuring = 0;
    let backlogSeen = 0;
    while (Date.now() - downAt < OUTAGE_MS) {
      const note = notes[i % notes.length];
      await call('PATCH', `${ws}/notes/${note}`, { title: `edit ${i}` });
      if (i % 5 === 0) notes.push((await call('POST', `${ws}/notes`, { title: `during ${i}`, content: 'c' })).id);
      if (i % 7 === 0) await call('PATCH', `${ws}/features/${features[i % 2]}`, { priority: 1 + (i % 5) });
      if (i % 11 === 0) await call('POST', `${ws}/notes/${note}/features`, { featureId: features[1], importance: 'high' }).then(() => call('DELETE', `${ws}/notes/${note}/features/${features[1]}`));
      if (i % 10 === 0) {
        if ((await hh.api('GET', '/readyz', { token: null })).status === 200) readyDuring += 1;
        const m = /carve_outbox_backlog\{[^}]*\} (\d+)/.exec((await hh.api('GET', '/metrics', { token: null })).body);
        backlogSeen = Math.max(backlogSeen, Number(m?.[1] ?? 0));
      }
      i += 1;
      await new Promise((r) => setTimeout(r, 50));
    }
    const writesDuring = i;
    expect(statuses.filter((s) => s < 200 || s > 299)).toEqual([]);
    expect(readyDuring).toBeGreaterThan(0);
    expect(readyDuring).toBe(Math.ceil(writesDuring / 10));
    expect(backlogSeen).toBeGreaterThan(0);
    const unpublishedDuring = (await outboxRows(hh.ds)).filter((r) => r.publishedAt === null).length;
    expect(unpublishedDuring).toBeGreaterThan(writesDuring - 1);

    // The broker comes back on the same data; the relay drains the outbox.
    await startKafka({ port, dataDir, log: quiet });
    const backAt = Date.now();
    await waitFor('the outbox drained', async () => (await outboxRows(hh.ds)).every((r) => r.publishedAt !== null), 60_000, 200);
    const drainMs = Date.now() - backAt;

    // Everything the outbox holds arrives on the topics: read them all from the beginning.
    const expected = await outboxRows(hh.ds);
    const wanted = new Set(expected.map((r) => r.envelope.id));
    const received: Envelope[] = [];
    const distinct = new Set<string>();
    const reader = createKafkaTransport({ brokers, clientId: 'outage-test-reader' });
    try {
      const sub = await reader.subscribe({
        group: 'outage-test',
        topics: [...LEGACY_TOPICS],
        ephemeral: true,
        fromBeginning: true,
        // One message or a batch of them (the port's handler shape is being reworked to batches).
        handler: (async (arg: DeliveredMessage | DeliveredMessage[]) => {
          const batch = Array.isArray(arg) ? arg : [arg];
          for (const m of batch) {
            const e = parseEnvelope(m.value);
            if (!wanted.has(e.id)) continue;
            received.push(e);
            distinct.add(e.id);
          }
          return Array.isArray(arg) ? batch.length : true;
        }) as unknown as SubscribeOptions['handler'],
      });
      await sub.ready;
      await waitFor(`all ${wanted.size} events read back`, () => distinct.size === wanted.size, 30_000, 200);
      await sub.stop();
    } finally {
      await reader.close();
    }

    // In order per aggregate: first deliveries in the outbox's order; redeliveries only repeat.
    const firstSeen = new Map<string, number[]>();
    const seenIds = new Set<string>();
    for (const e of received) {
      if (seenIds.has(e.id)) continue;
      seenIds.add(e.id);
      const k = `${e.aggregateType}:${e.aggregateId}`;
      firstSeen.set(k, [...(firstSeen.get(k) ?? []), e.aggregateVersion]);
    }
    const inOutbox = new Map<string, number[]>();
    for (const r of expected) {
      const k = `${r.envelope.aggregateType}:${r.envelope.aggregateId}`;
      inOutbox.set(k, [...(inOutbox.get(k) ?? []), r.envelope.aggregateVersion]);
    }
    expect(Object.fromEntries(firstSeen)).toEqual(Object.fromEntries(inOutbox));
    for (const [k, versions] of inOutbox) {
      if (!k.startsWith('note-feature-link:')) expect({ k, versions }).toEqual({ k, versions: versions.map((_, j) => versions[0] + j) });
    }
    process.stdout.write(
      `broker outage: ${writesDuring} write rounds (${statuses.length} requests, all 2xx) in ${OUTAGE_MS / 1000} s down; ` +
        `backlog peaked at ${backlogSeen}; drained ${expected.length} events ${drainMs} ms after restart; ` +
        `${received.length} deliveries, ${distinct.size} distinct, ${inOutbox.size} aggregates in order\n`,
    );
  }, 150_000);
});
