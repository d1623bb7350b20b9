/**
 * Ships shadow mismatch samples to the control plane without ever slowing the proxy: samples
 * queue (bounded; overflow is dropped and counted), at most one per route per `minIntervalMs`
 * is kept, and one writer drains the queue in the background. The control plane keeps the
 * latest N per route, none older than its age limit, and counts per field path.
 */
import type { ControlPlaneClient } from '@carve/shared-control-plane';
import type { Logger } from '@carve/shared-http';
import type { MismatchSample } from '../route-table/route-stats';

export class MismatchRecorder {
  private readonly queue: Array<{ routeId: string; sample: MismatchSample }> = [];
  private readonly lastOffered = new Map<string, number>();
  private writing = false;
  private closed = false;
  dropped = 0;
  stored = 0;

  constructor(
    private readonly controlPlane: ControlPlaneClient,
    private readonly log: Logger,
    private readonly gatewayId: string,
    private readonly options: { maxQueue?: number; minIntervalMs?: number } = {},
  ) {}

  offer(routeId: string, sample: MismatchSample): void {
    if (this.closed) return;
    const now = Date.now();
    const last = this.lastOffered.get(routeId) ?? 0;
    if (now - last < (this.options.minIntervalMs ?? 1000)) {
      this.dropped += 1;
      return;
    }
    if (this.queue.length >= (this.options.maxQueue ?? 100)) {
      this.dropped += 1;
      return;
    }
    this.lastOffered.set(routeId, now);
    this.queue.push({ routeId, sample });
    if (!this.writing) void this.drain();
  }

  /** Waits for the queue to be written (tests, shutdown). */
  async flush(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.writing || this.queue.length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const { routeId, sample } = this.queue.shift()!;
        try {
          await this.controlPlane.recordMismatch({
            routeId,
            request: sample.request,
            monolithStatus: sample.monolithStatus,
            serviceStatus: sample.serviceStatus,
            differences: sample.differences,
            truncated: sample.truncated,
            gateway: this.gatewayId,
            ...(sample.paths ? { paths: sample.paths } : {}),
            ...(sample.bodies ? { bodies: sample.bodies } : {}),
          });
          this.stored += 1;
        } catch (err) {
          this.dropped += 1;
          this.log.warn({ err, route: routeId }, 'shadow: could not store a mismatch sample in the control plane');
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
