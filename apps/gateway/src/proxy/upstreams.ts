/**
 * Where the upstreams are, and the connection pools that reach them: one undici keep-alive
 * Pool per upstream origin for the live traffic (`connections` sockets each), and a second,
 * smaller Pool per origin for the shadow copies, so a slow service in shadow mode can never
 * take the sockets the client's requests need. Pools are kept by origin across route-table
 * reloads (a reload that keeps an upstream keeps its warm connections).
 *
 * The live traffic to an origin passes a `Gate` of as many slots as the pool has sockets: a
 * request waits for a slot at most `queue.timeoutMs`, and at most `queue.max` requests wait;
 * past either, the proxy answers 503 `upstream_saturated` with Retry-After instead of leaving
 * the client hanging in the pool's own unbounded queue.
 */
import { Pool } from 'undici';
import type { RouteTable, Upstream } from '@carve/shared-routing';

export interface ResolvedUpstream {
  readonly name: string;
  /** scheme://host:port */
  readonly origin: string;
  /** Path prefix of the upstream URL without the trailing slash ("" for none). */
  readonly basePath: string;
  readonly timeoutMs: number;
  /** The keep-alive pool of the live traffic to this origin. */
  readonly live: Pool;
  /** The pool of the shadow copies to this origin. */
  readonly shadow: Pool;
  /** The live pool's slots (shared by every upstream name on this origin). */
  readonly gate: Gate;
}

export interface QueueOptions {
  /** Longest wait for a connection slot (ms). */
  readonly timeoutMs: number;
  /** Most requests waiting at once. */
  readonly max: number;
}

interface Waiter {
  readonly go: (ok: boolean) => void;
  timer: NodeJS.Timeout | null;
}

/** Connection slots of one origin, with a bounded wait for one. */
export class Gate {
  private busy = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly slots: number,
    private readonly queue: QueueOptions,
  ) {}

  get inUse(): number {
    return this.busy;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Takes a slot: `go(true)` now (synchronously) or once one frees up; `go(false)` when the
   * queue is full (synchronously) or the wait passes the timeout.
   */
  acquire(go: (ok: boolean) => void): void {
    if (this.busy < this.slots) {
      this.busy += 1;
      go(true);
      return;
    }
    if (this.waiting.length >= this.queue.max) {
      go(false);
      return;
    }
    const w: Waiter = { go, timer: null };
    w.timer = setTimeout(() => {
      const i = this.waiting.indexOf(w);
      if (i >= 0) this.waiting.splice(i, 1);
      go(false);
    }, this.queue.timeoutMs);
    this.waiting.push(w);
  }

  /** Gives a slot back (to the next waiter, if any). */
  release(): void {
    const next = this.waiting.shift();
    if (next) {
      clearTimeout(next.timer!);
      next.go(true);
      return;
    }
    if (this.busy > 0) this.busy -= 1;
  }
}

export class Upstreams {
  private readonly cache = new WeakMap<RouteTable, Map<string, ResolvedUpstream>>();
  private readonly pools = new Map<string, { live: Pool; shadow: Pool; gate: Gate }>();
  private closed = false;

  constructor(
    private readonly defaultTimeoutMs: number,
    private readonly connections: number,
    private readonly shadowConnections: number,
    private readonly queue: QueueOptions = { timeoutMs: 1000, max: 1024 },
  ) {}

  /** The named upstream of a table (throws for an unknown name: validation prevents it). */
  of(table: RouteTable, name: string): ResolvedUpstream {
    let byName = this.cache.get(table);
    if (!byName) {
      byName = new Map();
      for (const u of Object.values(table.upstreams)) byName.set(u.name, this.resolve(u));
      this.cache.set(table, byName);
    }
    const u = byName.get(name);
    if (!u) throw new Error(`unknown upstream "${name}"`);
    return u;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()].flatMap((p) => [p.live, p.shadow]);
    this.pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => undefined)));
  }

  private poolsOf(origin: string): { live: Pool; shadow: Pool; gate: Gate } {
    let p = this.pools.get(origin);
    if (!p) {
      if (this.closed) throw new Error('the upstream pools are closed');
      const common = { pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 };
      p = {
        live: new Pool(origin, { ...common, connections: this.connections }),
        shadow: new Pool(origin, { ...common, connections: this.shadowConnections }),
        gate: new Gate(this.connections, this.queue),
      };
      this.pools.set(origin, p);
    }
    return p;
  }

  private resolve(u: Upstream): ResolvedUpstream {
    const url = new URL(u.url);
    const pools = this.poolsOf(url.origin);
    return {
      name: u.name,
      origin: url.origin,
      basePath: url.pathname.replace(/\/+$/, ''),
      timeoutMs: u.timeoutMs ?? this.defaultTimeoutMs,
      live: pools.live,
      shadow: pools.shadow,
      gate: pools.gate,
    };
  }
}
