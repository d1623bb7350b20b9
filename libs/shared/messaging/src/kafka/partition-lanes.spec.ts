/**
 * The lanes against a scripted host (the real-broker behaviour is in test/lanes.kafka.spec.ts):
 * order per partition, refetches dropped, back-pressure, a rejected handler's rewind, revoked
 * partitions and a stop that waits for the handler in progress.
 */
import type { DeliveredMessage, DeliveryContext } from '../transport';
import { type IncomingBatch, type LaneHost, PartitionLanes } from './partition-lanes';

const msg = (partition: number, offset: number): DeliveredMessage => ({
  topic: 't',
  partition,
  offset: String(offset),
  key: null,
  value: Buffer.from(`${partition}:${offset}`),
  headers: {},
  timestamp: 0,
});
/**
 * A fetched batch; its resolveOffset records the fetch position in `resolved` (per partition),
 * its pause the partition in `paused` until the function it returned is called.
 */
const batchOf =
  (resolved: Map<number, string>, paused: Set<number>) =>
  (partition: number, from: number, to: number, stale = false): IncomingBatch => ({
    topic: 't',
    partition,
    highWatermark: String(to + 1),
    messages: Array.from({ length: to - from + 1 }, (_, i) => msg(partition, from + i)),
    isStale: () => stale,
    resolve: (offset) => resolved.set(partition, offset),
    pause: () => {
      paused.add(partition);
      return () => paused.delete(partition);
    },
  });
const tick = () => new Promise<void>((r) => setImmediate(r));
async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (probe()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`never: ${what}`);
}

/** A host whose handler records what it saw and can be held or made to fail per message. */
function scriptedHost() {
  const seen: string[] = [];
  const applied = new Map<number, string>();
  const resolved = new Map<number, string>();
  const paused = new Set<number>();
  const seeks: string[] = [];
  const errors: string[] = [];
  const holds = new Map<string, Promise<void>>();
  const fails = new Set<string>();
  let running = true;
  let inHandler = 0;
  let maxInHandler = 0;
  const host: LaneHost = {
    async handle(messages: DeliveredMessage[], ctx: DeliveryContext) {
      inHandler += 1;
      maxInHandler = Math.max(maxInHandler, inHandler);
      try {
        let done = 0;
        for (const m of messages) {
          const id = `${m.partition}:${m.offset}`;
          await holds.get(id);
          if (!ctx.isRunning()) break;
          if (fails.delete(id)) throw new Error(`${id} failed`);
          seen.push(id);
          done += 1;
        }
        return done;
      } finally {
        inHandler -= 1;
      }
    },
    seek: (_t, p, o) => seeks.push(`${p}:${o}`),
    onApplied: (_t, p, o) => applied.set(p, o),
    onError: (_t, p, err) => errors.push(`${p}: ${(err as Error).message}`),
    heartbeat: async () => undefined,
    isRunning: () => running,
  };
  return {
    host,
    seen,
    applied,
    resolved,
    paused,
    batch: batchOf(resolved, paused),
    seeks,
    errors,
    fails,
    hold(id: string) {
      let release!: () => void;
      holds.set(id, new Promise<void>((r) => (release = r)));
      return () => {
        holds.delete(id);
        release();
      };
    },
    stop: () => (running = false),
    maxInHandler: () => maxInHandler,
  };
}

const options = { chunk: 3, maxQueued: 100, concurrency: 4, retryDelayMs: () => 1 };

