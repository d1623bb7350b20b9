import { context } from '@opentelemetry/api';
import type { Pool, PoolClient } from 'pg';
import type { Registry } from 'prom-client';
import { isSyncConflict, recordSyncConflict, type SyncConflict } from './conflicts';
import { dlqTopicFor, type Envelope, MalformedMessageError, parseEnvelope } from './envelope';
import { ident, queryRows, type SqlExecutor } from './executor';
import { messagingMetrics } from './metrics';
import { contextOf, endSpans, messageSpan, type MessageSpan } from './tracing';
import { type DeliveredMessage, type DeliveryContext, DLQ_HEADERS, type Subscription, type Transport } from './transport';
import { type Backoff, backoffDelay, DEFAULT_BACKOFF, errorMessage, isConnectionError, type MessagingLogger, silentLogger, sleep } from './util';

/** A handler failure that retrying cannot fix: the event goes to the DLQ at once. */
export class NonRetriableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetriableError';
  }
}

/** Runs `fn` in one database transaction and commits it (or rolls back if `fn` throws). */
export type TransactionRunner<Tx extends SqlExecutor> = <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;

/** A TransactionRunner on a pg Pool. (With TypeORM: `(fn) => dataSource.transaction((em) => fn(em))`.) */
export function pgTransactions(pool: Pool): TransactionRunner<PoolClient> {
  return async (fn) => {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      if (isConnectionError(err)) broken = true;
      throw err;
    } finally {
      client.release(broken ? true : undefined);
    }
  };
}

/**
 * Marks the applying transaction as a sync apply, so that the write fence of the consuming side
 * (@carve/shared-persistence write-fence.ts: `carve.sync_apply`) lets the handler write the
 * other side's changes whoever owns the context's writes. An expression, folded into the
 * inbox statement: no extra round trip.
 */
const MARK_SYNC_APPLY = `set_config('carve.sync_apply', 'on', true)`;

/**
 * What became of an event: applied; a redelivery (duplicate); not newer than what the consumer
 * applied of its aggregate (stale); this consumer's own change coming back (own-origin); or a
 * conflict: the handler found that this side wrote the event's version of the aggregate itself,
 * so it was neither applied nor skipped but recorded in `<schema>.sync_conflicts` (conflicts.ts).
 */
export type ApplyOutcome = 'applied' | 'duplicate' | 'stale' | 'own-origin' | 'conflict';

export interface EventMeta {
  topic: string;
  partition: number;
  offset: string;
}

/** Applies one event; returns a SyncConflict instead when it must not be applied (see conflicts.ts). */
export type EventHandler<Tx extends SqlExecutor> = (event: Envelope, tx: Tx, meta: EventMeta) => Promise<void | SyncConflict>;

/** A handler's conflict: stored with both payloads, and the inbox row says so. */
async function keepConflict(tx: SqlExecutor, schema: string, consumer: string, event: Envelope, meta: EventMeta, conflict: SyncConflict): Promise<void> {
  await recordSyncConflict(tx, schema, { consumer, topic: meta.topic, event, conflict });
  await tx.query(`UPDATE ${ident(schema)}.inbox SET outcome = 'conflict' WHERE consumer = $1 AND event_id = $2`, [consumer, event.id]);
}

/**
 * Serialises the events of one key (e.g. a note and its links) across concurrent transactions:
 * a transaction-level advisory lock per distinct key of the run, taken in one statement and in
 * sorted order, before any row is touched. Two runs that share keys wait for each other instead
 * of taking the rows' locks in opposite orders (a deadlock).
 */
async function lockKeys(tx: SqlExecutor, group: string, keys: ReadonlyArray<string | null | undefined>): Promise<void> {
  const distinct = [...new Set(keys.filter((k): k is string => typeof k === 'string' && k.length > 0))].sort();
  if (distinct.length === 0) return;
  await tx.query(
    `SELECT count(pg_advisory_xact_lock(hashtext($1), hashtext(k))) FROM (SELECT k FROM unnest($2::text[]) WITH ORDINALITY AS t(k, ord) ORDER BY ord) s`,
    [`carve.serialize:${group}`, distinct],
  );
}

