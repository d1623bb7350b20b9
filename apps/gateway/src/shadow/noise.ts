/**
 * The noise baseline of this replica: per route, the field paths where two answers of the
 * monolith to the same request differed (learned by the shadower's noise probes, in every
 * replica). Learned paths apply at once here; they are added to the control plane's counts by
 * one background writer (counts learned while it writes go with its next write), and the
 * paths every replica learned are read back every `syncMs`.
 */
import type { ControlPlaneClient } from '@carve/shared-control-plane';
import type { Logger } from '@carve/shared-http';

/** Paths kept per route in memory; beyond it new paths still count in the control plane. */
const MAX_PATHS_PER_ROUTE = 1000;

export class NoiseBaseline {
  private readonly known = new Map<string, Set<string>>();
  private pending = new Map<string, Map<string, number>>();
  private writing = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly controlPlane: ControlPlaneClient,
    private readonly log: Logger,
    private readonly syncMs = 10_000,
  ) {}

  /** Reads the control plane's baseline now, then every `syncMs`. */
  async start(): Promise<void> {
    await this.load();
    this.timer = setInterval(() => void this.load(), this.syncMs);
    this.timer.unref();
  }

  /** The noise paths of a route known to this replica. */
  paths(routeId: string): ReadonlySet<string> {
    return this.known.get(routeId) ?? EMPTY;
  }

  /** Two monolith answers of a request on `routeId` differed at `paths` (fieldPathKey form). */
  learn(routeId: string, paths: readonly string[]): void {
    if (this.closed || paths.length === 0) return;
    this.remember(routeId, paths);
    let counts = this.pending.get(routeId);
    if (!counts) this.pending.set(routeId, (counts = new Map()));
    for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1);
    if (!this.writing) void this.drain();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.pending.clear();
  }

  private remember(routeId: string, paths: Iterable<string>): void {
    let set = this.known.get(routeId);
    if (!set) this.known.set(routeId, (set = new Set()));
    for (const p of paths) if (set.size < MAX_PATHS_PER_ROUTE) set.add(p);
  }

  private async load(): Promise<void> {
    try {
      const rows = await this.controlPlane.noise();
      for (const r of rows) this.remember(r.routeId, [r.path]);
    } catch (err) {
      this.log.warn({ err }, 'shadow: could not read the noise baseline from the control plane');
    }
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.size > 0 && !this.closed) {
        const batch = this.pending;
        this.pending = new Map();
        for (const [routeId, counts] of batch) {
          await this.controlPlane.recordNoise(routeId, counts).catch((err) => this.log.warn({ err, route: routeId }, 'shadow: could not store noise in the control plane'));
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();
