/**
 * The monolith's events leave the process: the embedded relay on both transports, seen by
 * `carve events tail legacy.notes.v1` run as a real child process; and the reverse-sync hook
 * (off by default; when on, it applies another side's events once, in the inbox transaction).
 */
import { LEGACY_TOPICS, NoteUpdated } from '@carve/legacy-events';
import {
  appendToOutbox,
  createEvent,
  createKafkaTransport,
  createPostgresTransport,
  ensureTopics,
  type Envelope,
  loadTopicDeclarations,
  outboxMigrationSql,
  startRelay,
} from '@carve/shared-messaging';
import { kafkaBrokers } from '@carve/shared-testing';
import { Client } from 'pg';
import { emitLegacyEvents, noteEvent } from '../src/events/legacy-events';
import { OutboxRelayService } from '../src/events/outbox-relay.service';
import { ReverseSyncService } from '../src/events/reverse-sync';
import { Note } from '../src/notes/note.entity';
import { spawnCarve, waitFor } from './events-support';
import { type Harness, startHarness } from './support';

const NOTES = 'legacy.notes.v1';

async function createNote(h: Harness, title: string): Promise<string> {
  const res = await h.api('POST', `/api/v1/workspaces/${h.a.id}/notes`, { body: { title, content: 'from the API' } });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Tails legacy.notes.v1 with the CLI (child process), creates a note through the API, returns the printed event of that note. */
async function tailShowsNote(h: Harness, env: NodeJS.ProcessEnv, transport: string): Promise<Envelope<any>> {
  const tail = spawnCarve(['events', 'tail', NOTES], { ...process.env, ...env });
  try {
    await tail.waitForLine(new RegExp(`tailing ${NOTES.replace(/\./g, '\\.')} \\(${transport}\\)`), 60_000, 'stderr');
    const id = await createNote(h, `tailed on ${transport}`);
    const line = await tail.waitForLine(new RegExp(`"aggregateId":"${id}"`), 30_000, 'stdout');
    return JSON.parse(line) as Envelope<any>;
  } finally {
    await tail.stop();
  }
}

describe('monolith events leave the process', () => {
  describe('postgres transport (the default), embedded relay (the default on PLATFORM=local)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness('legacy_events_pg');
    });
    afterAll(async () => {
      await h?.close();
    });

    it('the relay gives committed rows their log position at once (NOTIFY), and reports itself on /metrics', async () => {
      const relay = h.app.get(OutboxRelayService).handle!;
      expect(relay).toBeDefined();
      await relay.activated;
      const started = Date.now();
      const id = await createNote(h, 'marked');
      const [row] = await waitFor('the note event marked published', async () => {
        const rows = await h.ds.query(`SELECT log_pos FROM legacy.outbox WHERE key = $1 AND log_pos IS NOT NULL`, [id]);
        return rows.length ? rows : undefined;
      });
      expect(Number(row.log_pos)).toBeGreaterThan(0);
      expect(Date.now() - started).toBeLessThan(900); // well under the 1 s fallback poll: woken at commit
      const metrics = (await h.api('GET', '/metrics', { token: null })).body as string;
      expect(metrics).toMatch(/carve_relay_active\{[^}]*schema="legacy"[^}]*\} 1/);
      expect(metrics).toMatch(/carve_outbox_backlog\{[^}]*schema="legacy"[^}]*\} 0/);
    });

    it('`carve events tail legacy.notes.v1` prints a note created through the API', async () => {
      const e = await tailShowsNote(h, { DATABASE_URL: h.db.url, CARVE_TRANSPORT: 'postgres', KAFKA_BROKERS: '' }, 'postgres');
      expect(e).toMatchObject({ type: 'note.created', aggregateVersion: 1, tenantId: h.a.id, origin: 'legacy', data: { title: 'tailed on postgres' } });
    });
  });

  describe('kafka transport, embedded relay', () => {
    let h: Harness;
    let brokers: string[];
    beforeAll(async () => {
      brokers = await kafkaBrokers();
      // The producer never creates topics: declare the monolith's (as `carve kafka ensure-topics` does).
      const admin = createKafkaTransport({ brokers, clientId: 'legacy-events-test' });
      try {
        const legacy = new Set<string>(LEGACY_TOPICS);
        await ensureTopics(admin, loadTopicDeclarations().filter((d) => legacy.has(d.name.replace(/\.dlq$/, ''))));
      } finally {
        await admin.close();
      }
      h = await startHarness('legacy_events_kafka', { CARVE_TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(','), CARVE_RELAY: 'embedded' });
    }, 120_000);
    afterAll(async () => {
      await h?.close();
    });

    it('`carve events tail legacy.notes.v1` prints a note created through the API, shipped by the embedded relay', async () => {
      const e = await tailShowsNote(h, { DATABASE_URL: h.db.url, CARVE_TRANSPORT: 'kafka', KAFKA_BROKERS: brokers.join(',') }, 'kafka');
      expect(e).toMatchObject({ type: 'note.created', aggregateVersion: 1, tenantId: h.a.id, origin: 'legacy', source: 'legacy' });
      expect(h.app.get(OutboxRelayService).handle!.stats().published).toBeGreaterThan(0);
    });
  });

  describe('reverse sync hook', () => {
    it('is off by default: no consumer runs', async () => {
      const h = await startHarness('legacy_rsync_off', { CARVE_RELAY: 'off' });
      try {
        expect(h.app.get(ReverseSyncService).handle).toBeUndefined();
        expect(await h.count('inbox')).toBe(0);
      } finally {
        await h.close();
      }
    });

    it('when on, applies another side\'s event once in the inbox transaction; what it writes carries the cause and origin; own-origin events are skipped', async () => {
      const seen: string[] = [];
      const handlers = {
        'insights.notes.v1': async (event: Envelope<any>, em: import('typeorm').EntityManager) => {
          seen.push(event.id);
          const [[row]] = await em.query(`UPDATE legacy.notes SET title = $1, version = version + 1, updated_at = now() WHERE id = $2 RETURNING id`, [
            event.data.title,
            event.aggregateId,
          ]);
          const note = await em.getRepository(Note).findOneByOrFail({ id: row.id });
          await emitLegacyEvents(em, [noteEvent(NoteUpdated, note)]);
        },
      };
      const h = await startHarness('legacy_rsync_on', { CARVE_RELAY: 'embedded', CARVE_REVERSE_SYNC: 'true' }, { reverseSyncHandlers: handlers });
      let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
      const transport = createPostgresTransport({ databaseUrl: h.db.url });
      try {
        const noteId = await createNote(h, 'before');
        // The other side: its own outbox (schema insights) and relay, on the Postgres transport.
        const c = new Client({ connectionString: h.db.url });
        await c.connect();
        await c.query(outboxMigrationSql('insights'));
        const contract = { type: 'note.updated', version: '1.0', source: 'insights', aggregateType: 'note', topic: 'insights.notes.v1' };
        const fromService = createEvent(contract, { tenantId: h.a.id, aggregateId: noteId, aggregateVersion: 2, data: { title: 'renamed in the service' }, origin: 'insights-service' });
        const echo = createEvent(contract, { tenantId: h.a.id, aggregateId: noteId, aggregateVersion: 3, data: { title: 'an echo' }, origin: 'legacy' });
        await appendToOutbox(c, 'insights', [fromService, echo]);
        // A redelivery: the same event again, in another row.
        await c.query(`INSERT INTO insights.outbox (id, topic, key, envelope) VALUES (gen_random_uuid(), $1, $2, $3)`, [
          fromService.topic,
          noteId,
          JSON.stringify(fromService.envelope),
        ]);
        await c.end().catch(() => undefined);
        relay = await startRelay({ databaseUrl: h.db.url, schema: 'insights', transport });

        const outcomes = await waitFor('both events in the inbox', async () => {
          const rows = await h.ds.query(`SELECT event_id, outcome FROM legacy.inbox ORDER BY received_at, event_id`);
          return rows.length >= 2 ? rows : undefined;
        });
        expect(outcomes).toEqual([
          { event_id: fromService.envelope.id, outcome: 'applied' },
          { event_id: echo.envelope.id, outcome: 'own-origin' },
        ]);
        expect(seen).toEqual([fromService.envelope.id]); // the duplicate row changed nothing
        expect((await h.api('GET', `/api/v1/workspaces/${h.a.id}/notes/${noteId}`)).body).toMatchObject({ title: 'renamed in the service', version: 2 });
        const [out] = await h.ds.query(`SELECT envelope FROM legacy.outbox WHERE key = $1 AND envelope->>'type' = 'note.updated'`, [noteId]);
        expect(out.envelope).toMatchObject({
          aggregateVersion: 2,
          causationId: fromService.envelope.id,
          correlationId: fromService.envelope.correlationId,
          origin: 'insights-service',
        });
      } finally {
        await relay?.stop();
        await transport.close();
        await h.close();
      }
    });
  });
});