/**
 * The idempotent apply, inside the caller's transaction: record the event in the inbox
 * (a redelivery stops here), skip it if its origin is ignored or its aggregateVersion is not
 * newer than the stored one, otherwise run the handler and store the new version.
 */
export async function applyEvent<Tx extends SqlExecutor>(
  tx: Tx,
  args: { schema: string; consumer: string; event: Envelope; meta: EventMeta; handle: EventHandler<Tx>; skipOrigins?: readonly string[] },
): Promise<ApplyOutcome> {
  const s = ident(args.schema);
  const e = args.event;
  const inboxRow = [args.consumer, e.id, args.meta.topic, e.type, e.aggregateType, e.aggregateId, e.aggregateVersion];
  // received_at from the clock, not the transaction's start: the events of one run keep their order.
  const insertInbox = `INSERT INTO ${s}.inbox (consumer, event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version, outcome, received_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp()) ON CONFLICT (consumer, event_id) DO NOTHING RETURNING 1`;

  if (args.skipOrigins?.includes(e.origin)) {
    const rows = await queryRows(tx, insertInbox, [...inboxRow, 'own-origin']);
    return rows.length === 0 ? 'duplicate' : 'own-origin';
  }
  // One round trip: record the event in the inbox (a redelivery stops here) and, only if it is
  // new there, move the aggregate's version forward if this event is newer. Both rows stay
  // locked until commit, so concurrent deliveries of the same event or aggregate serialise.
  const [r] = await queryRows<{ fresh: boolean; newer: boolean }>(
    tx,
    `WITH ins AS (${insertInbox}),
     up AS (
       INSERT INTO ${s}.aggregate_versions (consumer, aggregate_type, aggregate_id, version)
       SELECT $1, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM ins)
       ON CONFLICT (consumer, aggregate_type, aggregate_id)
         DO UPDATE SET version = EXCLUDED.version, updated_at = now() WHERE aggregate_versions.version < EXCLUDED.version
       RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM ins) AS fresh, EXISTS (SELECT 1 FROM up) AS newer, ${MARK_SYNC_APPLY} AS sync`,
    [...inboxRow, 'applied'],
  );
  if (!r.fresh) return 'duplicate';
  if (!r.newer) {
    await tx.query(`UPDATE ${s}.inbox SET outcome = 'stale' WHERE consumer = $1 AND event_id = $2`, [args.consumer, e.id]);
    return 'stale';
  }
  const result = await args.handle(e, tx, args.meta);
  if (isSyncConflict(result)) {
    await keepConflict(tx, args.schema, args.consumer, e, args.meta, result);
    return 'conflict';
  }
  return 'applied';
}

/** One event of a run, as `admitRun` sees it. */
export interface RunEvent {
  event: Envelope;
  meta: EventMeta;
}

/**
 * The inbox and version check of a whole run of events in two statements, inside the caller's
 * transaction, instead of one per event. The outcomes are those `applyEvent` would give the
 * events one after another (a copy of an event earlier in the run is a duplicate, an event not
 * newer than the stored version or than an earlier event of its aggregate in the run is stale);
 * the caller runs the handler of each 'applied' one, in order, in the same transaction.
 *
 * 1. Records every event in the inbox (ON CONFLICT DO NOTHING: what was there is a redelivery)
 *    and, for the aggregates of the new non-ignored ones, locks their version rows (a
 *    placeholder version 0 for an aggregate never seen; event versions start at 1) and reads
 *    their current version. Waiting on those locks serialises concurrent deliveries exactly as
 *    the per-event upsert does.
 * 2. Stores each touched aggregate's new version and marks the stale events in the inbox.
 */
