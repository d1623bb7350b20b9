/**
 * What this replica saw per route since it started, for the admin API (Prometheus has the same
 * figures across replicas), and the latest shadow mismatch samples it found (kept in memory so
 * the admin API shows them even while the control plane is unreachable).
 */
import type { MismatchBodies } from '@carve/shared-control-plane';
import type { Difference } from '@carve/shared-routing';

export interface MismatchSample {
  readonly at: string;
  readonly request: { method: string; path: string; tenantId: string | null; requestId: string };
  readonly monolithStatus: number | null;
  readonly serviceStatus: number | null;
  readonly differences: readonly Difference[];
  readonly truncated: boolean;
  /** The field paths it differs in (fieldPathKey form). */
  readonly paths?: readonly string[];
  /** Both bodies as compared, when small enough to keep (shadow.ts). */
  readonly bodies?: MismatchBodies | null;
}

export interface RouteCounters {
  monolith: number;
  service: number;
  fallbacks: number;
  serviceErrors: number;
  /** Requests the client abandoned mid-body on the service side (not the service's failures). */
  clientAborts: number;
  /** `noise`: comparisons that differed only at the route's noise paths (not mismatches). */
  shadow: { match: number; mismatch: number; noise: number; error: number; skipped: number };
  /**
   * Response times per side: the answers served by the monolith and by the service (whole
   * response, as the client saw it), and the service's answers to shadow copies. A mean over any
   * interval is the difference of `totalMs` over the difference of `count`.
   */
  latency: { monolith: Latency; service: Latency; shadow: Latency };
}

export interface Latency {
  count: number;
  totalMs: number;
}

const KEEP_SAMPLES = 10;

export class RouteStats {
  private readonly counters = new Map<string, RouteCounters>();
  private readonly samples = new Map<string, MismatchSample[]>();

  of(routeId: string): RouteCounters {
    let c = this.counters.get(routeId);
    if (!c) {
      c = {
        monolith: 0,
        service: 0,
        fallbacks: 0,
        serviceErrors: 0,
        clientAborts: 0,
        shadow: { match: 0, mismatch: 0, noise: 0, error: 0, skipped: 0 },
        latency: { monolith: { count: 0, totalMs: 0 }, service: { count: 0, totalMs: 0 }, shadow: { count: 0, totalMs: 0 } },
      };
      this.counters.set(routeId, c);
    }
    return c;
  }

  addSample(routeId: string, sample: MismatchSample): void {
    let list = this.samples.get(routeId);
    if (!list) this.samples.set(routeId, (list = []));
    list.unshift(sample);
    if (list.length > KEEP_SAMPLES) list.length = KEEP_SAMPLES;
  }

  latestSamples(routeId: string): readonly MismatchSample[] {
    return this.samples.get(routeId) ?? [];
  }
}
