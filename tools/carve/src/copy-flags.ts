/**
 * The flags of the commands that copy rows in batches (`carve backfill`, `carve move backfill`):
 * the batch size, a fixed ceiling in rows per second, and the load-adaptive throttle
 * (@carve/shared-carving load-throttle.ts), with the same names, defaults and refusals on both.
 */
import type { Command } from 'commander';
import type { LoadThrottleOptions, ThrottleState } from '@carve/shared-carving';
import { formatDuration } from '@carve/shared-progress';
import { CliError, EXIT } from './cli-error';

/** A flag's value as a whole number of at least `min` (underscores allowed: 10_000); exit 2 otherwise. */
export const whole = (flag: string, min = 1) => (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new CliError(`${flag} needs a whole number of at least ${min}, got "${v}"`, undefined, EXIT.usage);
  return n;
};

export interface CopyFlags {
  batchSize?: number;
  maxRowsPerSecond?: number;
  throttle: string;
  maxLatencyMs?: number;
  maxReplicaLagMs?: number;
}

/** Adds the batch size and throttle flags; `databases` names what the throttle probes. */
export function withCopyFlags(c: Command, databases: string): Command {
  return c
    .option('--batch-size <n>', 'rows per batch (default 10000)', whole('--batch-size'))
    .option('--max-rows-per-second <n>', 'a fixed ceiling on the rate (the load throttle still slows below it)', whole('--max-rows-per-second'))
    .option('--throttle <mode>', `auto: slow down while ${databases} answers slowly or its replicas lag; off: never`, 'auto')
    .option('--max-latency-ms <n>', 'with --throttle auto: probe latency above which it slows down (default 20, or 4x the latency measured at the start)', whole('--max-latency-ms'))
    .option('--max-replica-lag-ms <n>', 'with --throttle auto: replica replay lag above which it slows down (default 1000)', whole('--max-replica-lag-ms'));
}

/** The copy's options from the flags; a contradiction is a usage error (exit 2) before anything connects. */
export function copyOptionsOf(flags: CopyFlags): { batchSize?: number; maxRowsPerSecond?: number; throttle?: LoadThrottleOptions } {
  if (flags.throttle !== 'auto' && flags.throttle !== 'off') throw new CliError(`--throttle is auto or off, not ${flags.throttle}`, 'use --throttle auto (the default) or --throttle off', EXIT.usage);
  if (flags.throttle === 'off' && (flags.maxLatencyMs !== undefined || flags.maxReplicaLagMs !== undefined)) {
    throw new CliError('--max-latency-ms and --max-replica-lag-ms set the load throttle, which --throttle off turns off', 'drop one of them', EXIT.usage);
  }
  return {
    batchSize: flags.batchSize,
    maxRowsPerSecond: flags.maxRowsPerSecond,
    ...(flags.throttle === 'auto' ? { throttle: { maxLatencyMs: flags.maxLatencyMs, maxReplicationLagMs: flags.maxReplicaLagMs } } : {}),
  };
}

/** What a progress line adds while the throttle holds the copy back: ` (slowed to 25%: target latency 48 ms > 20 ms)`. */
export function slowedNote(t: ThrottleState | undefined): string {
  return t && t.duty < 1 ? ` (${t.paused ? 'paused' : `slowed to ${Math.round(t.duty * 100)}%`}: ${t.reason ?? 'recovering'})` : '';
}

/** What a report line adds when the throttle held the copy back a second or more. */
export function heldBackNote(throttledMs: number, slowedBy: string | null): string {
  return throttledMs >= 1000 ? `, held back ${formatDuration(throttledMs)} by load (${slowedBy ?? 'probe latency'})` : '';
}
