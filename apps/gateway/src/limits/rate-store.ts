/**
 * Token buckets for the per-tenant rate limits: `take(key, rate, burst)` spends one token of the
 * bucket `key` (refilled at `rate` per second, holding at most `burst`) and answers 0 when the
 * request may go, or the milliseconds until the bucket has a token again.
 *
 * - `LocalBuckets`: in this process (the embedded default), answered synchronously.
 * - `RedisBuckets`: one bucket per key shared by every replica, in Redis (a Lua script, the
 *   clock of the Redis server), so a limit holds across the gateway's replicas. While the store
 *   is unreachable (not connected, an error, or no answer within `timeoutMs`), each replica keeps
 *   limiting on its own buckets at the same rates: never open, never shut. It goes back to the
 *   store once it answers again.
 */
import fs from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '@carve/shared-http';
import { GuardedConnector } from './redis-connector';

export interface RateStore {
  /** 0: allowed (a token was spent); otherwise the milliseconds until a token is back. */
  take(key: string, ratePerSecond: number, burst: number): number | Promise<number>;
  close(): Promise<void>;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class LocalBuckets implements RateStore {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly maxKeys = 100_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(key: string, ratePerSecond: number, burst: number): number {
    const now = this.now();
    const perMs = ratePerSecond / 1000;
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      b = { tokens: burst, at: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + (now - b.at) * perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs));
  }

  /** Forgets full buckets (they hold nothing a new one would not), else the oldest half. */
  private sweep(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
    if (this.buckets.size < this.maxKeys) return;
    let n = Math.floor(this.buckets.size / 2);
    for (const k of this.buckets.keys()) {
      if (n-- <= 0) break;
      this.buckets.delete(k);
    }
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }
}

/** Spends a token of bucket KEYS[1]; ARGV: rate per second, burst. Returns the wait in ms (0: go). */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens = tonumber(v[1])
local at = tonumber(v[2])
if tokens == nil or at == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'a', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return wait
`;

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS). */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** TLS even with a redis:// URL (ElastiCache in-transit encryption). */
  readonly tls?: boolean;
  /** PEM of the CA that signed the server's certificate (default: the system's). */
  readonly caFile?: string;
  /** A call that takes longer counts as a store failure (local limiting for it). */
  readonly timeoutMs?: number;
  /** Prefix of the keys (default `carve:rl:`). */
  readonly prefix?: string;
}

type TakeCommand = (key: string, rate: number, burst: number) => Promise<number>;

export class RedisBuckets implements RateStore {
  readonly redis: Redis;
  private readonly local = new LocalBuckets();
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private degraded = false;
  /** Calls answered by the local buckets because the store was unreachable. */
  localAnswers = 0;

  constructor(
    opts: RedisStoreOptions,
    private readonly log: Logger,
    private readonly onDegraded: (degraded: boolean) => void = () => undefined,
  ) {
    this.prefix = opts.prefix ?? 'carve:rl:';
    this.timeoutMs = opts.timeoutMs ?? 50;
    const tlsWanted = opts.tls || opts.url.startsWith('rediss:');
    const options: RedisOptions = {
      lazyConnect: false,
      // Every error of a connection is listened to (see GuardedConnector): a failed TLS
      // handshake must leave the store unreachable, not the gateway dead.
      Connector: GuardedConnector,
      // Fail fast while disconnected: those calls are answered locally.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(2000, 50 * times),
      ...(opts.username ? { username: opts.username } : {}),
      ...(opts.password ? { password: opts.password } : {}),
      ...(tlsWanted ? { tls: opts.caFile ? { ca: fs.readFileSync(opts.caFile) } : {} } : {}),
    };
    this.redis = new Redis(opts.url, options);
    this.redis.defineCommand('carveTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.redis.on('error', (err: Error) => this.markDegraded(true, err.message));
    this.redis.on('ready', () => this.markDegraded(false));
    this.redis.on('end', () => this.markDegraded(true, 'connection closed'));
  }

  /** Whether the store is unreachable (this replica limits on its own). */
  get isDegraded(): boolean {
    return this.degraded || this.redis.status !== 'ready';
  }

  take(key: string, ratePerSecond: number, burst: number): number | Promise<number> {
    if (this.redis.status !== 'ready') return this.fallback(key, ratePerSecond, burst);
    return new Promise<number>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.markDegraded(true, `no answer within ${this.timeoutMs} ms`);
        resolve(this.fallback(key, ratePerSecond, burst));
      }, this.timeoutMs);
      ((this.redis as unknown as { carveTake: TakeCommand }).carveTake(this.prefix + key, ratePerSecond, burst)).then(
        (wait) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (this.degraded) this.markDegraded(false);
          resolve(Number(wait));
        },
        (err: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.markDegraded(true, err.message);
          resolve(this.fallback(key, ratePerSecond, burst));
        },
      );
    });
  }

  private fallback(key: string, ratePerSecond: number, burst: number): number {
    this.localAnswers += 1;
    return this.local.take(key, ratePerSecond, burst);
  }

  private markDegraded(degraded: boolean, why?: string): void {
    if (degraded === this.degraded) return;
    this.degraded = degraded;
    if (degraded) this.log.warn({ why }, 'rate limits: the shared store is unreachable; limiting on this replica alone');
    else this.log.info('rate limits: the shared store answers again');
    this.onDegraded(degraded);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    await this.local.close();
  }
}
