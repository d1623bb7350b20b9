// kafkajs lives here and nowhere else in the repo (DESIGN.md: behind the messaging port).
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

import { type Admin, ConfigResourceTypes, type EachBatchPayload, type IHeaders, Kafka, type KafkaMessage, logLevel, type Producer } from 'kafkajs';
import { isDlqTopic, dlqTopicFor } from '../envelope';
import { uuidv7 } from '../uuidv7';
import {
  type DeadLetter,
  type DeliveredMessage,
  DLQ_HEADERS,
  type EnsureTopicsReport,
  type OutboundMessage,
  type PartitionLag,
  perMessage,
  REPLAYED_FROM_HEADER,
  type SubscribeOptions,
  type Subscription,
  type TopicDeclaration,
  type Transport,
} from '../transport';
import { errorMessage, type MessagingLogger, silentLogger, sleep } from '../util';
import { PartitionLanes } from './partition-lanes';

export interface KafkaTransportOptions {
  brokers: string[];
  clientId?: string;
  logger?: MessagingLogger;
  /** Partitions one consumer works on at once (each in order); default 3. */
  partitionsConsumedConcurrently?: number;
  /** Consumer session timeout; default 10 s (a dead consumer's partitions move after this). */
  sessionTimeoutMs?: number;
  /** Longest a fetch waits for data; default 100 ms (latency of an idle topic's first message). */
  maxWaitTimeInMs?: number;
  /**
   * Produce requests in flight per broker connection; default 1, which keeps per-partition
   * order across retries. `null` is kafkajs's own default (unlimited): order-insensitive uses
   * only, such as the raw baseline of the benchmark.
   */
  maxInFlightRequests?: number | null;
  /**
   * How often a consumer commits the offsets of what it has applied; default 200 ms. Offsets are
   * committed in the background, not after every batch (kafkajs's autoCommit does the latter,
   * which puts a broker round trip between one fetch and the next). A crash or a rebalance
   * redelivers at most this much more, and the inbox absorbs the duplicates; a clean stop
   * commits everything applied.
   */
  commitIntervalMs?: number;
  /**
   * Messages a partition's lane may hold, besides the chunk its handler is working on, before
   * kafkajs's fetch loop waits for it (src/kafka/partition-lanes.ts); default 0: one fetch ahead
   * of the handler. The benchmark measured no gain from more at 500 events/s on 2 cores (more
   * fetches of fewer messages each cost CPU), but a deeper lane keeps the other partitions
   * flowing for longer while one handler is slow (a lock wait, a slow downstream).
   */
  maxQueuedPerPartition?: number;
}

function headerText(v: IHeaders[string]): string | undefined {
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

function decodeHeaders(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    const t = headerText(v);
    if (t !== undefined) out[k] = t;
  }
  return out;
}

function delivered(topic: string, partition: number, m: KafkaMessage): DeliveredMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value,
    headers: decodeHeaders(m.headers),
    timestamp: Number(m.timestamp),
  };
}

/** Messages handed to the handler at once (one fetch may hold thousands). */
const HANDLER_CHUNK = 500;

