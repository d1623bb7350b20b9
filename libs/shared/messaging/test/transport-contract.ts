/**
 * The transport contract: one suite, run on every transport (contract.kafka.spec.ts,
 * contract.postgres.spec.ts). The same consumer code, the same relay, the same assertions.
 * How each test knows: the consumer's applied log (count, distinct event ids, versions per
 * aggregate in application order), its inbox, and the transport's DLQ listing.
 */
import { Pool } from 'pg';
import { type ConsumerHandle, type ConsumerOptions, NonRetriableError, type RelayHandle, startConsumer, startRelay, type TopicDeclaration, type Transport } from '../src';
import { checkApplied, migrate, noteEvent, sinkHandler, type TestSource, testSource, writeEvents } from './support/events';
import { createTestDatabase, sql, type TestDatabase, uniqueName, waitFor } from './support/infra';

export interface TransportFixture {
  /** A new transport instance on the test database. */
  create(databaseUrl: string): Transport | Promise<Transport>;
}

/** `label`: how the suite is named when a transport runs it in another setting (e.g. over TLS and SASL). */
export function transportContract(kind: 'kafka' | 'postgres', fixture: TransportFixture, label: string = kind): void {
  describe(`transport contract: ${label}`, () => {
    let db: TestDatabase;
    let src: TestSource;
    const sink = 'sink';
    let transport: Transport;
    let relay: RelayHandle;
    let pool: Pool;
    const consumers: ConsumerHandle[] = [];

    const consume = async (group: string, extra: Partial<ConsumerOptions> = {}) => {
      const c = await startConsumer({
        transport,
        group,
        topics: [src.topic],
        schema: sink,
        pool,
        handle: sinkHandler(sink, group),
        backoff: { initialMs: 20, maxMs: 200 },
        // Each test's group starts at the end, so it sees only that test's events.
        fromBeginning: false,
        ...extra,
      });
      consumers.push(c);
      await c.ready;
      return c;
    };

    beforeAll(async () => {
      db = await createTestDatabase(`contract_${kind}`);
      src = testSource(uniqueName('ct'));
      await migrate(db.url, src, sink);
      transport = await fixture.create(db.url);
      const decl: TopicDeclaration[] = [
        { name: src.topic, partitions: 3, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
        { name: `${src.topic}.dlq`, partitions: 1, retentionMs: 3_600_000, cleanupPolicy: 'delete' },
      ];
      await transport.ensureTopics(decl);
      pool = new Pool({ connectionString: db.url, max: 4 });
      relay = await startRelay({ databaseUrl: db.url, schema: src.schema, transport, pollIntervalMs: 200, batchSize: 100 });
      await relay.activated;
    });

    afterEach(async () => {
      for (const c of consumers.splice(0)) await c.stop();
    });

    afterAll(async () => {
      await relay?.stop();
      await transport?.close();
      await pool?.end();
      await db?.drop();
    });

    it('delivers every committed event exactly once to the handler, in order per aggregate', async () => {
      const aggregates = Array.from({ length: 12 }, (_, i) => `order-${i}`);
      const written = await writeEvents(db.url, src, aggregates, 8, 7);
      const group = uniqueName('g');
      const c = await consume(group, { fromBeginning: true });
      await waitFor('120 events applied', async () => (await checkApplied(db.url, sink, group)).applied >= written.length);
      const check = await checkApplied(db.url, sink, group);
      expect(check.applied).toBe(written.length); // 12 aggregates x 8 versions, none missing
      expect(check.distinctEvents).toBe(written.length); // none applied twice
      expect(check.outOfOrder).toEqual([]);
      for (const a of aggregates) expect(check.versions[a]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(c.stats()).toMatchObject({ applied: written.length, duplicate: 0, stale: 0, deadLettered: 0 });
      const inbox = await sql(db.url, `SELECT count(*)::int AS n FROM ${sink}.inbox WHERE consumer = $1 AND outcome = 'applied'`, [group]);
      expect(inbox[0].n).toBe(written.length);
    });

    it('applies a redelivered event once and skips an event older than the stored version', async () => {
      const group = uniqueName('g');
      const c = await consume(group);
      const [v1, v2] = await writeEvents(db.url, src, ['dup-1'], 2);
      await waitFor('v1 and v2 applied', () => c.stats().applied === 2);
      // The same event again (as a relay crash would resend it), then a stale copy of v1 under a new id.
      await transport.publish([{ topic: src.topic, key: 'dup-1', value: JSON.stringify(v2) }]);
      const stale = noteEvent(src, 'dup-1', 1).envelope;
      await transport.publish([{ topic: src.topic, key: 'dup-1', value: JSON.stringify(stale) }]);
      await waitFor('duplicate and stale skipped', () => c.stats().duplicate === 1 && c.stats().stale === 1);
      const check = await checkApplied(db.url, sink, group);
      expect(check.versions['dup-1']).toEqual([1, 2]);
      expect(check.distinctEvents).toBe(2);
      const note = await sql(db.url, `SELECT version, applies FROM ${sink}.notes WHERE id = 'dup-1'`);
      expect(note[0]).toEqual({ version: 2, applies: 2 }); // the state saw two changes, not four
      const inbox = await sql(db.url, `SELECT outcome, count(*)::int AS n FROM ${sink}.inbox WHERE consumer = $1 GROUP BY outcome ORDER BY outcome`, [group]);
      expect(inbox).toEqual([{ outcome: 'applied', n: 2 }, { outcome: 'stale', n: 1 }]);
      expect(v1.id).not.toBe(v2.id);
    });

    it('sends a schema-invalid event to the DLQ and keeps processing the partition', async () => {
      const group = uniqueName('g');
      const c = await consume(group, { validate: (e) => (typeof (e.data as any)?.title === 'string' ? null : '/title is required') });
      const bad = noteEvent(src, 'poison-1', 1).envelope;
      (bad.data as any) = { nope: true };
      await transport.publish([{ topic: src.topic, key: 'poison-1', value: JSON.stringify(bad) }]);
      await writeEvents(db.url, src, ['poison-1'], 1, 1, 2); // v2 of the same aggregate: same key, same partition
      await waitFor('v2 applied after the poison message', async () => (await checkApplied(db.url, sink, group)).versions['poison-1']?.includes(2));
      expect(c.stats().deadLettered).toBe(1);
      const dead = await waitFor('the dead letter listed', async () => (await transport.listDeadLetters({ topic: src.topic })).filter((d) => d.group === group));
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ originalTopic: src.topic, reason: 'invalid-data', key: 'poison-1' });
      expect(dead[0].error).toContain('/title is required');
      expect(JSON.parse(dead[0].value!).id).toBe(bad.id);
    });

    it('retries a failing handler with backoff, dead-letters it after maxAttempts, and a replay applies it', async () => {
      const group = uniqueName('g');
      let failing = true;
      let calls = 0;
      const handle = sinkHandler(sink, group);
      const c = await consume(group, {
        maxAttempts: 3,
        handle: async (e, tx, meta) => {
          if (e.aggregateId === 'flaky-1') {
            calls += 1;
            if (failing) throw new Error('downstream says no');
          }
          await handle(e, tx, meta);
        },
      });
      const [ev] = await writeEvents(db.url, src, ['flaky-1'], 1);
      await writeEvents(db.url, src, ['after-flaky'], 1);
      // (The two may be on different partitions, which the Kafka consumer handles independently:
      // wait for the dead letter itself, not only for the other event.)
      await waitFor('the failing event dead-lettered', () => c.stats().deadLettered === 1);
      await waitFor('the event after it applied', async () => (await checkApplied(db.url, sink, group)).versions['after-flaky']);
      expect(calls).toBe(3); // three attempts, then the DLQ
      expect(c.stats()).toMatchObject({ retries: 2, deadLettered: 1 });
      const dead = (await transport.listDeadLetters({ topic: src.topic })).filter((d) => d.group === group);
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ reason: 'handler-failed', attempts: 3, eventId: ev.id });
      expect(dead[0].error).toBe('downstream says no');

      failing = false; // the cause is fixed: re-drive it
      const replayed = await transport.replayDeadLetters({ topic: src.topic, id: ev.id });
      expect(replayed.map((d) => d.eventId)).toEqual([ev.id]);
      await waitFor('the replayed event applied', async () => (await checkApplied(db.url, sink, group)).versions['flaky-1']);
      expect((await checkApplied(db.url, sink, group)).versions['flaky-1']).toEqual([1]);
    });

    it('DLQ replay: four dead letters, the cause fixed, one replay applies each once; then nothing waits, the DLQ has not grown, a second replay finds nothing', async () => {
      const group = uniqueName('g');
      let failing = true;
      const handle = sinkHandler(sink, group);
      const c = await consume(group, {
        maxAttempts: 2,
        handle: async (e, tx, meta) => {
          // --all replays the earlier tests' dead letters of this topic too: not this test's business.
          if (!e.aggregateId.startsWith('four-')) return;
          if (failing) throw new Error('downstream is down');
          await handle(e, tx, meta);
        },
      });
      const written = await writeEvents(db.url, src, ['four-0', 'four-1', 'four-2', 'four-3'], 1);
      await waitFor('4 dead letters', () => c.stats().deadLettered === 4);
      const mine = async () => (await transport.listDeadLetters({ topic: src.topic })).filter((d) => d.group === group);
      const dead = await waitFor('4 dead letters listed', async () => ((await mine()).length === 4 ? mine() : undefined));
      expect(dead.every((d) => d.replayedAt === null)).toBe(true);

      // A dry run selects them and changes nothing.
      const dry = (await transport.replayDeadLetters({ topic: src.topic, dryRun: true })).filter((d) => d.group === group);
      expect(dry.map((d) => d.eventId).sort()).toEqual(written.map((e) => e.id).sort());
      expect((await mine()).filter((d) => d.replayedAt === null)).toHaveLength(4);

      failing = false;
      const replayed = (await transport.replayDeadLetters({ topic: src.topic })).filter((d) => d.group === group);
      expect(replayed.map((d) => d.eventId).sort()).toEqual(written.map((e) => e.id).sort());
      expect(replayed.every((d) => d.replayedAt !== null)).toBe(true);
      await waitFor('the 4 replayed events applied', async () => (await checkApplied(db.url, sink, group)).applied === 4);
      const check = await checkApplied(db.url, sink, group);
      expect(check.distinctEvents).toBe(4);
      for (const e of written) expect(check.versions[e.aggregateId]).toEqual([1]);

      const after = await mine();
      expect(after).toHaveLength(4); // the DLQ did not grow
      expect(after.filter((d) => d.replayedAt === null)).toEqual([]); // 0 waiting
      expect((await transport.replayDeadLetters({ topic: src.topic })).filter((d) => d.group === group)).toEqual([]);
      // Every message of the partitions was read after the replayed ones: nothing came twice.
      await writeEvents(db.url, src, ['four-after'], 1);
      await waitFor('an event after the replay applied', async () => (await checkApplied(db.url, sink, group)).versions['four-after']);
      expect(c.stats()).toMatchObject({ deadLettered: 4, duplicate: 0 });
      expect((await checkApplied(db.url, sink, group)).applied).toBe(5);
    });

    it('DLQ replay: a message dead-lettered by two groups is sent once, keeps its key and headers, and failing again comes back once per group with its attempts', async () => {
      const groups = [uniqueName('g'), uniqueName('g')];
      const consumers = await Promise.all(
        groups.map((group) => {
          const handle = sinkHandler(sink, group);
          return consume(group, {
            maxAttempts: 2,
            handle: async (e, tx, meta) => {
              if (e.aggregateId === 'twice-1') throw new Error('still broken');
              await handle(e, tx, meta);
            },
          });
        }),
      );
      const ev = noteEvent(src, 'twice-1', 1).envelope;
      await transport.publish([{ topic: src.topic, key: 'twice-1', value: JSON.stringify(ev), headers: { 'x-trace': 'trace-1' } }]);
      await waitFor('both groups dead-lettered it', () => consumers.every((c) => c.stats().deadLettered === 1));
      const letters = async () => (await transport.listDeadLetters({ topic: src.topic })).filter((d) => d.eventId === ev.id);
      const first = await waitFor('2 dead letters listed', async () => ((await letters()).length === 2 ? letters() : undefined));
      expect(first.map((d) => d.group).sort()).toEqual([...groups].sort());
      for (const d of first) expect(d).toMatchObject({ key: 'twice-1', headers: { 'x-trace': 'trace-1' }, attempts: 2, replayedAt: null });

      const replayed = await transport.replayDeadLetters({ topic: src.topic, id: ev.id });
      expect(replayed.map((d) => d.id).sort()).toEqual(first.map((d) => d.id).sort());
      // Still failing: each group dead-letters the one replayed message once.
      await waitFor('each group dead-lettered the replay', () => consumers.every((c) => c.stats().deadLettered === 2));
      // A later message on the same key (same partition): once both groups applied it, every
      // copy of the replay before it has been handled.
      await transport.publish([{ topic: src.topic, key: 'twice-1', value: JSON.stringify(noteEvent(src, 'twice-after', 1).envelope) }]);
      for (const g of groups) await waitFor(`the later message applied in ${g}`, async () => (await checkApplied(db.url, sink, g)).versions['twice-after']);
      for (const c of consumers) expect(c.stats().deadLettered).toBe(2);
      const all = await letters();
      expect(all).toHaveLength(4);
      expect(all.filter((d) => d.replayedAt !== null).map((d) => d.id).sort()).toEqual(first.map((d) => d.id).sort());
      const again = all.filter((d) => d.replayedAt === null);
      expect(again.map((d) => d.group).sort()).toEqual([...groups].sort());
      for (const d of again) expect(d).toMatchObject({ key: 'twice-1', headers: { 'x-trace': 'trace-1' }, attempts: 2, error: 'still broken' });
    });

    if (kind === 'kafka') {
      it('DLQ replay keeps a tombstone a tombstone (null value), with its key and headers', async () => {
        const group = uniqueName('g');
        const c = await consume(group);
        await transport.publish([{ topic: src.topic, key: 'tomb-1', value: null, headers: { 'x-tomb': 'yes' } }]);
        await waitFor('the tombstone dead-lettered (not an envelope)', () => c.stats().deadLettered === 1);
        const tomb = async () => (await transport.listDeadLetters({ topic: src.topic })).filter((d) => d.group === group);
        const [dead] = await waitFor('the dead tombstone listed', async () => ((await tomb()).length === 1 ? tomb() : undefined));
        expect(dead).toMatchObject({ key: 'tomb-1', value: null, headers: { 'x-tomb': 'yes' } });
        await transport.replayDeadLetters({ topic: src.topic, id: dead.id });
        // The replay is a tombstone again: the consumer dead-letters it the same way.
        await waitFor('the replayed tombstone dead-lettered', () => c.stats().deadLettered === 2);
        const both = await waitFor('2 dead tombstones listed', async () => ((await tomb()).length === 2 ? tomb() : undefined));
        const fresh = both.find((d) => d.id !== dead.id)!;
        expect(fresh).toMatchObject({ key: 'tomb-1', value: null, headers: { 'x-tomb': 'yes' }, replayedAt: null });
        expect(both.find((d) => d.id === dead.id)!.replayedAt).not.toBeNull();
      });
    }

    it('applies a batch as runs in one transaction; an event failing inside a run does not take the others down', async () => {
      const group = uniqueName('g');
      const calls: number[] = [];
      const handle = sinkHandler(sink, group);
      const c = await consume(group, {
        handle: async (e, tx, meta) => {
          if (e.aggregateId !== 'run-1') return handle(e, tx, meta);
          calls.push(e.aggregateVersion);
          if (e.aggregateVersion === 2) throw new NonRetriableError('version 2 cannot be applied');
          await handle(e, tx, meta);
        },
      });
      await writeEvents(db.url, src, ['run-1'], 3, 3); // v1, v2, v3 in one transaction: one batch
      await waitFor('v3 applied', async () => (await checkApplied(db.url, sink, group)).versions['run-1']?.includes(3));
      expect((await checkApplied(db.url, sink, group)).versions['run-1']).toEqual([1, 3]); // each once, v2 left out
      expect(c.stats()).toMatchObject({ applied: 2, deadLettered: 1 });
      expect(calls.filter((v) => v === 2)).toHaveLength(1); // non-retriable: not retried
      const dead = (await transport.listDeadLetters({ topic: src.topic })).filter((d) => d.group === group);
      expect(dead.map((d) => d.reason)).toEqual(['non-retriable']);
    });

    it('retries a transient failure and applies the event once', async () => {
      const group = uniqueName('g');
      let failures = 2;
      const handle = sinkHandler(sink, group);
      const c = await consume(group, {
        handle: async (e, tx, meta) => {
          await handle(e, tx, meta); // written, then rolled back by the throw
          if (e.aggregateId === 'transient-1' && failures-- > 0) throw new Error('deadlock, try again');
        },
      });
      await writeEvents(db.url, src, ['transient-1'], 1);
      await waitFor('applied after two failures', () => c.stats().applied >= 1 && c.stats().retries === 2);
      const check = await checkApplied(db.url, sink, group);
      expect(check.versions['transient-1']).toEqual([1]); // the failed attempts left nothing behind
    });

    it('skips events whose origin the consumer ignores (no reverse-sync echo)', async () => {
      const group = uniqueName('g');
      const c = await consume(group, { skipOrigins: ['echo'] });
      await transport.publish([{ topic: src.topic, key: 'echo-1', value: JSON.stringify(noteEvent(src, 'echo-1', 1, { origin: 'echo' }).envelope) }]);
      await writeEvents(db.url, src, ['echo-2'], 1);
      await waitFor('echo-2 applied', async () => (await checkApplied(db.url, sink, group)).versions['echo-2']);
      await waitFor('echo-1 skipped', () => c.stats().ownOrigin === 1);
      expect((await checkApplied(db.url, sink, group)).versions['echo-1']).toBeUndefined();
    });

    it('resumes a restarted group at its committed position: nothing lost, nothing applied twice', async () => {
      const group = uniqueName('g');
      const first = await consume(group);
      const before = await writeEvents(db.url, src, ['resume-1', 'resume-2'], 3);
      await waitFor('first batch applied', () => first.stats().applied === before.length);
      // The position is committed while the member runs (on Kafka by a background timer), so a
      // crash now would redeliver nothing.
      const caughtUp = async () => {
        const lag = (await transport.lag(group, [src.topic])).filter((p) => p.committed !== null);
        return lag.length > 0 && lag.every((p) => p.lag === 0);
      };
      await waitFor('position committed while running', caughtUp, 5000);
      await first.stop();
      const after = await writeEvents(db.url, src, ['resume-1', 'resume-2'], 3, 2, 4);
      const second = await consume(group);
      await waitFor('second batch applied', () => second.stats().applied === after.length);
      const check = await checkApplied(db.url, sink, group);
      // Versions 1-3 applied by the first member, 4-6 by the second, each exactly once, in order.
      expect(check.versions['resume-1']).toEqual([1, 2, 3, 4, 5, 6]);
      expect(check.versions['resume-2']).toEqual([1, 2, 3, 4, 5, 6]);
      expect(check.distinctEvents).toBe(check.applied);
      // The second member started exactly where the first stopped: stopping committed it all.
      expect(second.stats().duplicate).toBe(0);
      // Partitions where the group has a position: nothing left to read.
      await waitFor('lag 0 for the group', caughtUp);
    });
  });
}
