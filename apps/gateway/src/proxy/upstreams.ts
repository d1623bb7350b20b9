/**
 * Where the upstreams are, and the connection pools that reach them: one undici keep-alive
 * Pool per upstream origin for the live traffic (`connections` sockets each), and a second,
 * smaller Pool per origin for the shadow copies, so a slow service in shadow mode can never
 * take the sockets the client's requests need. Pools are kept by origin across route-table
 * reloads (a reload that keeps an upstream keeps its warm connections).
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
}

export class Upstreams {
  private readonly cache = new WeakMap<RouteTable, Map<string, ResolvedUpstream>>();
  private readonly pools = new Map<string, { live: Pool; shadow: Pool }>();
  private closed = false;

  constructor(
    private readonly defaultTimeoutMs: number,
    private readonly connections: number,
    private readonly shadowConnections: number,
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

  private poolsOf(origin: string): { live: Pool; shadow: Pool } {
    let p = this.pools.get(origin);
    if (!p) {
      if (this.closed) throw new Error('the upstream pools are closed');
      const common = { pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 };
      p = { live: new Pool(origin, { ...common, connections: this.connections }), shadow: new Pool(origin, { ...common, connections: this.shadowConnections }) };
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
    };
  }
}
