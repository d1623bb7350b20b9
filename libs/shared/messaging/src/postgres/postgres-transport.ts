import { Client, Pool, type PoolClient, type QueryResultRow } from 'pg';
import { createSchemaIfMissing } from '@carve/shared-persistence';
import { isDlqTopic, dlqTopicFor, sourceOfTopic } from '../envelope';
import { ident } from '../executor';
import { postgresTransportMigrationSql } from '../inbox';
import { outboxLogChannel } from '../outbox';
import { uuidv7 } from '../uuidv7';
import {
  type DeadLetter,
  DLQ_HEADERS,
  type EnsureTopicsReport,
  originalHeaders,
  type OutboundMessage,
  type PartitionLag,
  replayBatches,
  REPLAYED_FROM_HEADER,
  type ReplayOptions,
  type SubscribeOptions,
  type Subscription,
  type TopicDeclaration,
  type Transport,
} from '../transport';
import { backoffDelay, DEFAULT_BACKOFF, errorMessage, type MessagingLogger, silentLogger, Waker } from '../util';

export interface PostgresTransportOptions {
  databaseUrl: string;
  /** Schema of each source's outbox; default: the source's own name (`legacy` → `legacy.outbox`). */
  schemaForSource?: Record<string, string>;
  /** Schema of the transport's own tables (group positions, dead letters); default `carve`. */
  schema?: string;
  /** Fallback poll when no NOTIFY arrives; default 1000 ms. */
  pollIntervalMs?: number;
  /** Rows read per query; default 500. */
  batchSize?: number;
  logger?: MessagingLogger;
}

interface TopicState {
  topic: string;
  schema: string;
  locked: boolean;
  position: bigint | null;
}

interface DeadLetterRow {
  id: string;
  dlq_topic: string;
  original_topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  event_id: string | null;
  error: string;
  reason: string;
  group_id: string | null;
  attempts: number;
  failed_at: Date;
  replayed_at: Date | null;
  headers: Record<string, string> | null;
}

const toDeadLetter = (r: DeadLetterRow): DeadLetter => ({
  id: String(r.id),
  dlqTopic: r.dlq_topic,
  originalTopic: r.original_topic,
  partition: r.partition,
  offset: r.offset,
  key: r.key,
  value: r.value,
  eventId: r.event_id,
  error: r.error,
  reason: r.reason,
  group: r.group_id,
  attempts: r.attempts,
  failedAt: r.failed_at.toISOString(),
  replayedAt: r.replayed_at ? r.replayed_at.toISOString() : null,
  headers: originalHeaders(r.headers),
});

/**
 * The embedded adapter of the messaging port: no broker, the outbox tables are the log.
 * A topic lives in its source's outbox (`legacy.notes.v1` → rows of `legacy.outbox` with that
 * topic); its order is `log_pos`, which the single active relay assigns as it marks rows
 * published, so it follows commit order. Each group keeps its position per topic in
 * `carve.messaging_offsets`, one consumer per (group, topic) at a time through an advisory
 * lock; consumers wake on the relay's NOTIFY (`<schema>_outbox_log`) and poll as a fallback.
 * Dead letters go to `carve.messaging_dead_letters`. One partition per topic.
 */
