// kafkajs lives here and nowhere else in the repo (behind the messaging port; docs/architecture.md).
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

import { type Admin, ConfigResourceTypes, type EachBatchPayload, type IHeaders, Kafka, type KafkaMessage, logLevel, type Producer } from 'kafkajs';
import { type DeadLetterReplayLedger } from '../dead-letter-replays';
import { isDlqTopic, dlqTopicFor } from '../envelope';
import { uuidv7 } from '../uuidv7';
import {
  type DeadLetter,
  type DeliveredMessage,
  DLQ_HEADERS,
  type EnsureTopicsReport,
  originalHeaders,
  type OutboundMessage,
  type PartitionLag,
  perMessage,
  replayBatches,
  REPLAYED_FROM_HEADER,
  type ReplayOptions,
  type SubscribeOptions,
  type Subscription,
  type TopicDeclaration,
  type Transport,
} from '../transport';
import { errorMessage, type MessagingLogger, silentLogger, sleep } from '../util';
import { explainKafkaError, kafkaClientSecurity, type KafkaSecurity, type MskTokenSigner } from './kafka-security';
import { PartitionLanes } from './partition-lanes';

export interface KafkaTransportOptions {
  brokers: string[];
  clientId?: string;
  /** TLS and SASL (kafkaSecurityFromEnv reads them from KAFKA_SSL*, KAFKA_SASL_*); default: plaintext. */
  security?: KafkaSecurity;
  /**
   * Where replays of dead letters are recorded (postgresReplayLedger: the control plane's
   * carve.dead_letter_replays); closed with the transport. Without it, `dlq list` shows every
   * dead letter as waiting and a replay is refused.
   */
  replayLedger?: DeadLetterReplayLedger;
  /** Signs MSK IAM tokens (the aws-iam mechanism); default: aws-msk-iam-sasl-signer-js with the default AWS credential chain. */
  mskTokenSigner?: MskTokenSigner;
  /**
   * The idempotent producer (default true): the broker drops a batch that kafkajs sends again
   * after a timeout or a lost acknowledgement, so a retry writes nothing twice. It needs one
   * request in flight and acks from all in-sync replicas; off when maxInFlightRequests is null.
   */
  idempotent?: boolean;
  /** How long a request to a broker may take before kafkajs gives up on it and retries; default 30 s. */
  requestTimeoutMs?: number;
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
   * the partition is paused (left out of the fetches until its handler takes them; the other
   * partitions keep flowing; src/kafka/partition-lanes.ts); default 0: one fetch ahead of the
   * handler. The benchmark measured no gain from more at 500 events/s on 2 cores (more fetches
   * of fewer messages each cost CPU); a deeper lane lets a partition's messages pile up in
   * memory while its handler is slow.
   */
  maxQueuedPerPartition?: number;
  /**
   * How often a consumer reads its group's lag from the broker (committed offset against the
   * high watermark, per partition) and reports it to `onLag`; default 5000 ms, 0: never. Unlike
   * the lag reported after each applied batch, this one grows while a handler is stuck.
   */
  lagSampleIntervalMs?: number;
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

/** Longest wait between a consumer's tries, and before its restart after a crash. */
const CONSUMER_MAX_RETRY_MS = 1000;

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
  private ledgerClosed = false;

