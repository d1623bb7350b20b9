/**
 * The messaging port: what the relay, the consumer runner and the CLI need from a transport.
 * Two adapters implement it: `kafka` (kafkajs, the only place kafkajs is used) and `postgres`
 * (the embedded default: the outbox tables are the log).
 */

export interface OutboundMessage {
  topic: string;
  key: string | null;
  /** null: a tombstone (Kafka; the Postgres transport carries JSON only). */
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

export interface DeliveredMessage {
  topic: string;
  partition: number;
  /** Kafka offset, or the outbox `log_pos` on the Postgres transport (a decimal string). */
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** When the message entered the log (ms since epoch). */
  timestamp: number;
}

export interface DeliveryContext {
  /** Keeps the consumer's membership alive during a long handler (Kafka); a no-op elsewhere. */
  heartbeat(): Promise<void>;
  /** False once the subscription is stopping: stop work, do not commit. */
  isRunning(): boolean;
}

/**
 * Called with messages of one partition, in offset order. Resolves with how many of them, from
 * the first, are done with (their offsets may be committed); fewer than all means "stop here"
 * (the subscription is stopping; the rest is delivered again later). A rejection is treated
 * like 0 and the transport retries from the last committed position.
 */
export type BatchHandler = (messages: DeliveredMessage[], ctx: DeliveryContext) => Promise<number>;

/** A one-message-at-a-time handler (true: done; false: stop before it), as a BatchHandler. */
export function perMessage(fn: (message: DeliveredMessage, ctx: DeliveryContext) => Promise<boolean>): BatchHandler {
  return async (messages, ctx) => {
    let done = 0;
    for (const m of messages) {
      if (!ctx.isRunning() || !(await fn(m, ctx))) break;
      done += 1;
    }
    return done;
  };
}

export interface SubscribeOptions {
  group: string;
  topics: string[];
  /** Where a group with no committed position starts: the beginning (default) or the end. */
  fromBeginning?: boolean;
  /** Commit nothing and leave nothing behind (for `carve events tail`, DLQ reads). */
  ephemeral?: boolean;
  handler: BatchHandler;
  /** Lag after each handled batch: messages behind the end of that partition. */
  onLag?: (topic: string, partition: number, lag: number) => void;
}

export interface Subscription {
  /** Resolves once the subscription has its partitions assigned and is reading. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

export interface TopicDeclaration {
  name: string;
  partitions: number;
  replicationFactor?: number;
  /** -1 keeps messages forever (a compacted state topic). */
  retentionMs: number;
  cleanupPolicy: CleanupPolicy;
  description?: string;
}

export interface EnsureTopicsReport {
  created: string[];
  existing: string[];
  /** Existing topics whose settings differ from the declaration (reported, never changed). */
  mismatched: Array<{ topic: string; setting: string; declared: string; actual: string }>;
  notes: string[];
}

export interface DeadLetter {
  /** Stable id for `carve events dlq replay --id`: `<dlq topic>:<partition>:<offset>` or the table row id. */
  id: string;
  dlqTopic: string;
  originalTopic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  /** The event id, if the body parsed as an envelope. */
  eventId: string | null;
  error: string;
  reason: string;
  group: string | null;
  attempts: number;
  failedAt: string;
  /** When a replay sent it back to its topic; null: waiting. */
  replayedAt: string | null;
  /** The failed message's own headers (without the DLQ's): a replay sends them again. */
  headers: Record<string, string>;
}

export interface ReplayOptions {
  /** The original topic (or its `.dlq`). */
  topic: string;
  /** Only the dead letter with this id, or the dead letters of the event with this id. */
  id?: string;
  /** Select and return what would be replayed; send and mark nothing. */
  dryRun?: boolean;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** The group's committed position (next offset to read), or null if it has none. */
  committed: string | null;
  /** The end of the partition (next offset to be written). */
  end: string;
  /** Messages from the committed position (or, without one, from the start) to the end. */
  lag: number;
}

export interface Transport {
  readonly kind: 'kafka' | 'postgres';
  /**
   * True when the outbox table itself is the log (Postgres transport): the relay then only
   * marks rows published (giving them their log position) instead of shipping them.
   */
  readonly outboxIsLog: boolean;
  /** Writes messages, acknowledged by all in-sync replicas, in order per topic and key. */
  publish(messages: OutboundMessage[]): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  ensureTopics(declarations: TopicDeclaration[]): Promise<EnsureTopicsReport>;
  listDeadLetters(opts?: { topic?: string }): Promise<DeadLetter[]>;
  /**
   * Publishes the waiting dead letters of `topic` back to their original topic, each at most
   * once: a dead letter is marked replayed (claimed) before it is sent, and one message failed
   * in several consumer groups is sent once for all of them. The original key, headers and a
   * null value (tombstone) are kept. Resolves with the dead letters replayed (or, with
   * `dryRun`, those that would be).
   */
  replayDeadLetters(opts: ReplayOptions): Promise<DeadLetter[]>;
  lag(group: string, topics: string[]): Promise<PartitionLag[]>;
  close(): Promise<void>;
}

/** Headers the consumer runner puts on a dead letter (Kafka); columns of the DLQ table (Postgres). */
export const DLQ_HEADERS = {
  originalTopic: 'carve-dlq-original-topic',
  partition: 'carve-dlq-original-partition',
  offset: 'carve-dlq-original-offset',
  error: 'carve-dlq-error',
  reason: 'carve-dlq-reason',
  group: 'carve-dlq-group',
  attempts: 'carve-dlq-attempts',
  failedAt: 'carve-dlq-failed-at',
  eventId: 'carve-dlq-event-id',
} as const;

export const REPLAYED_FROM_HEADER = 'carve-replayed-from';

/** The headers the failed message had, from a dead letter's headers (without the DLQ's own and an earlier replay mark). */
export function originalHeaders(headers: Record<string, string> | null | undefined): Record<string, string> {
  const dlq = new Set<string>(Object.values(DLQ_HEADERS));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (!dlq.has(k) && k !== REPLAYED_FROM_HEADER) out[k] = v;
  return out;
}

/**
 * The waiting dead letters a replay selects, by the message each one failed on: several
 * consumer groups dead-lettering the same message (same topic, partition and offset) make one
 * message to send again, for all of their dead letters.
 */
export function replayBatches(letters: DeadLetter[], opts: Pick<ReplayOptions, 'id'>): DeadLetter[][] {
  const chosen = letters.filter((d) => d.replayedAt === null && (!opts.id || d.id === opts.id || d.eventId === opts.id));
  const byMessage = new Map<string, DeadLetter[]>();
  for (const d of chosen) {
    const key = d.partition >= 0 && d.offset !== '' ? `${d.originalTopic}\u0000${d.partition}\u0000${d.offset}` : `id\u0000${d.id}`;
    byMessage.set(key, [...(byMessage.get(key) ?? []), d]);
  }
  return [...byMessage.values()];
}
