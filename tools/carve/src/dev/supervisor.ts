/**
 * A small process supervisor for `carve dev`: starts each deployable as a child process,
 * prefixes its output with its name, waits for it to become ready, and stops everything it
 * started (by PID, SIGTERM then SIGKILL) on Ctrl-C or when one of them dies.
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

export interface Running {
  spec: ProcessSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
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

export class Supervisor {
  private readonly running: Running[] = [];
  private stopping = false;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout, private readonly raw = false) {}

  /** Runs a one-shot step (migrations, seed) to completion; it does not count as a service. */
  async runOnce(spec: ProcessSpec): Promise<number | null> {
    const r = await this.start(spec, false);
    return r.exited;
  }

  async start(spec: ProcessSpec, longRunning = true): Promise<Running> {
    const color = COLORS[this.running.length % COLORS.length];
    const tag = `\u001b[${color}m${spec.name.padEnd(18)}\u001b[0m│ `;
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.out.write(`${tag}${this.raw ? line : pretty(line)}\n`));
    }
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const r: Running = { spec, child, exited };
    if (longRunning) this.running.push(r);
    if (spec.readyUrl) await this.waitReady(r);
    return r;
  }

  private async waitReady(r: Running): Promise<void> {
    const deadline = Date.now() + (r.spec.readyTimeoutMs ?? 60_000);
    let exitCode: number | null | undefined;
    void r.exited.then((c) => (exitCode = c));
    while (Date.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`${r.spec.name} exited with code ${exitCode} before it was ready (see its log lines above)`);
      try {
        const res = await fetch(r.spec.readyUrl!, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`${r.spec.name} was not ready at ${r.spec.readyUrl} within ${(r.spec.readyTimeoutMs ?? 60_000) / 1000}s`);
  }

  /** Resolves when any child exits (returns its name and code). */
  firstExit(): Promise<{ name: string; code: number | null }> {
    return Promise.race(this.running.map((r) => r.exited.then((code) => ({ name: r.spec.name, code }))));
  }

  /** Stops every child in reverse start order: SIGTERM, then SIGKILL after the grace period. */
  async stopAll(graceMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const r of [...this.running].reverse()) {
      if (r.child.exitCode !== null || r.child.signalCode !== null || r.child.pid === undefined) continue;
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
      await r.exited;
      clearTimeout(timer);
    }
  }
}