  constructor(private readonly opts: KafkaTransportOptions) {
    this.log = opts.logger ?? silentLogger;
    const log = this.log;
    this.kafka = new Kafka({
      clientId: opts.clientId ?? 'carve',
      brokers: opts.brokers,
      ...kafkaClientSecurity(opts.security, opts.mskTokenSigner),
      connectionTimeout: 3000,
      requestTimeout: opts.requestTimeoutMs ?? 30_000,
      logLevel: logLevel.WARN,
      logCreator: () => ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        // Retries are bounded on purpose (a publish that gives up is retried by the relay with the
        // same rows, hence the same sequence numbers; see publish): not worth a warning per producer.
        if (message.startsWith('Limiting retries for the idempotent producer')) return;
        if (level <= logLevel.ERROR) log.error({ kafkajs: rest }, `kafkajs: ${message}`);
        else log.warn({ kafkajs: rest }, `kafkajs: ${message}`);
      },
    });
  }

  private get idempotent(): boolean {
    return this.opts.maxInFlightRequests !== null && (this.opts.idempotent ?? true);
  }

  private getProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        // One request in flight keeps per-partition order across retries, and kafkajs's
        // idempotent producer requires it; acks -1 on every send (publish). With the idempotent
        // producer the broker drops a batch sent again after a timeout (same producer id and
        // sequence numbers), so a retry writes nothing twice; without it duplicates are
        // possible and absorbed by the consumers' inbox.
        maxInFlightRequests: this.idempotent ? 1 : this.opts.maxInFlightRequests === undefined ? 1 : (this.opts.maxInFlightRequests ?? undefined),
        idempotent: this.idempotent,
        allowAutoTopicCreation: false,
        // About 20 s of retries before publish fails (the relay then sends the same rows again).
        retry: { retries: this.idempotent ? 10 : 3, initialRetryTime: 100, maxRetryTime: 2000 },
      });
      this.producer = producer.connect().then(
        () => producer,
        (err) => {
          this.producer = undefined;
          throw explainKafkaError(err, this.opts.security, this.opts.brokers, { connecting: true });
        },
      );
    }
    return this.producer;
  }

  /**
   * After a publish fails, the idempotent producer's sequence numbers for a partition still
   * stand where its last acknowledged batch left them: the relay's retry of the same rows
   * reuses them, and the broker drops what it had already written. A sequence or producer-id
   * error means that state no longer matches the broker's: the next publish gets a new
   * producer (a new id; a message sent again then may be written twice, never lost).
   */
  private async resetProducerAfter(err: unknown): Promise<void> {
    const type = (err as { type?: string; originalError?: { type?: string } }).type ?? (err as { originalError?: { type?: string } }).originalError?.type ?? '';
    if (!/SEQUENCE|PRODUCER_ID|PRODUCER_EPOCH|PRODUCER_FENCED/.test(type)) return;
    const p = this.producer;
    this.producer = undefined;
    this.log.warn({ err: errorMessage(err) }, 'kafka producer: sequence state lost; the next publish uses a new producer id');
    if (p) await p.then((producer) => producer.disconnect()).catch(() => undefined);
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
    try {
      await producer.sendBatch({
        acks: -1,
        timeout: this.opts.requestTimeoutMs ?? 30_000,
        topicMessages: [...byTopic].map(([topic, list]) => ({
          topic,
          messages: list.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
        })),
      });
    } catch (err) {
      await this.resetProducerAfter(err);
      throw explainKafkaError(err, this.opts.security, this.opts.brokers);
    }
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    const groupId = opts.ephemeral ? `${opts.group}-${uuidv7()}` : opts.group;
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: this.opts.maxWaitTimeInMs ?? 100,
      allowAutoTopicCreation: false,
      // The longest wait between two tries is also the delay before kafkajs restarts a consumer
      // that gave up (the crash's last retry time): at most a second, whatever the outage's
      // length. The restarted member's join is the other half (leaveGroupAs).
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: CONSUMER_MAX_RETRY_MS },
    });
    let onReady!: () => void;
    const ready = new Promise<void>((r) => (onReady = r));
    let joined = false;
    let stopped = false;
    // Ready after the first fetch following a join: by then a new group's start offsets are resolved.
    const offJoin = consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    const offFetch = consumer.on(consumer.events.FETCH, () => {
      if (joined) onReady();
    });
    // The member id of the latest join: after a crash, kafkajs restarts the consumer as a new
    // member, and the coordinator would hold the group's rebalance until this one's session
    // expired (sessionTimeout); it is made to leave instead (leaveGroupAs).
    let memberId: string | undefined;
    let joinsSinceCrash = 0;
    const offMember = consumer.on(consumer.events.GROUP_JOIN, (e) => {
      memberId = e.payload.memberId;
      joinsSinceCrash += 1;
    });
    const offCrash = consumer.on(consumer.events.CRASH, (e) => {
      this.log.error({ group: groupId, err: errorMessage(explainKafkaError(e.payload.error, this.opts.security, this.opts.brokers)), restart: e.payload.restart }, 'kafka consumer crashed');
      const ghost = memberId;
      memberId = undefined;
      joinsSinceCrash = 0;
      if (e.payload.restart && ghost) {
        void this.leaveGroupAs(groupId, ghost, () => !stopped && joinsSinceCrash === 0);
      }
    });
    try {
      await consumer.connect();
    } catch (err) {
      offJoin();
      offFetch();
      offCrash();
      offMember();
      throw explainKafkaError(err, this.opts.security, this.opts.brokers, { connecting: true });
    }
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
    // The group's lag from the broker on a timer (its committed offsets against the high
    // watermarks): a member stuck in a handler commits nothing, and its lag is seen growing. One
    // admin client per subscription, connected at the first sample and again after a failure.
    let lagAdmin: Admin | undefined;
    let sampling = false;
    let lagFailing = false;
    const sampleLag = async () => {
      if (sampling || stopping) return;
      sampling = true;
      try {
        if (!lagAdmin) {
          const admin = this.kafka.admin({ retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1000 } });
          await admin.connect();
          lagAdmin = admin;
        }
        const lag = await this.lagWith(lagAdmin, groupId, opts.topics);
        if (!stopping) for (const p of lag) opts.onLag?.(p.topic, p.partition, p.lag);
        lagFailing = false;
      } catch (err) {
        const admin = lagAdmin;
        lagAdmin = undefined;
        await admin?.disconnect().catch(() => undefined);
        if (!lagFailing) this.log.warn({ group: groupId, err: errorMessage(err) }, 'kafka consumer: reading the group lag from the broker failed; trying again');
        lagFailing = true;
      } finally {
        sampling = false;
      }
    };
    const lagEvery = this.opts.lagSampleIntervalMs ?? 5000;
    const lagTimer = !opts.ephemeral && opts.onLag && lagEvery > 0 ? setInterval(() => void sampleLag(), lagEvery) : undefined;
    lagTimer?.unref();
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
      // runs off kafkajs's fetch loop, which fetches again at once; a partition whose lane is
      // full (one fetch ahead of its handler; more with maxQueuedPerPartition) is paused meanwhile.
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }) => {
        if (stopping) return;
        running = { heartbeat, isRunning };
        await lanes.push({
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          messages: batch.messages.map((m) => delivered(batch.topic, batch.partition, m)),
          isStale,
          resolve: resolveOffset,
          pause,
        });
      },
    });
    const sub: Subscription = {
      ready,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        this.subscriptions.delete(sub);
        offJoin();
        offFetch();
        offCrash();
        offMember();
        offAssign();
        if (commitTimer) clearInterval(commitTimer);
        if (lagTimer) clearInterval(lagTimer);
        // Let the handler calls in progress finish (they stop between runs), commit what they
        // applied while this member still owns its partitions, then leave the group.
        stopping = true;
        await lanes.drain();
        await commitApplied();
        await consumer.disconnect().catch(() => undefined);
        await lagAdmin?.disconnect().catch(() => undefined);
        onReady();
        if (opts.ephemeral) await this.withAdmin((a) => a.deleteGroups([groupId])).catch(() => undefined);
      },
    };
    this.subscriptions.add(sub);
    return sub;
  }

  /**
   * Leaves `groupId` in the name of `memberId`, a member that crashed (every broker away for
   * longer than its retries): its restart joins as a new member, and the coordinator would wait
   * for the old one's session to expire (sessionTimeout, 10 s by default) before the group
   * rebalances, so consumers resumed that long after the broker came back. Tried every 250 ms
   * while `pending()` (until the new member joined, or the subscription stopped), with a client
   * of its own that does not retry (each try fails fast while the broker is away). A coordinator
   * that does not know the member any more is as good as a success. kafkajs 2.2.4 (its last
   * release) has no public call for LeaveGroup: its client's cluster factory is used, and
   * without it the old wait stays.
   */
  private async leaveGroupAs(groupId: string, memberId: string, pending: () => boolean): Promise<void> {
    const client = new Kafka({
      clientId: `${this.opts.clientId ?? 'carve'}-leave`,
      brokers: this.opts.brokers,
      ...kafkaClientSecurity(this.opts.security, this.opts.mskTokenSigner),
      connectionTimeout: 1000,
      requestTimeout: 5000,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    });
    const symbol = Object.getOwnPropertySymbols(client).find((x) => x.description === 'private:Kafka:createCluster');
    const createCluster = symbol ? (client as unknown as Record<symbol, unknown>)[symbol] : undefined;
    if (typeof createCluster !== 'function') return;
    type LeaveCluster = {
      connect(): Promise<void>;
      refreshMetadata(): Promise<void>;
      disconnect(): Promise<void>;
      findGroupCoordinator(a: { groupId: string }): Promise<{ leaveGroup(a: { groupId: string; memberId: string }): Promise<unknown> }>;
    };
    while (pending()) {
      const cluster = (createCluster as (o: object) => LeaveCluster)({});
      try {
        await cluster.connect();
        await cluster.refreshMetadata();
        const coordinator = await cluster.findGroupCoordinator({ groupId });
        await coordinator.leaveGroup({ groupId, memberId });
        this.log.info({ group: groupId, memberId }, 'kafka consumer: the crashed member left the group; the restarted one joins without waiting for its session to expire');
        return;
      } catch (err) {
        if ((err as { type?: string }).type === 'UNKNOWN_MEMBER_ID') return;
      } finally {
        await cluster.disconnect().catch(() => undefined);
      }
      await sleep(250);
    }
  }

  private async withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.kafka.admin({ retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3000 } });
    let connecting = true;
    try {
      await admin.connect();
      connecting = false;
      return await fn(admin);
    } catch (err) {
      throw explainKafkaError(err, this.opts.security, this.opts.brokers, { connecting });
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
    const letters = (await this.readAll(dlqs)).map((m): DeadLetter => {
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
        headers: originalHeaders(h),
      };
    });
    const replayed = this.opts.replayLedger ? await this.opts.replayLedger.replayedAt(letters.map((d) => d.id)) : new Map<string, string>();
    return letters.map((d) => ({ ...d, replayedAt: replayed.get(d.id) ?? null }));
  }

  async replayDeadLetters(opts: ReplayOptions): Promise<DeadLetter[]> {
    const ledger = this.opts.replayLedger;
    if (!ledger && !opts.dryRun) {
      throw new Error('replaying Kafka dead letters needs the control plane (carve.dead_letter_replays) to record them: give the transport a replayLedger');
    }
    const batches = replayBatches(await this.listDeadLetters({ topic: opts.topic }), opts);
    if (opts.dryRun || !ledger) return batches.flat();
    // Claim first (a concurrent replay claims none of these), then send one message per failed
    // message: its key, its own headers, its value (null stays null), marked as a replay.
    const claimed = await ledger.claim(batches.flat());
    const send = batches.filter((b) => b.some((d) => claimed.has(d.id)));
    if (send.length === 0) return [];
    try {
      await this.publish(
        send.map((b) => ({
          topic: b[0].originalTopic,
          key: b[0].key,
          value: b[0].value,
          headers: { ...b[0].headers, [REPLAYED_FROM_HEADER]: b.map((d) => d.id).join(',') },
        })),
      );
    } catch (err) {
      await ledger.release([...claimed.keys()]).catch(() => undefined);
      throw err;
    }
    return send.flat().filter((d) => claimed.has(d.id)).map((d) => ({ ...d, replayedAt: claimed.get(d.id)! }));
  }

  async lag(group: string, topics: string[]): Promise<PartitionLag[]> {
    return this.withAdmin((admin) => this.lagWith(admin, group, topics));
  }

  private async lagWith(admin: Admin, group: string, topics: string[]): Promise<PartitionLag[]> {
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
  }

  async close(): Promise<void> {
    for (const sub of [...this.subscriptions]) await sub.stop();
    const p = this.producer;
    this.producer = undefined;
    if (p) await p.then((producer) => producer.disconnect()).catch(() => undefined);
    const ledger = this.opts.replayLedger;
    if (ledger && !this.ledgerClosed) {
      this.ledgerClosed = true;
      await ledger.close().catch(() => undefined);
    }
  }
}

export function createKafkaTransport(opts: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(opts);
}
