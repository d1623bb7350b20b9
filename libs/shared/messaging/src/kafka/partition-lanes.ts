/**
 * Partition lanes: the Kafka consumer's handling, taken off kafkajs's fetch loop.
 *
 * kafkajs fetches, hands the batches to `eachBatch`, waits until every one of them is handled,
 * and only then fetches again. A consumer that applies events in database transactions would
 * so leave the broker holding new messages for as long as the slowest batch of the last fetch
 * takes (the benchmark's "delivery" leg). Here `eachBatch` only appends the batch to its
 * partition's lane and returns; each lane works through its messages in offset order on its
 * own, so the next fetch goes out at once. The fetch position moves on as batches are queued
 * (kafkajs's `resolveOffset`), the committed position only as they are applied (`onApplied`),
 * so a crash still redelivers everything not applied, and the inbox absorbs what was applied
 * but not yet committed.
 *
 * - Order: one lane per partition, one handler call at a time per lane, in offset order; a
 *   message at an offset the lane has already queued (a refetch after a rebalance) is dropped.
 * - Back-pressure, per partition: a lane holding more than `maxQueued` messages besides the
 *   chunk its handler is on (the transport's default, 0: one fetch ahead) pauses its partition
 *   (kafkajs `pause`: the next fetches leave it out) until its handler takes them; the other
 *   partitions keep being fetched. The batch's `eachBatch` call still waits, as it would in
 *   kafkajs's own loop, until the lane has room again, unless some partition this member owns
 *   is idle (no lane yet, or neither paused nor handling): only an idle partition makes another
 *   fetch worth its cost at once; fetching while every handler is busy only brings smaller
 *   batches more often, which costs the CPU the handlers need (measured), and with every
 *   partition paused kafkajs would sleep its whole `maxWaitTime`.
 * - A handler that rejects (or stops short while the member still runs) rewinds its lane: the
 *   queue is dropped, the partition is sought back to the first message not done, and the lane
 *   waits `retryDelayMs(attempt)` before it takes messages again. Batches fetched before the
 *   seek took effect are stale (`isStale`) and ignored.
 * - At most `concurrency` handler calls run at once across lanes.
 * - Revoked partitions: `revokeExcept` drops the queues of partitions this member lost in a
 *   rebalance (their new owner reads from the committed position).
 */
import type { DeliveredMessage, DeliveryContext } from '../transport';
import { setTimeout as sleep } from 'node:timers/promises';

/** What a lane needs from the consumer it serves (kafkajs in production, a fake in unit tests). */
export interface LaneHost {
  /** Handles messages of one partition, in order; resolves with how many, from the first, are done. */
  handle(messages: DeliveredMessage[], ctx: DeliveryContext): Promise<number>;
  /** The next fetch of this partition starts at `offset` (kafkajs `seek`). */
  seek(topic: string, partition: number, offset: string): void;
  /** The messages up to and including `offset` are applied: their position may be committed. */
  onApplied(topic: string, partition: number, offset: string, highWatermark: string): void;
  /** A handler rejected; the lane rewinds and retries after a delay. */
  onError(topic: string, partition: number, err: unknown, attempt: number): void;
  heartbeat(): Promise<void>;
  /** False once the member is stopping or its consumer stopped. */
  isRunning(): boolean;
}

export interface LaneOptions {
  /** Messages handed to the handler at once (the lane joins consecutive batches up to this). */
  chunk: number;
  /** A lane holding more than this, besides the chunk in progress, makes `push` wait (kafkajs then stops fetching). */
  maxQueued: number;
  /** Handler calls in progress at once, across all lanes. */
  concurrency: number;
  retryDelayMs(attempt: number): number;
}

export interface IncomingBatch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: DeliveredMessage[];
  /** True when a seek of this partition is pending: the batch was fetched from the old position. */
  isStale(): boolean;
  /** Moves the partition's fetch position past `offset` (kafkajs `resolveOffset`). */
  resolve(offset: string): void;
  /** Leaves the partition out of the next fetches; the function returned takes it back (kafkajs `pause`). */
  pause(): () => void;
}

