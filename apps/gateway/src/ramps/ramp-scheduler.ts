/**
 * Every gateway replica applies the timed canary ramps of the control plane (`carve.ramps`):
 * every `everyMs` (the control-plane poll interval) it runs one round of `Ramps.tick` from
 * @carve/shared-carving, which pauses the ramps of contexts the guard tripped on and applies each
 * due step. A due ramp row is taken with `FOR UPDATE SKIP LOCKED`, so with several replicas
 * exactly one applies a step; the step is the change `carve stage <context> canary --percent N`
 * makes (audited with this replica as its actor, notified to every replica). The ramp lives in the
 * control plane, so a replica that dies mid-ramp leaves it to the others, or to the next one.
 *
 * A round that fails (the control plane is away) is logged and tried again at the next one:
 * serving never depends on it. Rounds never overlap.
 */
import type { ControlPlaneClient } from '@carve/shared-control-plane';
import { Ramps, StageStore } from '@carve/shared-carving';
import type { Logger } from '@carve/shared-http';

export class RampScheduler {
  private readonly ramps: Ramps;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private failing = false;

  constructor(
    controlPlane: ControlPlaneClient,
    private readonly actor: string,
    private readonly log: Logger,
    private readonly everyMs: number,
  ) {
    this.ramps = new Ramps(new StageStore(controlPlane));
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.everyMs);
    this.timer.unref();
  }

  /** One round now (none when one is running). */
  tick(): Promise<void> {
    this.round ??= this.ramps
      .tick(this.actor)
      .then((events) => {
        if (this.failing) this.log.info('ramps: the scheduler works again');
        this.failing = false;
        for (const e of events) this.log.info({ ramp: e }, `ramp of ${e.context}: ${e.what}${e.percent !== undefined ? ` ${e.percent}% (step ${e.step})` : ''}${e.why ? `: ${e.why}` : ''}`);
      })
      .catch((err: Error) => {
        if (!this.failing) this.log.warn({ err: err.message }, 'ramps: a scheduler round failed (tried again at the next one)');
        this.failing = true;
      })
      .finally(() => {
        this.round = null;
      });
    return this.round;
  }

  /** Stops the rounds; waits for one in flight (its step is either applied and recorded, or neither). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
  }
}