describe('partition lanes', () => {
  it('handles each partition in offset order, moves the fetch position at once and the applied one as it goes', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, options);
    await lanes.push(h.batch(0, 0, 4));
    await lanes.push(h.batch(1, 10, 11));
    await lanes.push(h.batch(0, 5, 6));
    // The fetch position is already past everything pushed, before any handling finished.
    expect(h.resolved.get(0)).toBe('6');
    expect(h.resolved.get(1)).toBe('11');
    await until('all handled', () => h.seen.length === 9);
    expect(h.seen.filter((id) => id.startsWith('0:'))).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4', '0:5', '0:6']);
    expect(h.seen.filter((id) => id.startsWith('1:'))).toEqual(['1:10', '1:11']);
    expect(h.applied.get(0)).toBe('6');
    expect(h.applied.get(1)).toBe('11');
  });

  it('does not make a partition wait for a slow handler of another', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, options);
    const release = h.hold('0:1');
    await lanes.push(h.batch(0, 0, 2)); // returns although 0:1 is held
    await lanes.push(h.batch(1, 0, 1));
    await until('partition 1 handled', () => h.seen.includes('1:1'));
    expect(h.seen).not.toContain('0:1');
    release();
    await until('partition 0 handled', () => h.seen.includes('0:2'));
  });

  it('drops messages it has already queued when a batch is fetched again (after a rebalance)', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, options);
    await lanes.push(h.batch(0, 0, 3));
    await lanes.push(h.batch(0, 2, 5)); // 2 and 3 again
    await until('handled', () => h.seen.length >= 6);
    await tick();
    expect(h.seen).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4', '0:5']);
  });

  it('pauses a partition whose lane holds more than maxQueued messages until its handler takes them, and goes on fetching the others', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, { ...options, maxQueued: 4 });
    lanes.revokeExcept(new Set(['t|0', 't|1']));
    const release = h.hold('0:0');
    // The handler takes 0-2 (held at 0:0); 3-9 stay queued: 7, more than 4.
    await lanes.push(h.batch(0, 0, 9));
    expect([...h.paused]).toEqual([0]);
    expect(lanes.paused()).toEqual(['t|0']);
    expect(h.resolved.get(0)).toBe('9'); // the fetch position moved on all the same
    await lanes.push(h.batch(1, 0, 1));
    await until('partition 1 handled', () => h.seen.includes('1:1'));
    release();
    await until('partition 0 resumed', () => h.paused.size === 0);
    await until('handled', () => h.seen.length === 12);
    expect(h.seen.filter((id) => id.startsWith('0:'))).toEqual(Array.from({ length: 10 }, (_, i) => `0:${i}`));
  });

  it('holds the fetch loop while a full lane waits for room, unless another partition it owns is idle', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, { ...options, maxQueued: 4 });
    lanes.revokeExcept(new Set(['t|0', 't|1']));
    const release0 = h.hold('0:0');
    const release1 = h.hold('1:0');
    await lanes.push(h.batch(0, 0, 9)); // partition 1 has nothing to do yet: fetching it is worth it
    let returned = false;
    const pushed = lanes.push(h.batch(1, 0, 9)).then(() => (returned = true));
    for (let i = 0; i < 5; i++) await tick();
    expect(returned).toBe(false); // both handlers busy, both lanes full
    expect(lanes.paused()).toEqual(['t|0', 't|1']);
    // Partition 1's handler takes its next chunk: its lane has room again, the fetch loop goes on.
    release1();
    await pushed;
    expect(lanes.paused()).toEqual(['t|0']);
    release0();
    await until('handled', () => h.seen.length === 20);
    expect(lanes.paused()).toEqual([]);
    expect(h.paused.size).toBe(0);
  });

  it('lets the fetch loop go on past a stuck partition once another runs out of work', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, { ...options, maxQueued: 0 });
    lanes.revokeExcept(new Set(['t|0', 't|1']));
    const release0 = h.hold('0:0'); // a handler stuck on a lock
    const release1 = h.hold('1:0');
    await lanes.push(h.batch(1, 0, 0)); // partition 1 busy, nothing queued
    let returned = false;
    const pushed = lanes.push(h.batch(0, 0, 5)).then(() => (returned = true));
    for (let i = 0; i < 5; i++) await tick();
    expect(returned).toBe(false); // partition 1's handler is busy: another fetch would bring little
    release1();
    await pushed; // partition 1 is idle: fetching it is worth it, partition 0 stays paused
    expect(lanes.paused()).toEqual(['t|0']);
    await lanes.push(h.batch(1, 1, 2));
    await until('partition 1 handled', () => h.seen.includes('1:2'));
    expect(h.seen.filter((id) => id.startsWith('0:'))).toEqual([]);
    const stopping = lanes.drain();
    expect(h.paused.size).toBe(0); // a dropped lane takes its pause with it
    release0();
    await stopping;
  });

  it('rewinds a partition whose handler rejects: seeks back to the first message not done and ignores stale batches', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, options);
    h.fails.add('0:4');
    // Chunks of 3: 0-2 done; the chunk 3-5 rejects at 4, which counts as none of it done.
    await lanes.push(h.batch(0, 0, 6));
    await until('the rewind', () => h.seeks.length === 1);
    expect(h.seeks).toEqual(['0:3']);
    expect(h.errors).toEqual(['0: 0:4 failed']);
    expect(h.applied.get(0)).toBe('2');
    // A batch fetched before the seek took effect is stale: ignored, position not moved.
    h.resolved.delete(0);
    await lanes.push(h.batch(0, 7, 8, true));
    expect(h.resolved.has(0)).toBe(false);
    // The fetch from the sought position: 3 onwards again, in order (3 is seen twice: the
    // handler had done it before it rejected; the consumer's inbox makes that harmless).
    await lanes.push(h.batch(0, 3, 8));
    await until('handled', () => h.seen.includes('0:8'));
    expect(h.seen).toEqual(['0:0', '0:1', '0:2', '0:3', '0:3', '0:4', '0:5', '0:6', '0:7', '0:8']);
    expect(h.applied.get(0)).toBe('8');
  });

  it('runs at most `concurrency` handler calls at once', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, { ...options, concurrency: 2 });
    const releases = [0, 1, 2, 3].map((p) => h.hold(`${p}:0`));
    for (const p of [0, 1, 2, 3]) await lanes.push(h.batch(p, 0, 1));
    await new Promise((r) => setTimeout(r, 20));
    expect(h.maxInHandler()).toBe(2);
    for (const r of releases) r();
    await until('handled', () => h.seen.length === 8);
    expect(h.maxInHandler()).toBe(2);
  });

  it('drops the queue of a revoked partition and keeps the others', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, options);
    const release = h.hold('0:1');
    await lanes.push(h.batch(0, 0, 5));
    await lanes.push(h.batch(1, 0, 1));
    await until('partition 1 handled', () => h.seen.includes('1:1'));
    lanes.revokeExcept(new Set(['t|1']));
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(h.seen.filter((id) => id.startsWith('0:'))).toEqual(['0:0']); // stopped where it was
    expect(h.seeks).toEqual([]); // no rewind: the partition's new owner reads it
    expect(lanes.queued().has('t|0')).toBe(false);
  });

  it('a partition that comes back while its old handler call still runs gets a new lane; the old call rewinds nothing', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, options);
    const release = h.hold('0:2');
    await lanes.push(h.batch(0, 0, 5)); // the first chunk (0-2) waits at 0:2
    await until('0:1 handled', () => h.seen.includes('0:1'));
    lanes.revokeExcept(new Set()); // lost in a rebalance ...
    await lanes.push(h.batch(0, 3, 5)); // ... and back: its fetch starts at the committed position
    await until('the new lane handled its batch', () => h.seen.includes('0:5'));
    release(); // the old call stops short (its lane is closed): no failure, no seek
    await new Promise((r) => setTimeout(r, 20));
    expect(h.seeks).toEqual([]);
    expect(h.errors).toEqual([]);
    expect(h.seen).toEqual(['0:0', '0:1', '0:3', '0:4', '0:5']);
  });

  it('a stop waits for the handler call in progress and takes nothing after it', async () => {
    const h = scriptedHost();
    const lanes = new PartitionLanes(h.host, options);
    const release = h.hold('0:1');
    await lanes.push(h.batch(0, 0, 5));
    await until('0:0 handled', () => h.seen.includes('0:0'));
    h.stop();
    let drained = false;
    const stopping = lanes.drain().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    release();
    await stopping;
    expect(h.seen).toEqual(['0:0']);
    expect(h.applied.get(0)).toBe('0');
    await lanes.push(h.batch(0, 6, 7)); // after the stop: ignored
    await tick();
    expect(h.seen).toEqual(['0:0']);
  });
});