interface Lane {
  readonly topic: string;
  readonly partition: number;
  pending: DeliveredMessage[];
  /** The next offset to queue; lower ones are already queued or done. */
  next: bigint | undefined;
  highWatermark: string;
  worker: Promise<void> | undefined;
  /** Set while the partition is paused (its queue is over maxQueued): resumes its fetching. */
  resume: (() => void) | undefined;
  /** Dropped (rebalance or stop): take nothing more; no longer in the map. */
  closed: boolean;
  /** Consecutive failed handler calls (for the retry delay). */
  failures: number;
  /** A rewind is in progress: batches are ignored until the seek has taken effect. */
  rewinding: boolean;
}


export class PartitionLanes {
  private readonly lanes = new Map<string, Lane>();
  private active = 0;
  /** Every lane's worker in progress, closed lanes' included (a stop waits for them all). */
  private readonly workers = new Set<Promise<void>>();
  private readonly waiting: Array<() => void> = [];
  /** `eachBatch` calls waiting for their lane's room or an idle partition; woken when either may be. */
  private readonly idleWaiters: Array<() => void> = [];
  /** The `topic|partition` keys this member owns (from the last rebalance); undefined: those with a lane. */
  private owned: Set<string> | undefined;

  constructor(private readonly host: LaneHost, private readonly opts: LaneOptions) {}

