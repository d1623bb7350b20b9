/**
 * The drill of `carve move`: the monolith (a process) serves a steady mixed load of note creates
 * and renames over HTTP, and a "cron job" updates workspaces straight in SQL on the database the
 * move's pointer names, while schema `legacy` moves from one database to another with the CLI
 * (start, backfill, apply, verify, switch) and back (rollback). At the switch the monolith is
 * restarted with the target's URL, at the rollback with the source's, as the runbook says.
 *
 * How we know nothing was lost: every acknowledged write is kept (the note's title at the version
 * the answer gave; the workspace name the cron committed), and after the rollback the source holds
 * the latest of each, those acknowledged by the monolith on the target included. Requests fail only as the fence and the
 * restart say they may (503 write_fenced; no answer, or the 503 of a process closing, while the
 * process restarts); anything else fails the drill. `carve move verify` ends with no drift.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readMovePointer } from '@carve/shared-carving';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { carve, createTestDatabase, freePorts, type Proc, REGISTER_TS, ROOT, runNode, startProcess, type TestDatabase, waitFor, waitHealthy } from '@carve/shared-testing';
import { Client } from 'pg';

jest.setTimeout(600_000);

const BASE_ENV = { PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET, CARVE_RELAY: 'off', CARVE_TRANSPORT: 'postgres', KAFKA_BROKERS: '', LOG_LEVEL: 'warn' };

interface Ack {
  version: number;
  title: string;
}

let from: TestDatabase;
let to: TestDatabase;
let src: Client;
let dst: Client;
let monolith: Proc | undefined;
let port: number;
const log: string[] = [];
const t0 = Date.now();
const step = (s: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`);

/** True from the moment the test stops the monolith until it answers again on its new database. */
let restarting = false;

async function restartMonolith(url: string): Promise<void> {
  restarting = true;
  try {
    await monolith!.stop();
    await startMonolith(url);
  } finally {
    restarting = false;
  }
}

async function startMonolith(url: string): Promise<void> {
  monolith = startProcess('legacy-monolith', 'apps/legacy-monolith/src/main.ts', { ...BASE_ENV, DATABASE_URL: url, PORT: String(port) });
  await waitHealthy(monolith, `http://127.0.0.1:${port}/readyz`);
}

