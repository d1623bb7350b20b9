/**
 * Load-adaptive throttling of a backfill, in the manner of gh-ost's and Vitess' throttlers: the
 * backfill slows down when the databases it reads and writes answer others more slowly, not at a
 * fixed rate chosen beforehand.
 *
 * Between batches each database (the source and the target) is probed on a connection of its
 * own: the latency of a small query (`SELECT 1` unless told otherwise) and the replay lag of its
 * replicas (`pg_stat_replication`, where the role may read it). A probe over its limit halves the
 * backfill's duty cycle (the share of time it works); probes under half the limits raise it again
 * by a tenth (additive increase, multiplicative decrease). At the lowest duty cycle a probe over
 * the limit pauses the backfill until the databases recover. Every slow-down has a reason that
 * names the database and the figure ("target latency 48 ms > 20 ms"), which progress reports.
 *
 * The latency limit is the larger of `maxLatencyMs` and four times the latency measured before
 * the first batch: on a machine that is slow to begin with, the backfill slows when latency
 * rises, not because it was never low.
 */
import { Client } from 'pg';
import { sleep } from './sleep';

export interface LoadThrottleOptions {
  /** Probe latency (ms) above which the backfill slows down (default 20; see the module note). */
  readonly maxLatencyMs?: number;
  /** Replay lag of a replica (ms) above which the backfill slows down (default 1000). */
  readonly maxReplicationLagMs?: number;
  /** The query whose latency is measured on each database (default `SELECT 1`). */
  readonly probeSql?: string;
  /** Least time between two probes, ms (default 200). */
  readonly intervalMs?: number;
}

/** What one probe of one database found. */
export interface ProbeSample {
  readonly latencyMs: number;
  /** Replay lag of its most lagging replica; undefined when it has none or it may not be read. */
  readonly lagMs?: number;
}

export interface ThrottleState {
  /** Share of the time the backfill works, 0.05 to 1 (1: not slowed). */
  readonly duty: number;
  /** Why it is slowed (the last limit crossed), null when it is not. */
  readonly reason: string | null;
  /** Time spent waiting for the databases so far, ms. */
  readonly waitedMs: number;
  /** True while a probe over the limit holds the backfill at its lowest duty cycle. */
  readonly paused: boolean;
}

export const MIN_DUTY = 0.05;
const INCREASE = 0.1;
/** A pause re-probes this often. */
const PAUSE_PROBE_MS = 100;
/** No single wait between batches is longer than this (the next probe decides what follows). */
const MAX_WAIT_MS = 5_000;

interface Limits {
  readonly latencyMs: number;
  readonly lagMs: number;
}

/**
 * The decision, without any I/O: given the samples of both databases, the next duty cycle and
 * its reason. `over` when a limit is crossed; the duty rises only when every figure is under half
 * its limit (between the two it holds).
 */
export function nextDuty(duty: number, samples: Readonly<Record<string, ProbeSample>>, limits: Limits): { duty: number; reason: string | null; over: boolean } {
  let reason: string | null = null;
  let calm = true;
  for (const [name, s] of Object.entries(samples)) {
    if (s.latencyMs > limits.latencyMs) reason ??= `${name} latency ${Math.round(s.latencyMs)} ms > ${Math.round(limits.latencyMs)} ms`;
    if (s.lagMs !== undefined && s.lagMs > limits.lagMs) reason ??= `${name} replica lag ${Math.round(s.lagMs)} ms > ${Math.round(limits.lagMs)} ms`;
    if (s.latencyMs > limits.latencyMs / 2 || (s.lagMs !== undefined && s.lagMs > limits.lagMs / 2)) calm = false;
  }
  if (reason) return { duty: Math.max(MIN_DUTY, duty / 2), reason, over: true };
  if (calm) return { duty: Math.min(1, duty + INCREASE), reason: null, over: false };
  return { duty, reason: null, over: false };
}

/** How long to wait after a batch that took `workMs`, for the backfill to work `duty` of the time. */
export function waitAfter(workMs: number, duty: number): number {
  if (duty >= 1 || workMs <= 0) return 0;
  return Math.min(MAX_WAIT_MS, (workMs * (1 - duty)) / duty);
}