  /** Queues a fetched batch on its lane (from kafkajs's eachBatch); waits only for back-pressure. */
  async push(batch: IncomingBatch): Promise<void> {
    if (!this.host.isRunning() || batch.messages.length === 0) return;
    const lane = this.lane(batch.topic, batch.partition);
    if (batch.isStale()) return; // fetched from the position before a rewind's seek
    lane.rewinding = false;
    const fresh = lane.next === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) >= lane.next!);
    const last = batch.messages[batch.messages.length - 1].offset;
    batch.resolve(last);
    lane.highWatermark = batch.highWatermark;
    if (fresh.length === 0) return;
    lane.next = BigInt(last) + 1n;
    lane.pending.push(...fresh);
    this.kick(lane);
    if (lane.pending.length <= this.opts.maxQueued || lane.closed) return;
    lane.resume ??= batch.pause();
    while (this.holdsFetching(lane)) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** The lane is still paused (no room yet), no owned partition is idle, and the member runs. */
  private holdsFetching(lane: Lane): boolean {
    return lane.resume !== undefined && !this.anyOwnedIdle() && !lane.closed && this.host.isRunning();
  }

  /** Drops the lanes of partitions not in `assigned` (`topic|partition` keys) after a rebalance. */
  revokeExcept(assigned: Set<string>): void {
    this.owned = assigned;
    for (const [key, lane] of this.lanes) {
      if (!assigned.has(key)) this.close(lane);
    }
  }

  /** Stops taking messages and waits for the handler calls in progress. */
  async drain(): Promise<void> {
    for (const lane of [...this.lanes.values()]) this.close(lane);
    await Promise.allSettled([...this.workers]);
  }

  /** Messages queued and not yet handled, per `topic|partition` (for tests and metrics). */
  queued(): Map<string, number> {
    return new Map([...this.lanes].map(([k, l]) => [k, l.pending.length]));
  }

  /** The `topic|partition` keys whose fetching is paused because their lane is full. */
  paused(): string[] {
    return [...this.lanes].filter(([, l]) => l.resume).map(([k]) => k);
  }

  /** Some owned partition has no lane yet, or a lane that is neither paused nor handling. */
  private anyOwnedIdle(): boolean {
    const keys = this.owned ?? this.lanes.keys();
    for (const key of keys) {
      const lane = this.lanes.get(key);
      if (!lane || (!lane.resume && !lane.worker)) return true;
    }
    return false;
  }

  private wakeIdleWaiters(): void {
    for (const r of this.idleWaiters.splice(0)) r();
  }

  private lane(topic: string, partition: number): Lane {
    const key = `${topic}|${partition}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { topic, partition, pending: [], next: undefined, highWatermark: '0', worker: undefined, resume: undefined, closed: false, failures: 0, rewinding: false };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /**
   * Drops a lane for good: its handler call in progress (if any) stops between runs and nothing
   * after it runs. A later batch of the partition (it came back in a rebalance) opens a new lane,
   * which starts from what the fetch hands over; the old worker never touches it.
   */
  private close(lane: Lane): void {
    lane.closed = true;
    lane.pending = [];
    const key = `${lane.topic}|${lane.partition}`;
    if (this.lanes.get(key) === lane) this.lanes.delete(key);
    this.release(lane);
    this.wakeIdleWaiters();
  }

  /** Resumes the lane's partition once its queue is back within maxQueued (or the lane is gone). */
  private release(lane: Lane): void {
    if (!lane.resume || lane.pending.length > this.opts.maxQueued) return;
    const resume = lane.resume;
    lane.resume = undefined;
    resume();
    this.wakeIdleWaiters();
  }

  private kick(lane: Lane): void {
    if (lane.worker) return;
    const worker = this.work(lane).finally(() => {
      this.workers.delete(worker);
      lane.worker = undefined;
      if (lane.pending.length > 0 && !lane.closed && !lane.rewinding && this.host.isRunning()) this.kick(lane);
      else this.wakeIdleWaiters();
    });
    lane.worker = worker;
    this.workers.add(worker);
  }

  /**
   * A handler slot if one is free now (the chunk is then taken off the queue before `push`
   * looks at it); a slot given back goes straight to the longest waiter.
   */
  private freeSlot(): (() => void) | undefined {
    if (this.active >= this.opts.concurrency) return undefined;
    this.active += 1;
    return this.giveBack;
  }

  private readonly giveBack = (): void => {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  };

  private slot(): Promise<() => void> {
    return new Promise((r) => this.waiting.push(() => r(this.giveBack)));
  }

  private async work(lane: Lane): Promise<void> {
    const ctx: DeliveryContext = {
      heartbeat: () => this.host.heartbeat(),
      isRunning: () => !lane.closed && this.host.isRunning(),
    };
    while (lane.pending.length > 0 && ctx.isRunning()) {
      const done = this.freeSlot() ?? (await this.slot());
      if (lane.closed || lane.pending.length === 0) {
        done();
        return;
      }
      // Taken off the queue now: a push waiting for room goes on while this chunk is handled.
      const chunk = lane.pending.splice(0, this.opts.chunk);
      this.release(lane);
      let handled = 0;
      let failure: unknown;
      try {
        handled = await this.host.handle(chunk, ctx);
      } catch (err) {
        failure = err;
      } finally {
        done();
      }
      if (handled > 0) {
        lane.failures = 0;
        this.host.onApplied(lane.topic, lane.partition, chunk[handled - 1].offset, lane.highWatermark);
      }
      if (lane.closed) return; // dropped while the handler ran: the queue is gone already
      if (handled === chunk.length) continue;
      // Stopped short: the member is stopping (nothing to do) or the handler failed (rewind).
      if (!this.host.isRunning()) return;
      const from = chunk[handled].offset;
      lane.failures += 1;
      this.host.onError(lane.topic, lane.partition, failure ?? new Error('the handler stopped short while the consumer runs'), lane.failures);
      lane.pending = [];
      lane.next = BigInt(from);
      lane.rewinding = true;
      this.release(lane);
      this.host.seek(lane.topic, lane.partition, from);
      await sleep(this.opts.retryDelayMs(lane.failures));
      return;
    }
  }
}
