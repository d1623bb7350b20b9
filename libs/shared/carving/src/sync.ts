/**
 * How far behind a consumer is, measured where it counts: events in the producer's outbox (of
 * the consumer's topics, still retained) that the consumer has not recorded in its inbox yet.
 * The same on both transports (Kafka or Postgres), exact, and what a rollback waits on: when
 * nothing of the service's outbox is pending for the monolith's reverse-sync consumer, every
 * write the service acknowledged is in the monolith.
 *
 * (A dead-lettered event never reaches the inbox: it stays pending, and a rollback waiting for
 * it says so rather than pretending the monolith has it.)
 */
import type { ForwardSync, ReverseSync } from './context';
import { ident } from './sql';

type Q = { query: (sql: string, params?: unknown[]) => Promise<{ rows: any[] }> };

export interface SyncSpec {
  readonly outboxSchema: string;
  readonly inboxSchema: string;
  readonly group: string;
  readonly topics: readonly string[];
}

export interface SyncLag {
  readonly group: string;
  readonly from: string;
  readonly to: string;
  /** Outbox rows of the consumer's topics not yet published by the relay. */
  readonly unpublished: number;
  /** Outbox rows of the consumer's topics not yet in the consumer's inbox (published or not). */
  readonly pending: number;
  /** Age of the oldest pending event in ms (0 when none): the lag in time. */
  readonly oldestPendingMs: number;
  /** Set when the lag could not be measured (a table is missing: not migrated yet). */
  readonly error?: string;
}

export const forwardSpec = (s: ForwardSync): SyncSpec => s;
export const reverseSpec = (s: ReverseSync): SyncSpec => s;

/**
 * The outbox position of a sync's producer: the highest `seq` of its topics' rows. Read after a
 * handover's fence has committed, every event the fenced side wrote is at or below it.
 */
export async function outboxPosition(db: Q, spec: SyncSpec): Promise<number> {
  const out = ident(spec.outboxSchema, 'outbox schema');
  const r = await db.query(`SELECT coalesce(max(seq), 0)::bigint AS p FROM ${out}.outbox WHERE topic = ANY($1::text[])`, [[...spec.topics]]);
  return Number(r.rows[0].p);
}

/** The lag of a consumer; with `upTo`, only of the outbox rows at or below that position. */
export async function measureLag(db: Q, spec: SyncSpec, upTo?: number): Promise<SyncLag> {
  const out = ident(spec.outboxSchema, 'outbox schema');
  const inb = ident(spec.inboxSchema, 'inbox schema');
  const base = { group: spec.group, from: `${out}.outbox`, to: `${inb}.inbox` };
  try {
    const r = await db.query(
      `SELECT count(*) FILTER (WHERE o.published_at IS NULL)::bigint AS unpublished,
              count(*) FILTER (WHERE i.event_id IS NULL)::bigint AS pending,
              coalesce(extract(epoch FROM now() - min(o.created_at) FILTER (WHERE i.event_id IS NULL)) * 1000, 0)::bigint AS oldest
         FROM ${out}.outbox o
         LEFT JOIN ${inb}.inbox i ON i.consumer = $1 AND i.event_id = (o.envelope->>'id')::uuid
        WHERE o.topic = ANY($2::text[]) AND ($3::bigint IS NULL OR o.seq <= $3::bigint)`,
      [spec.group, [...spec.topics], upTo ?? null],
    );
    return { ...base, unpublished: Number(r.rows[0].unpublished), pending: Number(r.rows[0].pending), oldestPendingMs: Number(r.rows[0].oldest) };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '3F000') return { ...base, unpublished: 0, pending: 0, oldestPendingMs: 0, error: (err as Error).message };
    throw err;
  }
}

/** The consumer did not catch up in time. */
export class DrainTimeoutError extends Error {
  constructor(readonly lag: SyncLag, readonly waitedMs: number) {
    super(
      `${lag.pending} event(s) of ${lag.from} have not reached ${lag.to} (consumer ${lag.group}) after ${Math.round(waitedMs / 1000)} s` +
        (lag.unpublished ? `; ${lag.unpublished} of them not even published by the relay` : ''),
    );
    this.name = 'DrainTimeoutError';
  }
}

/** Waits (bounded) until nothing is pending for the consumer; resolves with the last measurement. */
export async function waitForDrain(
  db: Q,
  spec: SyncSpec,
  opts: { timeoutMs?: number; pollMs?: number; onPoll?: (lag: SyncLag) => void; upTo?: number } = {},
): Promise<SyncLag> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const pollMs = opts.pollMs ?? 200;
  const started = Date.now();
  for (;;) {
    const lag = await measureLag(db, spec, opts.upTo);
    opts.onPoll?.(lag);
    if (lag.error) throw new Error(`cannot measure ${spec.group}'s lag: ${lag.error}`);
    if (lag.pending === 0) return lag;
    const waited = Date.now() - started;
    if (waited >= timeoutMs) throw new DrainTimeoutError(lag, waited);
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, timeoutMs - waited))));
  }
}

export type ConsumerLiveness = 'live' | 'not-running' | 'unknown';

/**
 * Whether a consumer group is running, as far as Postgres can tell: the Postgres transport's
 * consumer holds a connection named `carve-pg-consumer:<group>`. On Kafka the group lives in the
 * broker, so the answer is `unknown`.
 */
export async function consumerLiveness(db: Q, group: string, transport: 'kafka' | 'postgres'): Promise<ConsumerLiveness> {
  if (transport !== 'postgres') return 'unknown';
  const r = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [`carve-pg-consumer:${group}`]);
  return r.rows[0].n > 0 ? 'live' : 'not-running';
}
