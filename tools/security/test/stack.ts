/**
 * The real stack for the security suite: `carve dev` (gateway, monolith, carved services, the
 * demo seed) on a database of its own and on free loopback ports; raw-socket and HTTP probes;
 * the row counts that prove nothing was written.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { DEMO_IDS } from '@carve/legacy-domain';
import { DEV_JWT_SECRET, type Role, signToken } from '@carve/shared-http';
import { CARVE_BIN, createTestDatabase, freePorts, ROOT, type TestDatabase, waitFor } from '@carve/shared-testing';
import { Pool } from 'pg';

export const WORKSPACE = DEMO_IDS.workspaceId;

export interface Stack {
  readonly url: string;
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly port: number;
  /** Rows of every table a probe could write to, by table. */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

const TABLES = ['legacy.workspaces', 'legacy.members', 'legacy.features', 'legacy.feature_comments', 'legacy.notes', 'legacy.note_features', 'legacy.releases', 'legacy.release_features', 'legacy.outbox'];

export async function startStack(prefix: string): Promise<Stack> {
  const db = await createTestDatabase(prefix);
  const p = await freePorts(5);
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [CARVE_BIN, 'dev'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      CARVE_DEV_PORTS: `gateway=${p},gateway-admin=${p + 1},legacy-monolith=${p + 2},insights-service=${p + 3},roadmaps-service=${p + 4}`,
      KAFKA_BROKERS: '',
      CARVE_TRANSPORT: '',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let gone = false;
  const exited = new Promise<void>((r) => child.once('exit', () => ((gone = true), r())));
  const pool = new Pool({ connectionString: db.url, max: 2 });
  const stop = async () => {
    if (!gone && child.pid) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (!gone) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    child.stdout!.destroy();
    child.stderr!.destroy();
    await pool.end();
    await db.drop();
  };
  try {
    await waitFor(
      'carve dev',
      () => {
        if (gone) throw new Error(`carve dev exited:\n${out.slice(-3000)}`);
        return out.includes('carve dev: pids');
      },
      150_000,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${p}`,
    db,
    pool,
    port: p,
    async counts() {
      const out: Record<string, number> = {};
      for (const t of TABLES) out[t] = Number((await pool.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n);
      return out;
    },
    close: stop,
  };
}

export function tokenFor(tid: string = WORKSPACE, role: Role = 'admin', sub: string = DEMO_IDS.adminId): string {
  return signToken({ sub, tid, role }, process.env.CARVE_JWT_SECRET || DEV_JWT_SECRET, { ttlSec: 3600 });
}

/** Sends raw bytes on a fresh connection; the whole answer once the server closes or `ms` pass. */
export function raw(port: number, text: string | Buffer, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let data = '';
    const done = () => {
      s.destroy();
      resolve(data);
    };
    const timer = setTimeout(done, ms);
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    s.on('error', () => undefined);
  });
}

/** The status codes of every response in a raw answer (pipelined answers included). */
export function statuses(answer: string): number[] {
  return [...answer.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

export interface Res {
  status: number;
  headers: Headers;
  body: any;
}

export async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Res> {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body, redirect: 'manual' });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body };
}

/** A small seeded PRNG (mulberry32): the same seed, the same fuzz. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
