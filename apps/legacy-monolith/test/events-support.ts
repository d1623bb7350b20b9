/**
 * Helpers for the monolith's event tests: what the outbox holds, the `carve` CLI as a child
 * process (stopped by PID), bounded waits. Free ports and the repository's paths come from
 * @carve/shared-testing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Envelope } from '@carve/shared-messaging';
import { CARVE_BIN, ROOT } from '@carve/shared-testing';
import type { DataSource } from 'typeorm';

export interface OutboxRow {
  seq: number;
  topic: string;
  key: string;
  envelope: Envelope<any>;
  publishedAt: Date | null;
  logPos: number | null;
}

/** Rows of legacy.outbox after `afterSeq` (all by default), in seq order. */
export async function outboxRows(ds: DataSource, afterSeq = 0): Promise<OutboxRow[]> {
  const rows = await ds.query(
    `SELECT seq::int AS seq, topic, key, envelope, published_at, log_pos::int AS log_pos FROM legacy.outbox WHERE seq > $1 ORDER BY seq`,
    [afterSeq],
  );
  return rows.map((r: any) => ({ seq: r.seq, topic: r.topic, key: r.key, envelope: r.envelope, publishedAt: r.published_at, logPos: r.log_pos }));
}

/** The highest seq in legacy.outbox (0 when empty): a mark to read "what this write appended". */
export async function outboxMark(ds: DataSource): Promise<number> {
  const [{ m }] = await ds.query('SELECT coalesce(max(seq), 0)::int AS m FROM legacy.outbox');
  return m;
}

/** Polls `probe` until it returns something truthy; fails naming `what` (and the last value) after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 20_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Child {
  readonly pid: number;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stdout or stderr line matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number, stream?: 'stdout' | 'stderr'): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to this child's PID, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** `node tools/carve/bin/carve.js <args>` with `env`, output collected line by line. */
export function spawnCarve(args: string[], env: NodeJS.ProcessEnv): Child {
  const child: ChildProcess = spawn(process.execPath, [CARVE_BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const waiters: Array<{ re: RegExp; stream?: 'stdout' | 'stderr'; resolve: (l: string) => void }> = [];
  const feed = (stream: 'stdout' | 'stderr') => {
    let buf = '';
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines[stream].push(line);
        for (const w of [...waiters]) {
          if ((!w.stream || w.stream === stream) && w.re.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
  };
  feed('stdout');
  feed('stderr');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    pid: child.pid!,
    stdout: lines.stdout,
    stderr: lines.stderr,
    exited,
    waitForLine(re, timeoutMs = 30_000, stream) {
      const found = [...(stream !== 'stderr' ? lines.stdout : []), ...(stream !== 'stdout' ? lines.stderr : [])].find((l) => re.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr: ${lines.stderr.slice(-5).join(' | ')}`));
        }, timeoutMs);
        waiters.push({ re, stream, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`exited (code ${code}) before a line matching ${re}; stderr: ${lines.stderr.slice(-5).join(' | ')}`));
        });
      });
    },
    async stop(graceMs = 5000) {
      if (gone) return;
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        if (!gone) process.kill(child.pid!, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