export async function admitRun(
  tx: SqlExecutor,
  args: { schema: string; consumer: string; run: readonly RunEvent[]; skipOrigins?: readonly string[] },
): Promise<ApplyOutcome[]> {
  const s = ident(args.schema);
  const own = (e: Envelope) => args.skipOrigins?.includes(e.origin) ?? false;
  const firstIndex = new Map<string, number>();
  const unique: RunEvent[] = [];
  for (const [i, r] of args.run.entries()) {
    if (firstIndex.has(r.event.id)) continue;
    firstIndex.set(r.event.id, i);
    unique.push(r);
  }
  const col = <T>(f: (r: RunEvent) => T) => unique.map(f);
  const rows = await queryRows<{ kind: 'e' | 'v' | 's'; a: string; b: string | null; v: string | null }>(
    tx,
    `WITH input AS (
       SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[]) WITH ORDINALITY
         AS t(event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version, outcome, ord)),
     ins AS (
       INSERT INTO ${s}.inbox (consumer, event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version, outcome, received_at)
       SELECT $1, event_id, topic, event_type, aggregate_type, aggregate_id, aggregate_version, outcome, clock_timestamp() FROM input ORDER BY ord
       ON CONFLICT (consumer, event_id) DO NOTHING
       RETURNING event_id, aggregate_type, aggregate_id, outcome),
     locked AS (
       INSERT INTO ${s}.aggregate_versions (consumer, aggregate_type, aggregate_id, version)
       SELECT DISTINCT $1, aggregate_type, aggregate_id, 0::bigint FROM ins WHERE outcome = 'applied'
       ORDER BY 2, 3
       ON CONFLICT (consumer, aggregate_type, aggregate_id) DO UPDATE SET version = aggregate_versions.version
       RETURNING aggregate_type, aggregate_id, version)
     SELECT 'e' AS kind, event_id::text AS a, NULL::text AS b, NULL::bigint AS v FROM ins
     UNION ALL
     SELECT 'v', aggregate_type, aggregate_id, version FROM locked
     UNION ALL
     SELECT 's', ${MARK_SYNC_APPLY}, NULL, NULL`,
    [
      args.consumer,
      col((r) => r.event.id),
      col((r) => r.meta.topic),
      col((r) => r.event.type),
      col((r) => r.event.aggregateType),
      col((r) => r.event.aggregateId),
      col((r) => r.event.aggregateVersion),
      col((r) => (own(r.event) ? 'own-origin' : 'applied')),
    ],
  );
  const fresh = new Set<string>();
  const key = (type: string, id: string) => `${type}\u0000${id}`;
  const versions = new Map<string, number>();
  for (const r of rows) {
    if (r.kind === 'e') fresh.add(r.a);
    else if (r.kind === 'v') versions.set(key(r.a, r.b!), Number(r.v));
  }
  const bumped = new Map<string, { type: string; id: string; version: number }>();
  const stale: string[] = [];
  const outcomes = args.run.map(({ event: e }, i): ApplyOutcome => {
    if (firstIndex.get(e.id) !== i || !fresh.has(e.id)) return 'duplicate';
    if (own(e)) return 'own-origin';
    const k = key(e.aggregateType, e.aggregateId);
    if (e.aggregateVersion <= (versions.get(k) ?? Number.POSITIVE_INFINITY)) {
      stale.push(e.id);
      return 'stale';
    }
    versions.set(k, e.aggregateVersion);
    bumped.set(k, { type: e.aggregateType, id: e.aggregateId, version: e.aggregateVersion });
    return 'applied';
  });
  if (bumped.size > 0 || stale.length > 0) {
    const b = [...bumped.values()];
    await tx.query(
      `WITH v AS (
         UPDATE ${s}.aggregate_versions a SET version = u.version, updated_at = now()
           FROM unnest($2::text[], $3::text[], $4::bigint[]) AS u(aggregate_type, aggregate_id, version)
          WHERE a.consumer = $1 AND a.aggregate_type = u.aggregate_type AND a.aggregate_id = u.aggregate_id
          RETURNING 1),
       st AS (UPDATE ${s}.inbox SET outcome = 'stale' WHERE consumer = $1 AND event_id = ANY($5::uuid[]) RETURNING 1)
       SELECT (SELECT count(*) FROM v) AS versions, (SELECT count(*) FROM st) AS stale`,
      [args.consumer, b.map((x) => x.type), b.map((x) => x.id), b.map((x) => x.version), stale],
    );
  }
  return outcomes;
}

