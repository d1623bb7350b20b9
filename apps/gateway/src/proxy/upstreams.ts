/**
 * Where the upstreams are, and the connection pools that reach them. One undici Agent carries
 * the live traffic: it keeps one keep-alive Pool per upstream origin (`connections` each). The
 * shadow copies go through a second Agent of their own, so a slow service in shadow mode can
 * never take the sockets the client's requests need.
 */
import { Agent } from 'undici';
import type { RouteTable, Upstream } from '@carve/shared-routing';

export interface ResolvedUpstream {
  readonly name: string;
  /** scheme://host:port */
  readonly origin: string;
  /** Path prefix of the upstream URL without the trailing slash ("" for none). */
  readonly basePath: string;
  readonly timeoutMs: number;
}

export class Upstreams {
  readonly live: Agent;
  readonly shadow: Agent;
  private readonly cache = new WeakMap<RouteTable, Map<string, ResolvedUpstream>>();

  constructor(
    private readonly defaultTimeoutMs: number,
    connections: number,
    shadowConnections: number,
  ) {
    this.live = new Agent({ connections, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
    this.shadow = new Agent({ connections: shadowConnections, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
  }

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
    await Promise.all([this.live.close().catch(() => undefined), this.shadow.close().catch(() => undefined)]);
  }

  private resolve(u: Upstream): ResolvedUpstream {
    const url = new URL(u.url);
    return {
      name: u.name,
      origin: url.origin,
      basePath: url.pathname.replace(/\/+$/, ''),
      timeoutMs: u.timeoutMs ?? this.defaultTimeoutMs,
    };
  }
}
