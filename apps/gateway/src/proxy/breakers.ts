/**
 * One circuit breaker (@carve/shared-routing) per service upstream, created on first use. The
 * monolith has none: it is where traffic falls back to, so it is never cut off.
 */
import { type BreakerSnapshot, CircuitBreaker } from '@carve/shared-routing';
import type { Logger } from '@carve/shared-http';
import type { GatewayMetrics } from '../telemetry/metrics';

export interface BreakerSettings {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
}

export class Breakers {
  private readonly byUpstream = new Map<string, CircuitBreaker>();

  constructor(
    private readonly settings: BreakerSettings,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  for(upstream: string): CircuitBreaker {
    let b = this.byUpstream.get(upstream);
    if (!b) {
      b = new CircuitBreaker({
        failureThreshold: this.settings.failureThreshold,
        cooldownMs: this.settings.cooldownMs,
        onStateChange: (from, to, reason) => {
          this.metrics.breakerState(upstream, to);
          const level = to === 'open' ? 'warn' : 'info';
          this.log[level]({ upstream, from, to, reason }, `circuit breaker ${upstream}: ${from} -> ${to} (${reason})`);
        },
      });
      this.byUpstream.set(upstream, b);
      this.metrics.breakerState(upstream, 'closed', false);
    }
    return b;
  }

  snapshot(upstream: string): BreakerSnapshot {
    return this.for(upstream).snapshot();
  }

  all(): Record<string, BreakerSnapshot> {
    const out: Record<string, BreakerSnapshot> = {};
    for (const [name, b] of this.byUpstream) out[name] = b.snapshot();
    return out;
  }
}