const move = async (...args: string[]) => {
  const r = await carve(from.url, ['move', ...args, '--schema', 'legacy', '--to', to.url]);
  step(`carve move ${args.join(' ')} -> ${r.code}`);
  if (r.code !== 0) throw new Error(`carve move ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
};

beforeAll(async () => {
  from = await createTestDatabase('carve_move_drill_from');
  to = await createTestDatabase('carve_move_drill_to');
  src = new Client({ connectionString: from.url });
  dst = new Client({ connectionString: to.url });
  await src.connect();
  await dst.connect();
  port = await freePorts(1);
});
afterAll(async () => {
  await monolith?.stop();
  await src?.end();
  await dst?.end();
  await from?.drop();
  await to?.drop();
  if (process.env.CARVE_DRILL_LOG) process.stdout.write(`${log.join('\n')}\n`);
});

it('moves the monolith\'s schema to another server and back under load: 0 acknowledged writes lost, failures only inside the fence', async () => {
  // The source: migrated and seeded by the monolith's own seed; the target: migrated, empty.
  const seeded = await carve(from.url, ['seed', '--workspaces', '2', '--notes', '300']);
  expect({ code: seeded.code, stderr: seeded.stderr }).toMatchObject({ code: 0 });
  const migrated = await runNode(['-r', REGISTER_TS, path.join(ROOT, 'apps/legacy-monolith/src/migrate.ts')], { ...BASE_ENV, DATABASE_URL: to.url });
  expect({ code: migrated.code, stderr: migrated.stderr }).toMatchObject({ code: 0 });
  const workspaces = (await src.query('SELECT id FROM legacy.workspaces ORDER BY id')).rows.map((r) => r.id as string);
  const tokens = new Map(workspaces.map((w) => [w, signToken({ sub: randomUUID(), tid: w, role: 'admin' }, DEV_JWT_SECRET)]));
  await startMonolith(from.url);
  step('monolith on the source');

  // The load: creates and renames through HTTP, retried on 503 write_fenced or no answer.
  const latest = new Map<string, Ack>();
  const cronNames = new Map<string, string>();
  const unexpected: string[] = [];
  const counts = { acked: 0, fenced: 0, noAnswer: 0, cron: 0, cronFenced: 0 };
  let stop = false;
  const call = async (method: string, url: string, token: string, body: unknown) => {
    for (;;) {
      let res: Response;
      try {
        res = await fetch(`http://127.0.0.1:${port}${url}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      } catch {
        counts.noAnswer++;
        await sleep(100);
        continue;
      }
      const text = await res.text();
      const json = (() => {
        try {
          return JSON.parse(text) as { code?: string; id?: string; version?: number; title?: string };
        } catch {
          return {};
        }
      })();
      if (res.status === 503 && json.code === 'write_fenced') {
        counts.fenced++;
        await sleep(100);
        continue;
      }
      // A process being stopped answers 503 to what arrives while it closes: part of its restart.
      if (res.status === 503 && restarting) {
        counts.noAnswer++;
        await sleep(100);
        continue;
      }
      if (res.status >= 300) unexpected.push(`${method} ${res.status} ${json.code ?? ''} ${text.slice(0, 200)}`);
      return { status: res.status, json };
    }
  };
  const own: string[] = [];
  const http = (async () => {
    for (let n = 0; !stop; n++) {
      const w = workspaces[n % workspaces.length];
      const token = tokens.get(w)!;
      if (n % 3 === 0 || own.length === 0) {
        const r = await call('POST', `/api/v1/workspaces/${w}/notes`, token, { title: `drill ${n}`, content: 'moving', source: 'manual', tags: ['drill'] });
        if (r.status === 201 && r.json.id) {
          own.push(`${w}/${r.json.id}`);
          latest.set(r.json.id, { version: r.json.version ?? 1, title: r.json.title! });
          counts.acked++;
        }
      } else {
        const [ws, id] = own[n % own.length].split('/');
        const r = await call('PATCH', `/api/v1/workspaces/${ws}/notes/${id}`, tokens.get(ws)!, { title: `renamed ${n}` });
        if (r.status === 200 && r.json.version !== undefined) {
          const prev = latest.get(id);
          if (!prev || prev.version < r.json.version) latest.set(id, { version: r.json.version, title: r.json.title! });
          counts.acked++;
        }
      }
      await sleep(20);
    }
  })();
  // The cron job: straight SQL on the database the pointer names, retried on the fence.
  const cron = (async () => {
    for (let n = 0; !stop; n++) {
      const w = workspaces[n % workspaces.length];
      const name = `cron ${n}`;
      for (;;) {
        const target = (await readMovePointer(src, 'legacy')) === 'target' ? dst : src;
        try {
          await target.query('UPDATE legacy.workspaces SET name = $2 WHERE id = $1', [w, name]);
          cronNames.set(w, name);
          counts.cron++;
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'CV503') throw err;
          counts.cronFenced++;
          await sleep(100);
        }
      }
      await sleep(100);
    }
  })();

  try {
    await waitFor('writes on the source', () => counts.acked > 30, 60_000);
    await move('plan');
    await move('start');
    await move('backfill', '--batch-size', '500');
    await move('apply');
    await move('apply');

    // The switch, then the monolith restarted on the target.
    const sw = await move('switch', '--json');
    step(`switch: ${sw.stdout.replace(/\s+/g, ' ')}`);
    await restartMonolith(to.url);
    step('monolith on the target');
    const ackedAtSwitch = counts.acked;
    await waitFor('writes on the target', () => counts.acked > ackedAtSwitch + 30, 60_000);
    expect(await readMovePointer(src, 'legacy')).toBe('target');

    // Back: the rollback, then the monolith restarted on the source.
    await move('rollback');
    await restartMonolith(from.url);
    step('monolith on the source again');
    const ackedAtRollback = counts.acked;
    await waitFor('writes on the source again', () => counts.acked > ackedAtRollback + 30, 60_000);
  } finally {
    stop = true;
    await Promise.all([http, cron]);
  }
  step(`load: ${JSON.stringify(counts)}`);

  expect(unexpected).toEqual([]);
  expect(counts.fenced + counts.cronFenced).toBeGreaterThan(0);
  // Every acknowledged write's final state is on the source after the rollback (0 lost) ...
  const notes = new Map((await src.query('SELECT id, title, version FROM legacy.notes WHERE id = ANY($1)', [[...latest.keys()]])).rows.map((r) => [r.id as string, { version: r.version as number, title: r.title as string }]));
  const lost = [...latest].filter(([id, a]) => notes.get(id)?.title !== a.title || notes.get(id)?.version !== a.version);
  expect(lost).toEqual([]);
  for (const [w, name] of cronNames) expect((await src.query('SELECT name FROM legacy.workspaces WHERE id = $1', [w])).rows[0].name).toBe(name);
  // ... and the target, still captured from the source, catches up with no drift.
  await move('apply');
  const verify = await move('verify', '--json');
  expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
});
