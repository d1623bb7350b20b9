import { Client } from 'pg';
import type { Registry } from 'prom-client';
import { ident } from './executor';
import { messagingMetrics, type MessagingMetrics } from './metrics';
import { outboxChannel, outboxLogChannel } from './outbox';
import { contextOf, endSpans, messageSpan, type MessageSpan } from './tracing';
import type { OutboundMessage, Transport } from './transport';
import { type Backoff, backoffDelay, DEFAULT_BACKOFF, errorMessage, type MessagingLogger, silentLogger, sleep, Waker } from './util';

/**
 * The payload of the NOTIFY that tells Postgres-transport consumers a batch is in the log: its
 * topics, comma-separated, so that a consumer wakes only for a topic it reads; empty (every
 * consumer of the schema looks) when they would not fit in a notification.
 */
export function logNotice(batch: ReadonlyArray<Pick<OutboxRow, 'topic'>>): string {
  const topics = [...new Set(batch.map((r) => r.topic))].join(',');
  return Buffer.byteLength(topics) < 4000 ? topics : '';
}

export interface OutboxRow {
  id: string;
  seq: string;
  topic: string;
  key: string;
  envelope: string;
  headers: Record<string, string> | null;
  createdAt: Date;
}

export interface RelayOptions {
  /** The database of the outbox. The relay keeps one dedicated connection to it. */
  databaseUrl: string;
  /** Schema of the outbox (`legacy`, `insights`...). */
  schema: string;
  transport: Transport;
  /** Rows per publish; default 1000. */
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives; default 1000 ms. */
  pollIntervalMs?: number;
  /** How often a standby relay tries to take the lock; default 1000 ms. */
  standbyRetryMs?: number;
  /** Published rows are deleted this long after publication; default 24 h. 0 keeps them. */
  retentionMs?: number;
  /** How often to delete expired rows; default 60 s. */
  cleanupIntervalMs?: number;
  /** Backoff while the transport (or the database) fails; default 100 ms doubling to 5 s. */
  backoff?: Backoff;
  registry?: Registry;
  logger?: MessagingLogger;
  /** Name in logs and `application_name`; default `carve-relay`. */
  name?: string;
  /** Test seams (crash points): called after the transport acknowledged a batch, before marking. */
  hooks?: { afterPublish?: (rows: OutboxRow[]) => void | Promise<void> };
}

export interface RelayHandle {
  /** True while this relay holds the outbox's lock (the others wait as hot standbys). */
  isActive(): boolean;
  /** Resolves when this relay first becomes the active one. */
  readonly activated: Promise<void>;
  stats(): { published: number; batches: number; publishFailures: number };
  stop(): Promise<void>;
}

/** Most marks written in the statement that reads the next batch (see drainOnce). */
const PIGGYBACK_MARKS = 64;

/** The advisory-lock key of an outbox: two int4s, (hashtext('carve.relay'), hashtext(schema)). */
const LOCK_SQL = `SELECT pg_try_advisory_lock(hashtext('carve.relay'), hashtext($1)) AS locked`;

/**
 * Ships the rows of `<schema>.outbox` to the transport: in `seq` order (so in order per key),
 * by batches, marking them published (and giving them their log position) only after the
 * transport acknowledged them. Exactly one relay per outbox is active: the holder of a session
 * advisory lock on its dedicated connection; others wait as hot standbys and take over when
 * that connection goes away. Woken by NOTIFY at commit, polling as the fallback. While the
 * transport fails it backs off and retries the same rows: nothing is lost or reordered, at the
 * price of possible duplicates, which the consumers' inbox absorbs.
 */