export interface ConsumerOptions<Tx extends SqlExecutor = PoolClient> {
  transport: Transport;
  /** Consumer group, and the consumer's name in its inbox. */
  group: string;
  topics: string[];
  /** Schema holding this consumer's inbox and aggregate_versions (see inboxMigrationSql). */
  schema: string;
  /** Where the handler's transaction runs: a pg Pool, or a TransactionRunner (e.g. TypeORM's). */
  pool?: Pool;
  transaction?: TransactionRunner<Tx>;
  handle: EventHandler<Tx>;
  /** Checks `data` against the contract; a returned message sends the event to the DLQ. */
  validate?: (event: Envelope) => string | null | undefined;
  /** Origins whose events this consumer records and skips (reverse sync: its own changes). */
  skipOrigins?: string[];
  /**
   * The key whose events must not be applied by two transactions at once (e.g. a note's id for
   * the note's and its links' events, which arrive on different topics); null for none. Each run
   * takes an advisory lock per key, in sorted order, before it touches a row.
   */
  serializeBy?: (event: Envelope) => string | null | undefined;
  /** Handler attempts before the event goes to the DLQ; default 5. */
  maxAttempts?: number;
  /**
   * Most events applied in one transaction (group commit: one commit, so one WAL flush, for a
   * run of events already fetched; each still with its own inbox row and version check).
   * Default 100; 1 gives one transaction per event.
   */
  maxEventsPerTransaction?: number;
  backoff?: Backoff;
  /** A new group starts at the beginning (default) or at the end. */
  fromBeginning?: boolean;
  /**
   * Inbox rows older than this are deleted (default 7 days; 0 keeps them). Safe: a redelivery
   * after that is still skipped, as not newer than the aggregate's stored version.
   */
  inboxRetentionMs?: number;
  registry?: Registry;
  logger?: MessagingLogger;
  /** Test seam: runs after the inbox transaction committed, before the offset is committed. */
  hooks?: { afterCommit?: (event: Envelope, outcome: ApplyOutcome) => void | Promise<void> };
}

export interface ConsumerStats {
  applied: number;
  duplicate: number;
  stale: number;
  ownOrigin: number;
  conflicts: number;
  deadLettered: number;
  retries: number;
}

export interface ConsumerHandle {
  readonly ready: Promise<void>;
  stats(): ConsumerStats;
  stop(): Promise<void>;
}

const MAX_ERROR_CHARS = 2000;

/**
 * Consumes `topics` as `group`: each event is applied with its inbox row and new aggregate
 * version in one transaction, which commits before the offset does. Retriable failures are
 * retried with backoff up to `maxAttempts`; then, or at once for a message that is not an
 * event, fails validation or throws NonRetriableError, it goes to `<topic>.dlq` and the
 * partition moves on. Database outages are waited out (they do not count as attempts).
 */