export class PostgresTransport implements Transport {
  readonly kind = 'postgres' as const;
  readonly outboxIsLog = true;
  readonly pool: Pool;
  private readonly own: string;
  private readonly log: MessagingLogger;
  private migrated: Promise<void> | undefined;
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly opts: PostgresTransportOptions) {
    this.own = ident(opts.schema ?? 'carve');
    this.log = opts.logger ?? silentLogger;
    this.pool = new Pool({ connectionString: opts.databaseUrl, max: 6, application_name: 'carve-pg-transport' });
    this.pool.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'postgres transport: idle connection failed'));
  }

  /** The schema whose outbox holds `topic`. */
  schemaOf(topic: string): string {
    const source = sourceOfTopic(topic);
    return ident(this.opts.schemaForSource?.[source] ?? source.replace(/-/g, '_'));
  }

  private ensureOwnTables(): Promise<void> {
    this.migrated ??= (async () => {
      const c = await this.pool.connect();
      try {
        // The control plane's migration creates the same schema under another lock.
        await createSchemaIfMissing(c, this.own);
        await c.query('BEGIN');
        await c.query(`SELECT pg_advisory_xact_lock(hashtext('carve.messaging.migrate'))`);
        await c.query(postgresTransportMigrationSql(this.own));
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        this.migrated = undefined;
        throw err;
      } finally {
        c.release();
      }
    })();
    return this.migrated;
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * Dead letters go to the DLQ table; anything else is appended to its source's outbox as a new
   * row (it becomes readable once the relay of that outbox has marked it).
   */
  async publish(messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.ensureOwnTables();
    await this.tx(async (c) => {
      for (const m of messages) {
        if (m.value === null && !isDlqTopic(m.topic)) throw new Error(`the postgres transport carries JSON only; the message for ${m.topic} is a tombstone (null)`);
        const value = Buffer.isBuffer(m.value) ? m.value.toString('utf8') : m.value;
        const h = m.headers ?? {};
        if (isDlqTopic(m.topic)) {
          await c.query(
            `INSERT INTO ${this.own}.messaging_dead_letters
               (dlq_topic, original_topic, partition, "offset", key, value, headers, event_id, error, reason, group_id, attempts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
            [
              m.topic, h[DLQ_HEADERS.originalTopic] ?? m.topic.replace(/\.dlq$/, ''), Number(h[DLQ_HEADERS.partition] ?? 0),
              h[DLQ_HEADERS.offset] ?? '', m.key, value, JSON.stringify(h), h[DLQ_HEADERS.eventId] ?? null,
              h[DLQ_HEADERS.error] ?? '', h[DLQ_HEADERS.reason] ?? '', h[DLQ_HEADERS.group] ?? null, Number(h[DLQ_HEADERS.attempts] ?? 0),
            ],
          );
        } else {
          try {
            JSON.parse(value ?? '');
          } catch {
            throw new Error(`the postgres transport carries JSON only; the message for ${m.topic} is not JSON`);
          }
          await c.query(
            `INSERT INTO ${this.schemaOf(m.topic)}.outbox (id, topic, key, envelope, headers) VALUES ($1, $2, $3, $4::jsonb, $5)`,
            [uuidv7(), m.topic, m.key ?? '', value, Object.keys(h).length ? JSON.stringify(h) : null],
          );
        }
      }
    });
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    if (!opts.ephemeral) await this.ensureOwnTables();
    const batchSize = this.opts.batchSize ?? 500;
    const pollIntervalMs = this.opts.pollIntervalMs ?? 1000;
    const group = opts.group;
    const topics: TopicState[] = opts.topics.map((topic) => ({ topic, schema: this.schemaOf(topic), locked: false, position: null }));
    const schemas = [...new Set(topics.map((t) => t.schema))];
    const topicNames = new Set(opts.topics);
    const waker = new Waker();
    let running = true;
    let onReady!: () => void;
    const ready = new Promise<void>((r) => (onReady = r));
    const ctx = { heartbeat: async () => undefined, isRunning: () => running };

    const loadPosition = async (t: TopicState) => {
      if (!opts.ephemeral) {
        const { rows } = await this.pool.query<{ position: string }>(
          `SELECT position FROM ${this.own}.messaging_offsets WHERE group_id = $1 AND topic = $2`,
          [group, t.topic],
        );
        if (rows.length > 0) return void (t.position = BigInt(rows[0].position));
      }
      if (opts.fromBeginning ?? true) t.position = 0n;
      else {
        const rows = await absentAsEmpty(t, () => this.pool.query<{ m: string | null }>(`SELECT max(log_pos) AS m FROM ${t.schema}.outbox WHERE topic = $1`, [t.topic]));
        t.position = BigInt(rows[0]?.m ?? 0);
      }
    };

    // A source outbox that does not exist yet (its owner's migration has not run: a service not
    // deployed yet) is an empty topic, as a declared Kafka topic nobody wrote to: the other topics
    // of the group go on, and this one is read once the table appears.
    const missing = new Set<string>();
    const absentAsEmpty = async <R extends QueryResultRow>(t: TopicState, query: () => Promise<{ rows: R[] }>): Promise<R[]> => {
      try {
        const { rows } = await query();
        missing.delete(t.topic);
        return rows;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== '42P01' && code !== '3F000') throw err;
        if (!missing.has(t.topic)) this.log.warn({ group, topic: t.topic, schema: t.schema }, `postgres transport: ${t.schema}.outbox does not exist yet; reading ${t.topic} once it does`);
        missing.add(t.topic);
        return [];
      }
    };

    // A position lost in a database crash only means redelivery, which the consumer's inbox
    // absorbs: the commit need not wait for the WAL flush (one statement, its own transaction).
    const saveOffset = async (t: TopicState) => {
      if (opts.ephemeral || t.position === null) return;
      await this.pool.query(
        `WITH s AS (SELECT set_config('synchronous_commit', 'off', true))
         INSERT INTO ${this.own}.messaging_offsets (group_id, topic, position) SELECT $1, $2, $3 FROM s
         ON CONFLICT (group_id, topic) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
        [group, t.topic, t.position.toString()],
      );
    };

    /** Reads and hands over one batch of `t`; true if the batch was full (more may be waiting). */
    const pump = async (t: TopicState): Promise<boolean> => {
      const rows = await absentAsEmpty(t, () =>
        this.pool.query<{ log_pos: string; key: string; envelope: string; headers: Record<string, string> | null; published_at: Date }>(
          `SELECT log_pos, key, envelope::text AS envelope, headers, published_at FROM ${t.schema}.outbox
            WHERE topic = $1 AND log_pos > $2 ORDER BY log_pos LIMIT $3`,
          [t.topic, t.position!.toString(), batchSize],
        ),
      );
      if (rows.length === 0) return false;
      const messages = rows.map((r) => ({
        topic: t.topic,
        partition: 0,
        offset: r.log_pos,
        key: r.key,
        value: Buffer.from(r.envelope, 'utf8'),
        headers: r.headers ?? {},
        timestamp: r.published_at.getTime(),
      }));
      const done = running ? await opts.handler(messages, ctx) : 0;
      const moved = done > 0;
      if (moved) {
        t.position = BigInt(rows[done - 1].log_pos);
        await saveOffset(t);
        opts.onLag?.(t.topic, 0, rows.length - done);
      }
      if (opts.onLag && moved && rows.length === batchSize) {
        const { rows: n } = await this.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${t.schema}.outbox WHERE topic = $1 AND log_pos > $2`,
          [t.topic, t.position!.toString()],
        );
        opts.onLag(t.topic, 0, Number(n[0].n));
      }
      return rows.length === batchSize && done === rows.length && running;
    };

    const runConnected = async () => {
      const c = new Client({ connectionString: this.opts.databaseUrl, application_name: `carve-pg-consumer:${group}` });
      let broken: Error | undefined;
      c.on('error', (err) => {
        broken = err;
        waker.wake();
      });
      // The relay's NOTIFY names the topics of its batch (relay.ts `logNotice`): a batch of
      // topics this group does not read wakes nothing, and a wake reads only the topics named.
      // Every topic is read after (re)connecting, on a notice without names, and when the poll
      // interval passes without one (a missed notification).
      let readAll = true;
      const named = new Set<string>();
      c.on('notification', (n) => {
        if (!n.payload) readAll = true;
        else {
          let ours = false;
          for (const topic of n.payload.split(',')) {
            if (!topicNames.has(topic)) continue;
            named.add(topic);
            ours = true;
          }
          if (!ours) return;
        }
        waker.wake();
      });
      await c.connect();
      try {
        for (const s of schemas) await c.query(`LISTEN "${outboxLogChannel(s)}"`);
        while (running) {
          if (broken) throw broken;
          for (const t of topics) {
            if (t.locked) continue;
            if (opts.ephemeral) t.locked = true;
            else {
              const { rows } = await c.query<{ ok: boolean }>(
                `SELECT pg_try_advisory_lock(hashtext('carve.pgconsumer:' || $1), hashtext($2)) AS ok`,
                [group, t.topic],
              );
              t.locked = rows[0].ok;
            }
            if (t.locked) {
              await loadPosition(t);
              named.add(t.topic);
            }
          }
          onReady(); // every topic is ours, or held by another member of the group
          const all = readAll;
          readAll = false;
          let more = false;
          for (const t of topics) {
            if (!t.locked || !running || !(all || named.has(t.topic))) continue;
            named.delete(t.topic);
            if (await pump(t)) {
              more = true;
              named.add(t.topic); // a full batch: read on
            }
          }
          if (!more && running && !(await waker.wait(pollIntervalMs))) readAll = true;
        }
      } finally {
        for (const t of topics) {
          t.locked = false;
          t.position = null;
        }
        await c.end().catch(() => undefined);
      }
    };

    const loop = (async () => {
      for (let attempt = 1; running; attempt++) {
        try {
          await runConnected();
        } catch (err) {
          if (!running) break;
          const delay = backoffDelay(Math.min(attempt, 10), DEFAULT_BACKOFF);
          this.log.error({ group, err: errorMessage(err), delayMs: delay }, 'postgres transport: consumer failed; resuming from the stored position');
          await waker.wait(delay);
        }
      }
    })();

    const sub: Subscription = {
      ready,
      stop: async () => {
        running = false;
        waker.wake();
        await loop;
        onReady();
        this.subscriptions.delete(sub);
      },
    };
    this.subscriptions.add(sub);
    return sub;
  }

  async ensureTopics(declarations: TopicDeclaration[]): Promise<EnsureTopicsReport> {
    await this.ensureOwnTables();
    const report: EnsureTopicsReport = { created: [], existing: [], mismatched: [], notes: [] };
    const missingSchemas = new Set<string>();
    for (const d of declarations) {
      const schema = this.schemaOf(d.name);
      const { rows } = await this.pool.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`${schema}.outbox`]);
      if (rows[0].t || isDlqTopic(d.name)) report.existing.push(d.name);
      else missingSchemas.add(schema);
    }
    report.notes.push(`postgres transport: a topic is the rows of its source's outbox; dead letters go to ${this.own}.messaging_dead_letters; nothing to create`);
    for (const s of missingSchemas) report.notes.push(`${s}.outbox does not exist yet: the migration of the schema's owner creates it (outboxMigrationSql)`);
    return report;
  }

  async listDeadLetters(opts: { topic?: string } = {}): Promise<DeadLetter[]> {
    await this.ensureOwnTables();
    const topic = opts.topic ? opts.topic.replace(/\.dlq$/, '') : null;
    const { rows } = await this.pool.query<DeadLetterRow>(
      `SELECT * FROM ${this.own}.messaging_dead_letters WHERE $1::text IS NULL OR original_topic = $1 ORDER BY id`,
      [topic],
    );
    return rows.map(toDeadLetter);
  }

  async replayDeadLetters(opts: ReplayOptions): Promise<DeadLetter[]> {
    await this.ensureOwnTables();
    const topic = opts.topic.replace(/\.dlq$/, '');
    return this.tx(async (c) => {
      // Locked: a concurrent replay waits here, then finds these replayed.
      const { rows } = await c.query<DeadLetterRow>(
        `SELECT * FROM ${this.own}.messaging_dead_letters
          WHERE original_topic = $1 AND replayed_at IS NULL AND ($2::text IS NULL OR id::text = $2 OR event_id = $2)
          ORDER BY id FOR UPDATE`,
        [topic, opts.id ?? null],
      );
      const batches = replayBatches(rows.map(toDeadLetter), {});
      if (opts.dryRun) return batches.flat();
      // One outbox row per failed message (several groups' dead letters of it share it), with
      // its key and its own headers.
      for (const b of batches) {
        await c.query(
          `INSERT INTO ${this.schemaOf(b[0].originalTopic)}.outbox (id, topic, key, envelope, headers) VALUES ($1, $2, $3, $4::jsonb, $5)`,
          [uuidv7(), b[0].originalTopic, b[0].key ?? '', b[0].value, JSON.stringify({ ...b[0].headers, [REPLAYED_FROM_HEADER]: b.map((d) => `${dlqTopicFor(d.originalTopic)}#${d.id}`).join(',') })],
        );
      }
      const { rows: done } = await c.query<DeadLetterRow>(
        `UPDATE ${this.own}.messaging_dead_letters SET replayed_at = now() WHERE id = ANY($1::bigint[]) RETURNING *`,
        [rows.map((r) => r.id)],
      );
      return done.sort((a, b) => Number(a.id) - Number(b.id)).map(toDeadLetter);
    });
  }

  async lag(group: string, topics: string[]): Promise<PartitionLag[]> {
    await this.ensureOwnTables();
    const out: PartitionLag[] = [];
    for (const topic of topics) {
      const { rows: o } = await this.pool.query<{ position: string }>(
        `SELECT position FROM ${this.own}.messaging_offsets WHERE group_id = $1 AND topic = $2`,
        [group, topic],
      );
      const { rows: m } = await this.pool.query<{ m: string | null }>(`SELECT max(log_pos) AS m FROM ${this.schemaOf(topic)}.outbox WHERE topic = $1`, [topic]);
      const end = BigInt(m[0].m ?? 0);
      const committed = o.length ? BigInt(o[0].position) : null;
      // Positions are log_pos values (shared by all topics of an outbox): the lag counts rows.
      const { rows: n } = await this.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${this.schemaOf(topic)}.outbox WHERE topic = $1 AND log_pos > $2`,
        [topic, (committed ?? 0n).toString()],
      );
      out.push({ topic, partition: 0, committed: committed === null ? null : committed.toString(), end: end.toString(), lag: Number(n[0].n) });
    }
    return out;
  }

  async close(): Promise<void> {
    for (const sub of [...this.subscriptions]) await sub.stop();
    await this.pool.end().catch(() => undefined);
  }
}

export function createPostgresTransport(opts: PostgresTransportOptions): PostgresTransport {
  return new PostgresTransport(opts);
}
