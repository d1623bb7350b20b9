/**
 * This replica tells the control plane what it serves (`carve.gateway_replicas`): the route ids
 * of its table, the table file's hash and the control-plane version it applied. At start (before
 * it listens), every `heartbeatMs` and at once when its table or overrides change; when it stops
 * cleanly it removes its row. At start it forgets replicas not seen for an hour (killed ones). The carving commands refuse to move a route to the service that a
 * live replica (seen within DEFAULT_REPLICA_LIVE_MS) does not serve; `carve status` shows
 * whether the replicas agree.
 *
 * A report that fails (the control plane is away) is logged and tried again at the next beat:
 * serving never depends on it.
 */
import os from 'node:os';
import { type ControlPlaneClient, pruneGatewayReplicas, removeGatewayReplica, reportGatewayReplica } from '@carve/shared-control-plane';
import type { Logger } from '@carve/shared-http';
import type { RouteFile } from './route-file';
import type { RoutingState } from './routing-state';

/** Three beats fit in the liveness window (15 s). */
export const REPLICA_HEARTBEAT_MS = 5000;
/** Rows of replicas not seen for this long (killed, never stopped cleanly) are removed at start. */
export const FORGET_REPLICAS_AFTER_MS = 3_600_000;

export class ReplicaReporter {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private failing = false;
  private stopped = false;

  constructor(
    private readonly controlPlane: ControlPlaneClient,
    private readonly routing: RoutingState,
    private readonly file: RouteFile,
    private readonly replicaId: string,
    private readonly startedAt: Date,
    private readonly log: Logger,
    private readonly heartbeatMs = REPLICA_HEARTBEAT_MS,
  ) {}

  /** Reports once (awaited), then on every beat and every change. */
  async start(): Promise<void> {
    this.routing.onApplied(() => void this.report());
    await this.report();
    await pruneGatewayReplicas(this.controlPlane.pool, FORGET_REPLICAS_AFTER_MS).catch((err: Error) => this.log.warn({ err: err.message }, 'gateway replica: could not forget old replicas'));
    this.timer = setInterval(() => void this.report(), this.heartbeatMs);
    this.timer.unref();
  }

  /** Reports now (a report in flight is followed by one more). */
  report(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = this.send().finally(() => {
      this.inFlight = null;
      if (this.again) {
        this.again = false;
        void this.report();
      }
    });
    return this.inFlight;
  }

  /** Stops beating and removes this replica's row. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight?.catch(() => undefined);
    await removeGatewayReplica(this.controlPlane.pool, this.replicaId).catch((err: Error) => this.log.warn({ err: err.message }, 'gateway replica: could not remove its row'));
  }

  private async send(): Promise<void> {
    try {
      await reportGatewayReplica(this.controlPlane.pool, {
        replicaId: this.replicaId,
        hostname: os.hostname(),
        pid: process.pid,
        tableHash: this.file.status().hash,
        routeIds: this.routing.table.routes.map((r) => r.id),
        controlVersion: this.routing.controlVersion,
        startedAt: this.startedAt.toISOString(),
      });
      if (this.failing) this.log.info('gateway replica: reporting to the control plane again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'gateway replica: could not report to the control plane (retrying at the next beat)');
      this.failing = true;
    }
  }
}