export async function startRelay(opts: RelayOptions): Promise<RelayHandle> {
  const schema = ident(opts.schema);
  const batchSize = opts.batchSize ?? 1000;
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  const standbyRetryMs = opts.standbyRetryMs ?? 1000;
  const retentionMs = opts.retentionMs ?? 24 * 3600_000;
  const cleanupIntervalMs = opts.cleanupIntervalMs ?? 60_000;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const log = opts.logger ?? silentLogger;
  const name = opts.name ?? 'carve-relay';
  const metrics: MessagingMetrics | undefined = opts.registry ? messagingMetrics(opts.registry) : undefined;
  const transport = opts.transport;

  const waker = new Waker();
  let stopping = false;
  let onStop!: () => void;
  const stopped = new Promise<void>((r) => (onStop = r));
  const pause = (ms: number) => Promise.race([sleep(ms), stopped]);
  let active = false;
  const stats = { published: 0, batches: 0, publishFailures: 0 };
  let onActive!: () => void;
  const activated = new Promise<void>((r) => (onActive = r));

  const setActive = (value: boolean) => {
    active = value;
    metrics?.relayActive.set({ schema }, value ? 1 : 0);
    if (value) onActive();
  };

  /**
   * Ids the broker acknowledged but not yet marked (broker transports): up to PIGGYBACK_MARKS of
   * them are marked by the next drain's statement together with reading the next batch, so a
   * relay busy with small batches makes one database round trip per batch, not two; more are
   * written on their own, as they are before the relay idles or stops.
   */
  let unmarked: string[] = [];

  async function flushMarks(c: Client): Promise<void> {
    if (unmarked.length === 0) return;
    await c.query({ name: `carve-relay-mark:${schema}`, text: `UPDATE ${schema}.outbox SET published_at = clock_timestamp() WHERE id = ANY($1::uuid[]) AND published_at IS NULL`, values: [unmarked] });
    unmarked = [];
  }

  async function drainOnce(c: Client): Promise<number> {
    type Row = { id: string; seq: string; topic: string; key: string; envelope: string; headers: Record<string, string> | null; created_at: Date };
    const columns = 'id, seq, topic, key, envelope::text AS envelope, headers, created_at';
    // The statement's snapshot still shows the rows it marks as unpublished: they are excluded,
    // by a check against the id list that costs rows × ids, so only a small batch's marks ride
    // along (a busy relay at low latency); a big one's are written on their own first.
    if (unmarked.length > PIGGYBACK_MARKS) await flushMarks(c);
    // Named statements: the relay's session is its own (it holds the outbox lock), so they are
    // parsed and planned once per connection, not once per batch.
    const { rows } = unmarked.length
      ? await c.query<Row>({
          name: `carve-relay-mark-and-read:${schema}`,
          text: `WITH marked AS (
             UPDATE ${schema}.outbox SET published_at = clock_timestamp() WHERE id = ANY($2::uuid[]) AND published_at IS NULL RETURNING 1)
           SELECT ${columns} FROM ${schema}.outbox WHERE published_at IS NULL AND NOT (id = ANY($2::uuid[])) ORDER BY seq LIMIT $1`,
          values: [batchSize, unmarked],
        })
      : await c.query<Row>({ name: `carve-relay-read:${schema}`, text: `SELECT ${columns} FROM ${schema}.outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1`, values: [batchSize] });
    unmarked = [];
    if (rows.length === 0) return 0;
    const batch: OutboxRow[] = rows.map((r) => ({ id: r.id, seq: r.seq, topic: r.topic, key: r.key, envelope: r.envelope, headers: r.headers, createdAt: r.created_at }));
    // A `send` span per row written inside a trace: its context replaces the row's in what the
    // consumers read (tracing.ts).
    let spans: Array<MessageSpan | undefined> | undefined;
    for (const [i, r] of batch.entries()) {
      const parent = contextOf(r.headers);
      if (!parent) continue;
      spans ??= new Array<MessageSpan | undefined>(batch.length).fill(undefined);
      spans[i] = messageSpan('send', r.topic, parent, { 'messaging.message.id': r.id, 'messaging.system': transport.kind === 'kafka' ? 'kafka' : 'carve-outbox', 'carve.outbox.schema': schema, 'carve.relay': name });
    }
    let shipped: boolean;
    try {
      shipped = await ship(c, batch, spans);
    } catch (err) {
      if (spans) endSpans(spans, err);
      throw err;
    }
    if (spans) endSpans(spans, shipped ? undefined : new Error('the relay stopped before the transport acknowledged the batch'));
    if (!shipped) return 0;
    const ackedAt = Date.now();
    stats.published += batch.length;
    stats.batches += 1;
    if (metrics) {
      metrics.relayPublished.inc({ schema }, batch.length);
      for (const r of batch) metrics.relayEventLatency.observe({ schema }, Math.max(0, ackedAt - r.createdAt.getTime()) / 1000);
    }
    return batch.length;
  }

  /**
   * Publishes a batch (or, when the outbox is the log, gives it its positions) and marks it;
   * false when the relay stopped before the transport acknowledged it.
   */
  async function ship(c: Client, batch: OutboxRow[], spans: Array<MessageSpan | undefined> | undefined): Promise<boolean> {
    if (!transport.outboxIsLog) {
      const messages: OutboundMessage[] = batch.map((r, i) => ({
        topic: r.topic,
        key: r.key,
        value: r.envelope,
        headers: { ...(r.headers ?? {}), ...spans?.[i]?.headers, 'content-type': 'application/json', 'carve-event-id': r.id },
      }));
      const started = process.hrtime.bigint();
      for (let attempt = 1; ; attempt++) {
        if (stopping) return false;
        try {
          await transport.publish(messages);
          break;
        } catch (err) {
          stats.publishFailures += 1;
          const delay = backoffDelay(attempt, backoff);
          log.warn({ schema, attempt, delayMs: delay, err: errorMessage(err), rows: batch.length }, 'relay: publish failed; retrying the same rows');
          await pause(delay);
          // The lock may have gone with the connection meanwhile: check before publishing again.
          await c.query('SELECT 1');
        }
      }
      metrics?.relayPublishDuration.observe({ schema }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    await opts.hooks?.afterPublish?.(batch);

    if (transport.outboxIsLog) {
      // The outbox is the log: positions in seq order, and one relay at a time, so they follow
      // the commit order of the marks. NOTIFY wakes the consumers.
      const { rows: pos } = await c.query<{ p: string[] }>(
        `SELECT array_agg(n ORDER BY n)::text[] AS p FROM (SELECT nextval('${schema}.outbox_log_pos_seq') AS n FROM generate_series(1, $1)) s`,
        [batch.length],
      );
      // A traced row's headers take the context of its `send` span, in the same statement.
      const traced = spans?.map((sp) => (sp ? JSON.stringify(sp.headers) : null));
      const notice = logNotice(batch);
      await c.query(
        `WITH upd AS (
           UPDATE ${schema}.outbox o SET published_at = clock_timestamp(), log_pos = v.pos${traced ? `,
                  headers = CASE WHEN v.trace IS NULL THEN o.headers ELSE coalesce(o.headers, '{}'::jsonb) || v.trace END` : ''}
             FROM unnest($1::uuid[], $2::bigint[]${traced ? ', $3::jsonb[]' : ''}) AS v(id, pos${traced ? ', trace' : ''})
            WHERE o.id = v.id AND o.published_at IS NULL
            RETURNING 1)
         SELECT pg_notify('${outboxLogChannel(schema)}', $${traced ? 4 : 3}), (SELECT count(*) FROM upd) AS n`,
        traced ? [batch.map((r) => r.id), pos[0].p, traced, notice] : [batch.map((r) => r.id), pos[0].p, notice],
      );
    } else {
      unmarked = batch.map((r) => r.id);
    }
    return true;
  }

  async function cleanup(c: Client): Promise<void> {
    if (retentionMs <= 0) return;
    for (let i = 0; i < 100 && !stopping; i++) {
      const { rowCount } = await c.query(
        `DELETE FROM ${schema}.outbox WHERE id IN (
           SELECT id FROM ${schema}.outbox
            WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1::double precision)
            LIMIT 5000)`,
        [retentionMs / 1000],
      );
      if (!rowCount || rowCount < 5000) return;
    }
  }

  async function updateBacklog(c: Client): Promise<void> {
    if (!metrics) return;
    const { rows } = await c.query<{ n: string; age: number | null }>(
      `SELECT count(*) AS n, extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS age
         FROM ${schema}.outbox WHERE published_at IS NULL`,
    );
    metrics.outboxBacklog.set({ schema }, Number(rows[0].n));
    metrics.outboxOldestAge.set({ schema }, rows[0].age ?? 0);
  }

  async function runConnected(): Promise<void> {
    const c = new Client({ connectionString: opts.databaseUrl, application_name: `${name}:${schema}` });
    let broken: Error | undefined;
    c.on('error', (err) => {
      broken = err;
      waker.wake();
    });
    c.on('notification', () => waker.wake());
    await c.connect();
    try {
      // Standby until the lock is ours.
      for (;;) {
        if (stopping) return;
        if (broken) throw broken;
        const { rows } = await c.query<{ locked: boolean }>(LOCK_SQL, [schema]);
        if (rows[0].locked) break;
        await waker.wait(standbyRetryMs);
      }
      await c.query(`LISTEN "${outboxChannel(schema)}"`);
      // Shipping to a broker, a mark lost in a database crash only means those rows are
      // published again (duplicates the inbox absorbs): its commits need not wait for the WAL
      // flush. On the Postgres transport the marks are the log itself, so they stay synchronous.
      if (!transport.outboxIsLog) await c.query('SET synchronous_commit = off');
      setActive(true);
      log.info({ schema, relay: name }, 'relay: active (holds the outbox lock)');
      let lastCleanup = 0;
      let lastBacklog = 0;
      while (!stopping) {
        if (broken) throw broken;
        const n = await drainOnce(c);
        const now = Date.now();
        if (now - lastBacklog >= 1000 || n === 0) {
          lastBacklog = now;
          await updateBacklog(c);
        }
        if (now - lastCleanup >= cleanupIntervalMs) {
          lastCleanup = now;
          await cleanup(c);
        }
        if (n < batchSize) {
          if (waker.takeWake()) continue; // more was committed meanwhile: the next drain marks too
          await flushMarks(c);
          await waker.wait(pollIntervalMs);
        }
      }
      await flushMarks(c);
    } finally {
      if (active) log.info({ schema, relay: name }, 'relay: released the outbox lock');
      setActive(false);
      await c.end().catch(() => undefined); // ends the session: the lock goes with it
    }
  }

  const loop = (async () => {
    for (let attempt = 1; !stopping; attempt++) {
      try {
        await runConnected();
        attempt = 0;
      } catch (err) {
        if (stopping) break;
        const delay = backoffDelay(Math.min(attempt, 10), backoff);
        log.error({ schema, relay: name, err: errorMessage(err), delayMs: delay }, 'relay: database connection failed; reconnecting');
        await waker.wait(delay);
      }
    }
  })();

  return {
    isActive: () => active,
    activated,
    stats: () => ({ ...stats }),
    async stop() {
      stopping = true;
      onStop();
      waker.wake();
      await loop;
    },
  };
}