/** The Kafka adapter of the messaging port (kafkajs 2.2.4). */
export class KafkaTransport implements Transport {
  readonly kind = 'kafka' as const;
  readonly outboxIsLog = false;
  private readonly kafka: Kafka;
  private readonly log: MessagingLogger;
  private producer: Promise<Producer> | undefined;
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly opts: KafkaTransportOptions) {
    this.log = opts.logger ?? silentLogger;
    const log = this.log;
    this.kafka = new Kafka({
      clientId: opts.clientId ?? 'carve',
      brokers: opts.brokers,
      connectionTimeout: 3000,
      requestTimeout: 30_000,
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.error({ kafkajs: rest }, `kafkajs: ${message}`);
        else log.warn({ kafkajs: rest }, `kafkajs: ${message}`);
      },
    });
  }

  private getProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        // Order per partition survives retries only with one request in flight (kafkajs's
        // idempotent producer is experimental); acks -1 on every send. Duplicates after a
        // retry are possible and absorbed by the consumers' inbox.
        maxInFlightRequests: this.opts.maxInFlightRequests === undefined ? 1 : (this.opts.maxInFlightRequests ?? undefined),
        idempotent: false,
        allowAutoTopicCreation: false,
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2000 },
      });
      this.producer = producer.connect().then(
        () => producer,
        (err) => {
          this.producer = undefined;
          throw err;
        },
      );
    }
    return this.producer;
  }

  async publish(messages: OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.getProducer();
    const byTopic = new Map<string, OutboundMessage[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic) ?? [];
      list.push(m);
      byTopic.set(m.topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      timeout: 30_000,
      topicMessages: [...byTopic].map(([topic, list]) => ({
        topic,
        messages: list.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      })),
    });
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    const groupId = opts.ephemeral ? `${opts.group}-${uuidv7()}` : opts.group;
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: this.opts.maxWaitTimeInMs ?? 100,
      allowAutoTopicCreation: false,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    let onReady!: () => void;
    const ready = new Promise<void>((r) => (onReady = r));
    let joined = false;
    // Ready after the first fetch following a join: by then a new group's start offsets are resolved.
    const offJoin = consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    const offFetch = consumer.on(consumer.events.FETCH, () => {
      if (joined) onReady();
    });
    const offCrash = consumer.on(consumer.events.CRASH, (e) =>
      this.log.error({ group: groupId, err: errorMessage(e.payload.error), restart: e.payload.restart }, 'kafka consumer crashed'),
    );
    await consumer.connect();
    await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
    // Next offset to commit per partition (the last applied + 1), committed on a timer.
    const applied = new Map<string, { topic: string; partition: number; offset: string }>();
    let committing: Promise<void> = Promise.resolve();
    const commitApplied = () => {
      committing = committing.then(async () => {
        if (applied.size === 0) return;
        const offsets = [...applied.values()];
        applied.clear();
        try {
          await consumer.commitOffsets(offsets);
        } catch (err) {
          // A rebalance took the partitions (or the broker is away): the group resumes from
          // the last committed offsets and the inbox absorbs what is delivered again.
          this.log.warn({ group: groupId, err: errorMessage(err) }, 'kafka consumer: offset commit failed; those events may be delivered again');
        }
      });
      return committing;
    };
    let stopping = false;
    // The partitions this member owns since its last join (an applied offset of another is not committed).
    let assigned = new Set<string>();
    // kafkajs's heartbeat and isRunning of the latest batch (the same for every batch of a run).
    let running: Pick<EachBatchPayload, 'heartbeat' | 'isRunning'> | undefined;
    const log = this.log;
    const lanes = new PartitionLanes(
      {
        handle: opts.handler,
        seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset }),
        onApplied: (topic, partition, offset, highWatermark) => {
          const key = `${topic}|${partition}`;
          if (!opts.ephemeral && assigned.has(key)) applied.set(key, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
          opts.onLag?.(topic, partition, Math.max(0, Number(highWatermark) - Number(offset) - 1));
        },
        onError: (topic, partition, err, attempt) =>
          log.warn({ group: groupId, topic, partition, attempt, err: errorMessage(err) }, 'kafka consumer: handler failed; the partition is read again from the first message not done'),
        heartbeat: () => running?.heartbeat() ?? Promise.resolve(),
        isRunning: () => !stopping && (running?.isRunning() ?? true),
      },
      {
        chunk: HANDLER_CHUNK,
        maxQueued: this.opts.maxQueuedPerPartition ?? 0,
        concurrency: this.opts.partitionsConsumedConcurrently ?? 3,
        retryDelayMs: (attempt) => Math.min(5000, 200 * 2 ** (attempt - 1)),
      },
    );
    const offAssign = consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assigned = new Set(Object.entries(e.payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}|${p}`)));
      for (const key of applied.keys()) if (!assigned.has(key)) applied.delete(key);
      lanes.revokeExcept(assigned);
    });
    const commitTimer = opts.ephemeral ? undefined : setInterval(() => void commitApplied(), this.opts.commitIntervalMs ?? 200);
    commitTimer?.unref();
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Batches only go into their partition's lane here (see partition-lanes.ts): the handler
      // runs off kafkajs's fetch loop, which fetches again as soon as the lane has taken the
      // batch (one fetch ahead of the handler; more with maxQueuedPerPartition).
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (stopping) return;
        running = { heartbeat, isRunning };
        await lanes.push({
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          messages: batch.messages.map((m) => delivered(batch.topic, batch.partition, m)),
          isStale,
          resolve: resolveOffset,
        });
      },
    });
    let stopped = false;
    const sub: Subscription = {
      ready,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.subscriptions.delete(sub);
        offJoin();
        offFetch();
        offCrash();
        offAssign();
        if (commitTimer) clearInterval(commitTimer);
        // Let the handler calls in progress finish (they stop between runs), commit what they
        // applied while this member still owns its partitions, then leave the group.
        stopping = true;
        await lanes.drain();
        await commitApplied();
        await consumer.disconnect().catch(() => undefined);
        onReady();
        if (opts.ephemeral) await this.withAdmin((a) => a.deleteGroups([groupId])).catch(() => undefined);
      },
    };
    this.subscriptions.add(sub);
    return sub;
  }

  private async withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.kafka.admin({ retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3000 } });
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async ensureTopics(declarations: TopicDeclaration[]): Promise<EnsureTopicsReport> {
    return this.withAdmin(async (admin) => {
      const report: EnsureTopicsReport = { created: [], existing: [], mismatched: [], notes: [] };
      const brokers = (await admin.describeCluster()).brokers.length;
      const present = new Set(await admin.listTopics());
      const missing = declarations.filter((d) => !present.has(d.name));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((d) => ({
            topic: d.name,
            numPartitions: d.partitions,
            replicationFactor: Math.min(d.replicationFactor ?? 3, brokers),
            configEntries: [
              { name: 'retention.ms', value: String(d.retentionMs) },
              { name: 'cleanup.policy', value: d.cleanupPolicy },
              // acks=-1 means all in-sync replicas; with 3 of them, two must have the write.
              ...(brokers >= 3 ? [{ name: 'min.insync.replicas', value: '2' }] : []),
            ],
          })),
        });
        report.created.push(...missing.map((d) => d.name));
      }
      const existing = declarations.filter((d) => present.has(d.name));
      if (existing.length > 0) {
        report.existing.push(...existing.map((d) => d.name));
        const meta = await admin.fetchTopicMetadata({ topics: existing.map((d) => d.name) });
        const configs = await admin.describeConfigs({
          includeSynonyms: false,
          resources: existing.map((d) => ({ type: ConfigResourceTypes.TOPIC, name: d.name, configNames: ['retention.ms', 'cleanup.policy'] })),
        });
        for (const d of existing) {
          const partitions = meta.topics.find((t) => t.name === d.name)?.partitions.length ?? 0;
          if (partitions !== d.partitions) {
            report.mismatched.push({ topic: d.name, setting: 'partitions', declared: String(d.partitions), actual: String(partitions) });
          }
          const entries = configs.resources.find((r) => r.resourceName === d.name)?.configEntries ?? [];
          for (const [setting, declared] of [['retention.ms', String(d.retentionMs)], ['cleanup.policy', d.cleanupPolicy]] as const) {
            const actual = entries.find((e) => e.configName === setting)?.configValue ?? '';
            if (actual !== declared) report.mismatched.push({ topic: d.name, setting, declared, actual });
          }
        }
      }
      if (report.mismatched.length > 0) {
        report.notes.push('mismatched settings are reported, not changed: changing partitions moves keys between partitions (breaking order per aggregate)');
      }
      return report;
    });
  }

  /** Every message of `topics` from the beginning to their current end (an ephemeral group). */
  private async readAll(topics: string[], timeoutMs = 20_000): Promise<DeliveredMessage[]> {
    const ends = new Map<string, bigint>();
    await this.withAdmin(async (admin) => {
      for (const t of topics) {
        for (const p of await admin.fetchTopicOffsets(t)) {
          if (BigInt(p.high) > BigInt(p.low)) ends.set(`${t}:${p.partition}`, BigInt(p.high));
        }
      }
    });
    if (ends.size === 0) return [];
    const out: DeliveredMessage[] = [];
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const sub = await this.subscribe({
      group: 'carve-read',
      ephemeral: true,
      fromBeginning: true,
      topics: [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))],
      handler: perMessage(async (m) => {
        const k = `${m.topic}:${m.partition}`;
        const end = ends.get(k);
        if (end !== undefined && BigInt(m.offset) < end) out.push(m);
        if (end !== undefined && BigInt(m.offset) >= end - 1n) ends.delete(k);
        if (ends.size === 0) finish();
        return true;
      }),
    });
    const timer = setTimeout(finish, timeoutMs);
    try {
      await done;
    } finally {
      clearTimeout(timer);
      await sub.stop();
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)) : a.topic < b.topic ? -1 : 1));
  }

  async listDeadLetters(opts: { topic?: string } = {}): Promise<DeadLetter[]> {
    const all = await this.withAdmin((a) => a.listTopics());
    const dlqs = opts.topic ? [isDlqTopic(opts.topic) ? opts.topic : dlqTopicFor(opts.topic)].filter((t) => all.includes(t)) : all.filter(isDlqTopic).sort();
    if (dlqs.length === 0) return [];
    return (await this.readAll(dlqs)).map((m) => {
      const h = m.headers;
      return {
        id: `${m.topic}:${m.partition}:${m.offset}`,
        dlqTopic: m.topic,
        originalTopic: h[DLQ_HEADERS.originalTopic] ?? m.topic.replace(/\.dlq$/, ''),
        partition: Number(h[DLQ_HEADERS.partition] ?? -1),
        offset: h[DLQ_HEADERS.offset] ?? '',
        key: m.key,
        value: m.value ? m.value.toString('utf8') : null,
        eventId: h[DLQ_HEADERS.eventId] ?? null,
        error: h[DLQ_HEADERS.error] ?? '',
        reason: h[DLQ_HEADERS.reason] ?? '',
        group: h[DLQ_HEADERS.group] ?? null,
        attempts: Number(h[DLQ_HEADERS.attempts] ?? 0),
        failedAt: h[DLQ_HEADERS.failedAt] ?? new Date(m.timestamp).toISOString(),
        replayedAt: null,
      };
    });
  }

  async replayDeadLetters(opts: { topic: string; id?: string }): Promise<DeadLetter[]> {
    const letters = (await this.listDeadLetters({ topic: opts.topic })).filter((d) => !opts.id || d.id === opts.id || d.eventId === opts.id);
    if (letters.length === 0) return [];
    await this.publish(
      letters.map((d) => ({
        topic: d.originalTopic,
        key: d.key,
        value: d.value ?? '',
        headers: { [REPLAYED_FROM_HEADER]: d.id },
      })),
    );
    const at = new Date().toISOString();
    return letters.map((d) => ({ ...d, replayedAt: at }));
  }

  async lag(group: string, topics: string[]): Promise<PartitionLag[]> {
    return this.withAdmin(async (admin) => {
      // On a fresh broker the group coordinator takes a moment (NOT_COORDINATOR is retriable,
      // but kafkajs's admin does not retry fetchOffsets).
      let committed: Awaited<ReturnType<Admin['fetchOffsets']>> | undefined;
      for (let attempt = 1; !committed; attempt++) {
        try {
          committed = await admin.fetchOffsets({ groupId: group, topics });
        } catch (err) {
          if (!(err as { retriable?: boolean }).retriable || attempt >= 20) throw err;
          await sleep(Math.min(1000, 100 * attempt));
        }
      }
      const out: PartitionLag[] = [];
      for (const t of topics) {
        for (const p of await admin.fetchTopicOffsets(t)) {
          const c = committed!.find((x) => x.topic === t)?.partitions.find((x) => x.partition === p.partition)?.offset;
          const has = c !== undefined && c !== '-1';
          const from = has ? BigInt(c) : BigInt(p.low);
          out.push({ topic: t, partition: p.partition, committed: has ? c : null, end: p.high, lag: Number(BigInt(p.high) - from) });
        }
      }
      return out;
    });
  }

  async close(): Promise<void> {
    for (const sub of [...this.subscriptions]) await sub.stop();
    const p = this.producer;
    this.producer = undefined;
    if (p) await p.then((producer) => producer.disconnect()).catch(() => undefined);
  }
}

export function createKafkaTransport(opts: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(opts);
}