export async function startConsumer<Tx extends SqlExecutor = PoolClient>(opts: ConsumerOptions<Tx>): Promise<ConsumerHandle> {
  const schema = ident(opts.schema);
  const maybeTx = opts.transaction ?? (opts.pool ? (pgTransactions(opts.pool) as unknown as TransactionRunner<Tx>) : undefined);
  if (!maybeTx) throw new TypeError('startConsumer needs a pool or a transaction runner');
  const transaction: TransactionRunner<Tx> = maybeTx;
  const maxAttempts = opts.maxAttempts ?? 5;
  const maxRun = Math.max(1, opts.maxEventsPerTransaction ?? 100);
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const log = opts.logger ?? silentLogger;
  const metrics = opts.registry ? messagingMetrics(opts.registry) : undefined;
  const group = opts.group;
  const stats: ConsumerStats = { applied: 0, duplicate: 0, stale: 0, ownOrigin: 0, conflicts: 0, deadLettered: 0, retries: 0 };

  async function pause(ms: number, ctx: DeliveryContext): Promise<void> {
    const until = Date.now() + ms;
    while (ctx.isRunning() && Date.now() < until) {
      await sleep(Math.min(250, until - Date.now()));
      await ctx.heartbeat();
    }
  }

  async function deadLetter(m: DeliveredMessage, ctx: DeliveryContext, err: unknown, reason: string, attempts: number, eventId: string | null): Promise<boolean> {
    const headers: Record<string, string> = {
      ...m.headers,
      [DLQ_HEADERS.originalTopic]: m.topic,
      [DLQ_HEADERS.partition]: String(m.partition),
      [DLQ_HEADERS.offset]: m.offset,
      [DLQ_HEADERS.error]: errorMessage(err).slice(0, MAX_ERROR_CHARS),
      [DLQ_HEADERS.reason]: reason,
      [DLQ_HEADERS.group]: group,
      [DLQ_HEADERS.attempts]: String(attempts),
      [DLQ_HEADERS.failedAt]: new Date().toISOString(),
    };
    if (eventId) headers[DLQ_HEADERS.eventId] = eventId;
    for (let attempt = 1; ctx.isRunning(); attempt++) {
      try {
        await opts.transport.publish([{ topic: dlqTopicFor(m.topic), key: m.key, value: m.value, headers }]);
        stats.deadLettered += 1;
        metrics?.consumerDeadLettered.inc({ group, topic: m.topic, reason });
        log.warn({ group, topic: m.topic, partition: m.partition, offset: m.offset, reason, err: errorMessage(err) }, 'consumer: message dead-lettered');
        return true;
      } catch (publishErr) {
        log.error({ group, topic: m.topic, err: errorMessage(publishErr) }, 'consumer: could not write to the DLQ; retrying');
        await pause(backoffDelay(attempt, backoff), ctx);
      }
    }
    return false;
  }

  type Parsed = { ok: true; event: Envelope } | { ok: false; err: unknown; reason: string };
  const parse = (m: DeliveredMessage): Parsed => {
    try {
      const event = parseEnvelope(m.value);
      const invalid = opts.validate?.(event);
      if (invalid) throw new MalformedMessageError(`data does not match contract ${event.type} ${event.version}: ${invalid}`, 'invalid-data');
      return { ok: true, event };
    } catch (err) {
      return { ok: false, err, reason: err instanceof MalformedMessageError ? err.reason : 'invalid' };
    }
  };
  const metaOf = (m: DeliveredMessage): EventMeta => ({ topic: m.topic, partition: m.partition, offset: m.offset });

  const counted = async (m: DeliveredMessage, event: Envelope, outcome: ApplyOutcome) => {
    const conflictContext = conflictContexts.get(event.id);
    conflictContexts.delete(event.id);
    if (outcome === 'applied') {
      stats.applied += 1;
      metrics?.consumerApplied.inc({ group, topic: m.topic });
    } else if (outcome === 'conflict') {
      stats.conflicts += 1;
      metrics?.syncConflicts.inc({ context: conflictContext ?? 'unknown', consumer: group });
      log.warn({ group, eventId: event.id, type: event.type, aggregateId: event.aggregateId, version: event.aggregateVersion, origin: event.origin }, 'consumer: sync conflict recorded (both sides wrote this version)');
    } else {
      if (outcome === 'duplicate') stats.duplicate += 1;
      else if (outcome === 'stale') stats.stale += 1;
      else stats.ownOrigin += 1;
      metrics?.consumerSkipped.inc({ group, topic: m.topic, reason: outcome });
    }
    await opts.hooks?.afterCommit?.(event, outcome);
  };

  /** A handler failure at `index` of a run (the whole run's transaction was rolled back). */
  class RunFailure extends Error {
    constructor(readonly index: number, override readonly cause: unknown) {
      super(errorMessage(cause));
    }
  }

  // The context of each conflict found by a committed run, for the metric's label (counted after commit).
  const conflictContexts = new Map<string, string>();
  const handle: EventHandler<Tx> = async (event, tx, meta) => {
    const result = await opts.handle(event, tx, meta);
    if (isSyncConflict(result)) conflictContexts.set(event.id, result.context);
    return result;
  };

  /** Applies a run of events in one transaction (group commit); throws RunFailure or a connection error. */
  const applyRun = (run: Array<{ m: DeliveredMessage; event: Envelope }>): Promise<ApplyOutcome[]> =>
    transaction(async (tx) => {
      if (opts.serializeBy) {
        try {
          await lockKeys(tx, group, run.map(({ event }) => opts.serializeBy!(event)));
        } catch (err) {
          throw isConnectionError(err) ? err : new RunFailure(0, err);
        }
      }
      if (run.length === 1) {
        // One event: the per-event path takes one round trip fewer than the set-based one.
        const [{ m, event }] = run;
        try {
          return [await applyEvent(tx, { schema, consumer: group, event, meta: metaOf(m), handle, skipOrigins: opts.skipOrigins })];
        } catch (err) {
          throw isConnectionError(err) ? err : new RunFailure(0, err);
        }
      }
      let outcomes: ApplyOutcome[];
      try {
        outcomes = await admitRun(tx, { schema, consumer: group, run: run.map(({ m, event }) => ({ event, meta: metaOf(m) })), skipOrigins: opts.skipOrigins });
      } catch (err) {
        // Not knowing which event the statement failed on, the first is retried alone and the
        // rest run again without it: a bad event is isolated one run at a time.
        throw isConnectionError(err) ? err : new RunFailure(0, err);
      }
      for (const [index, { m, event }] of run.entries()) {
        if (outcomes[index] !== 'applied') continue;
        try {
          const result = await handle(event, tx, metaOf(m));
          if (isSyncConflict(result)) {
            await keepConflict(tx, schema, group, event, metaOf(m), result);
            outcomes[index] = 'conflict';
          }
        } catch (err) {
          throw isConnectionError(err) ? err : new RunFailure(index, err);
        }
      }
      return outcomes;
    });

  /**
   * applyRun with a `process` span per event that carries a trace context (tracing.ts), child of
   * the relay's `send` span; a run of one event is applied inside its span's context.
   */
  const tracedRun = async (run: Array<{ m: DeliveredMessage; event: Envelope }>): Promise<ApplyOutcome[]> => {
    let spans: Array<MessageSpan | undefined> | undefined;
    for (const [i, { m, event }] of run.entries()) {
      const parent = contextOf(m.headers);
      if (!parent) continue;
      spans ??= new Array<MessageSpan | undefined>(run.length).fill(undefined);
      spans[i] = messageSpan('process', m.topic, parent, {
        'messaging.message.id': event.id,
        'messaging.consumer.group.name': group,
        'messaging.destination.partition.id': String(m.partition),
        'carve.event.type': event.type,
      });
    }
    if (!spans) return applyRun(run);
    try {
      const only = run.length === 1 ? spans[0] : undefined;
      const outcomes = await (only ? context.with(only.ctx, () => applyRun(run)) : applyRun(run));
      endSpans(spans, undefined, (i) => ({ 'carve.outcome': outcomes[i] }));
      return outcomes;
    } catch (err) {
      endSpans(spans, err instanceof RunFailure ? err.cause : err);
      throw err;
    }
  };

  /** One event on its own, retried with backoff; dead-lettered after maxAttempts. False if stopped first. */
  async function applyAlone(m: DeliveredMessage, event: Envelope, ctx: DeliveryContext, failed: unknown): Promise<boolean> {
    let attempts = 1; // the run it was in already failed once
    let err = failed;
    let outages = 0;
    for (;;) {
      if (err instanceof NonRetriableError || attempts >= maxAttempts) {
        return deadLetter(m, ctx, err, err instanceof NonRetriableError ? 'non-retriable' : 'handler-failed', attempts, event.id);
      }
      stats.retries += 1;
      metrics?.consumerRetries.inc({ group, topic: m.topic });
      log.warn({ group, eventId: event.id, type: event.type, attempt: attempts, err: errorMessage(err) }, 'consumer: handler failed; retrying');
      await pause(backoffDelay(attempts, backoff), ctx);
      for (;;) {
        if (!ctx.isRunning()) return false;
        try {
          const [outcome] = await tracedRun([{ m, event }]);
          await counted(m, event, outcome);
          return true;
        } catch (e) {
          if (!isConnectionError(e)) {
            err = e instanceof RunFailure ? e.cause : e;
            attempts += 1;
            break;
          }
          outages += 1;
          log.error({ group, err: errorMessage(e) }, 'consumer: database unavailable; waiting');
          await pause(backoffDelay(Math.min(outages, 10), backoff), ctx);
        }
      }
    }
  }

  /**
   * A batch of one partition: runs of consecutive events are applied in one transaction each
   * (every event with its own inbox row and version check); a message that is not an event goes
   * to the DLQ; a run whose handler fails is rolled back, the events before the failing one are
   * applied again without it, and the failing one is retried on its own.
   */
  async function onBatch(messages: DeliveredMessage[], ctx: DeliveryContext): Promise<number> {
    const parsed = messages.map(parse);
    let i = 0;
    let outages = 0;
    let failed: { index: number; err: unknown } | undefined;
    while (i < messages.length) {
      if (!ctx.isRunning()) return i;
      const first = parsed[i];
      if (!first.ok) {
        if (!(await deadLetter(messages[i], ctx, first.err, first.reason, 0, null))) return i;
        i += 1;
        continue;
      }
      if (failed?.index === i) {
        // It failed inside a run already: straight to its own retries, not run again with others.
        const err = failed.err;
        failed = undefined;
        if (!(await applyAlone(messages[i], first.event, ctx, err))) return i;
        i += 1;
        continue;
      }
      const run: Array<{ m: DeliveredMessage; event: Envelope }> = [];
      const limit = failed ? Math.min(maxRun, failed.index - i) : maxRun;
      for (let j = i; j < messages.length && run.length < limit; j++) {
        const p = parsed[j];
        if (!p.ok) break;
        run.push({ m: messages[j], event: p.event });
      }
      try {
        const outcomes = await tracedRun(run);
        for (const [k, outcome] of outcomes.entries()) await counted(run[k].m, run[k].event, outcome);
        i += run.length;
        outages = 0;
        await pruneInbox();
      } catch (err) {
        if (err instanceof RunFailure) {
          failed = { index: i + err.index, err: err.cause }; // the events before it run again without it
          continue;
        }
        if (!isConnectionError(err)) throw err;
        outages += 1;
        log.error({ group, err: errorMessage(err) }, 'consumer: database unavailable; waiting');
        await pause(backoffDelay(Math.min(outages, 10), backoff), ctx);
      }
    }
    return i;
  }

  const inboxRetentionMs = opts.inboxRetentionMs ?? 7 * 86_400_000;
  let lastPrune = Date.now();
  const pruneInbox = async () => {
    if (inboxRetentionMs <= 0 || Date.now() - lastPrune < Math.min(inboxRetentionMs, 600_000)) return;
    lastPrune = Date.now();
    try {
      await transaction((tx) =>
        tx.query(`DELETE FROM ${schema}.inbox WHERE consumer = $1 AND received_at < now() - make_interval(secs => $2::double precision)`, [group, inboxRetentionMs / 1000]),
      );
    } catch (err) {
      log.warn({ group, err: errorMessage(err) }, 'consumer: inbox clean-up failed; will try again');
    }
  };

  const subscription: Subscription = await opts.transport.subscribe({
    group,
    topics: opts.topics,
    fromBeginning: opts.fromBeginning ?? true,
    handler: onBatch,
    onLag: metrics ? (topic, partition, lag) => metrics.consumerLag.set({ group, topic, partition: String(partition) }, lag) : undefined,
  });

  return {
    ready: subscription.ready,
    stats: () => ({ ...stats }),
    stop: () => subscription.stop(),
  };
}