const LAG_SQL = `SELECT (EXTRACT(EPOCH FROM max(replay_lag)) * 1000)::float8 AS lag_ms FROM pg_stat_replication`;

class Probe {
  private readonly client: Client;
  private lagReadable = true;

  constructor(url: string, name: string, private readonly sql: string) {
    this.client = new Client({ connectionString: url, application_name: `carve-backfill-probe:${name}`, connectionTimeoutMillis: 10_000 });
    this.client.on('error', () => undefined); // a broken probe connection surfaces on its next query
  }

  connect(): Promise<void> {
    return this.client.connect();
  }

  async sample(): Promise<ProbeSample> {
    const t = performance.now();
    await this.client.query(this.sql);
    const latencyMs = performance.now() - t;
    if (!this.lagReadable) return { latencyMs };
    try {
      const r = await this.client.query(LAG_SQL);
      const lag = r.rows[0]?.lag_ms;
      return lag === null || lag === undefined ? { latencyMs } : { latencyMs, lagMs: Number(lag) };
    } catch {
      this.lagReadable = false; // a role without pg_monitor: latency alone
      return { latencyMs };
    }
  }

  end(): Promise<void> {
    return this.client.end().catch(() => undefined);
  }
}

export class LoadThrottle {
  private readonly probes: Array<[string, Probe]>;
  private limits: Limits = { latencyMs: Infinity, lagMs: Infinity };
  private duty = 1;
  private reason: string | null = null;
  private paused = false;
  private waitedMs = 0;
  private lastProbe = -Infinity;

  constructor(
    databases: Readonly<Record<string, string>>,
    private readonly opts: LoadThrottleOptions = {},
    private readonly onChange: (s: ThrottleState) => void = () => undefined,
  ) {
    const sql = opts.probeSql ?? 'SELECT 1';
    this.probes = Object.entries(databases).map(([name, url]) => [name, new Probe(url, name, sql)]);
  }

  /** Connects the probes and measures the latency the limit is relative to (the median of five). */
  async start(): Promise<void> {
    await Promise.all(this.probes.map(([, p]) => p.connect()));
    let base = 0;
    for (const [, p] of this.probes) {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) xs.push((await p.sample()).latencyMs);
      xs.sort((a, b) => a - b);
      base = Math.max(base, xs[2]);
    }
    this.limits = { latencyMs: Math.max(this.opts.maxLatencyMs ?? 20, 4 * base), lagMs: this.opts.maxReplicationLagMs ?? 1000 };
  }

  get state(): ThrottleState {
    return { duty: this.duty, reason: this.reason, waitedMs: this.waitedMs, paused: this.paused };
  }

  get latencyLimitMs(): number {
    return this.limits.latencyMs;
  }

  /**
   * Called after a batch that took `workMs`: probes (at most every `intervalMs`), adjusts the duty
   * cycle, waits what it asks for, and holds while a probe at the lowest duty cycle is over a limit.
   */
  async afterBatch(workMs: number, signal?: AbortSignal): Promise<void> {
    const t0 = performance.now();
    if (t0 - this.lastProbe >= (this.opts.intervalMs ?? 200)) await this.probe();
    await sleep(waitAfter(workMs, this.duty), signal);
    while (this.paused && !signal?.aborted) {
      await sleep(PAUSE_PROBE_MS, signal);
      await this.probe();
    }
    this.waitedMs += performance.now() - t0;
  }

  private async probe(): Promise<void> {
    const samples: Record<string, ProbeSample> = {};
    for (const [name, p] of this.probes) samples[name] = await p.sample();
    this.lastProbe = performance.now();
    const before = this.duty;
    const atFloor = this.duty <= MIN_DUTY;
    const next = nextDuty(this.duty, samples, this.limits);
    const wasPaused = this.paused;
    const lastReason = this.reason;
    this.duty = next.duty;
    this.paused = next.over && atFloor;
    if (next.reason) this.reason = next.reason;
    else if (this.duty >= 1) this.reason = null;
    if (this.duty !== before || this.paused !== wasPaused || this.reason !== lastReason) this.onChange(this.state);
  }

  async close(): Promise<void> {
    await Promise.all(this.probes.map(([, p]) => p.end()));
  }
}
