/**
 * A small process supervisor for `carve dev`: starts each deployable as a child process,
 * prefixes its output with its name, waits for it to become ready, restarts a child that dies
 * (with backoff, reported through `onEvent`, while the others keep serving), and stops
 * everything it started on request.
 *
 * Each child runs in a process group of its own, so a terminal's Ctrl-C reaches this process
 * only and each child is signalled once, by the supervisor (SIGTERM, then SIGKILL after the
 * grace period, to the child's whole group). Children learn the supervisor's PID from the
 * environment (CARVE_PARENT_PID, see installGracefulShutdown) and stop by themselves if it is
 * killed without a chance to stop them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** URL that answers 2xx once the process serves (e.g. http://127.0.0.1:3000/readyz). */
  readyUrl?: string;
  readyTimeoutMs?: number;
}

/** What happens to a supervised child after its first start. */
export type SupervisorEvent =
  | { kind: 'exited'; name: string; code: number | null; signal: NodeJS.Signals | null; restartInMs: number; restarts: number }
  | { kind: 'restarted'; name: string; pid: number; restarts: number }
  | { kind: 'restart-failed'; name: string; error: string };

export interface Running {
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
}

interface Supervised {
  spec: ProcessSpec;
  current: Running;
  restarts: number;
  startedAt: number;
  timer?: NodeJS.Timeout;
  color: number;
}

export interface SupervisorOptions {
  out?: NodeJS.WritableStream;
  raw?: boolean;
  onEvent?: (e: SupervisorEvent) => void;
  /** First restart delay; doubles per consecutive crash up to `maxBackoffMs`. Default 500 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A child that stayed up this long starts its backoff afresh. Default 30 s. */
  stableAfterMs?: number;
}

const COLORS = [36, 35, 33, 32, 34, 31];

function pretty(line: string): string {
  // pino JSON → "level msg {rest}" so a person can read the interleaved logs.
  if (!line.startsWith('{')) return line;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (typeof o.level !== 'number') return line;
    const level = ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[o.level as number] ?? o.level;
    const { msg, time: _t, level: _l, pid: _p, hostname: _h, service: _s, ...rest } = o;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${level} ${msg ?? ''}${extra}`;
  } catch {
    return line;
  }
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null && c.pid !== undefined;

export class Supervisor {
  private readonly supervised: Supervised[] = [];
  private readonly oneShots = new Set<Running>();
  private stopping = false;
  private readonly out: NodeJS.WritableStream;
  private readonly raw: boolean;

  constructor(private readonly options: SupervisorOptions = {}) {
    this.out = options.out ?? process.stdout;
    this.raw = options.raw ?? false;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /** Runs a one-shot step (migrations, seed) to completion; it is not restarted. */
  async runOnce(spec: ProcessSpec): Promise<number | null> {
    const r = this.spawn(spec, COLORS[this.supervised.length % COLORS.length]);
    this.oneShots.add(r);
    try {
      return await r.exited;
    } finally {
      this.oneShots.delete(r);
    }
  }

  /** Starts a long-running child and waits until it is ready; from then on it is restarted when it dies. */
  async start(spec: ProcessSpec): Promise<Running> {
    if (this.stopping) throw new Error(`not starting ${spec.name}: stopping`);
    const color = COLORS[this.supervised.length % COLORS.length];
    const current = this.spawn(spec, color);
    const s: Supervised = { spec, current, restarts: 0, startedAt: Date.now(), color };
    this.supervised.push(s);
    await this.waitReady(current);
    this.watch(s);
    return current;
  }

  /** The PID each supervised child runs as now (undefined while it waits for a restart). */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.supervised.map((s) => [s.spec.name, alive(s.current.child) ? s.current.child.pid : undefined]));
  }

  private spawn(spec: ProcessSpec, color: number): Running {
    const tag = `\u001b[${color}m${spec.name.padEnd(18)}\u001b[0m│ `;
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.out.write(`${tag}${this.raw ? line : pretty(line)}\n`));
    }
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => resolve(code));
      child.on('error', () => resolve(null));
    });
    return { spec, child, exited };
  }

  private watch(s: Supervised): void {
    const r = s.current;
    void r.exited.then(() => {
      if (this.stopping || s.current !== r) return;
      const stableAfter = this.options.stableAfterMs ?? 30_000;
      if (Date.now() - s.startedAt >= stableAfter) s.restarts = 0;
      const base = this.options.backoffMs ?? 500;
      const delay = Math.min(base * 2 ** s.restarts, this.options.maxBackoffMs ?? 30_000);
      s.restarts += 1;
      this.options.onEvent?.({ kind: 'exited', name: s.spec.name, code: r.child.exitCode, signal: r.child.signalCode, restartInMs: delay, restarts: s.restarts });
      s.timer = setTimeout(() => void this.restart(s), delay);
    });
  }

  private async restart(s: Supervised): Promise<void> {
    s.timer = undefined;
    if (this.stopping) return;
    s.current = this.spawn(s.spec, s.color);
    s.startedAt = Date.now();
    this.watch(s);
    try {
      await this.waitReady(s.current);
      if (!this.stopping && alive(s.current.child)) this.options.onEvent?.({ kind: 'restarted', name: s.spec.name, pid: s.current.child.pid!, restarts: s.restarts });
    } catch (err) {
      if (!this.stopping) this.options.onEvent?.({ kind: 'restart-failed', name: s.spec.name, error: (err as Error).message });
    }
  }

  private async waitReady(r: Running): Promise<void> {
    if (!r.spec.readyUrl) return;
    const deadline = Date.now() + (r.spec.readyTimeoutMs ?? 60_000);
    let exitCode: number | null | undefined;
    void r.exited.then((c) => (exitCode = c));
    while (Date.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`${r.spec.name} exited with code ${exitCode} before it was ready (see its log lines above)`);
      if (this.stopping) throw new Error(`${r.spec.name}: stopped before it was ready`);
      try {
        const res = await fetch(r.spec.readyUrl, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`${r.spec.name} was not ready at ${r.spec.readyUrl} within ${(r.spec.readyTimeoutMs ?? 60_000) / 1000}s`);
  }

  /**
   * Stops every child (pending restarts are cancelled): one-shot steps first, then the services
   * in reverse start order, each with SIGTERM to its process group, then SIGKILL after the grace period.
   */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const s of this.supervised) if (s.timer) clearTimeout(s.timer);
    const order = [...this.oneShots, ...[...this.supervised].reverse().map((s) => s.current)];
    for (const r of order) {
      if (!alive(r.child)) continue;
      signalGroup(r.child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(r.child, 'SIGKILL'), graceMs);
      await r.exited;
      clearTimeout(timer);
      // Anything the child left in its group goes with it.
      signalGroup(r.child, 'SIGKILL');
    }
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
