/**
 * The gateway with workers (CARVE_GATEWAY_WORKERS=2): the real process (src/main.ts, a primary
 * forking two workers that serve one port) against test upstreams. Every worker is identified by
 * its access log lines (`worker`, `pid`); requests go on fresh connections so that the kernel
 * spreads them over the workers.
 *
 * - both workers serve the proxy port;
 * - an override made on the admin port reaches every worker (LISTEN/NOTIFY: the poll is set to a
 *   minute, so it is not what carries it);
 * - a circuit breaker is per worker: it opens on that worker's failures only, and the scrape
 *   shows the highest state of the workers;
 * - a guard trip of one worker (its failures on one keep-alive connection, so one worker's
 *   window) ends the canary on every worker, and is counted once;
 * - a route's per-tenant rate: each worker holds half of the rate and the burst, so the gateway
 *   allows the configured burst, not twice it;
 * - one scrape of /metrics (one worker answers it) counts the requests of both;
 * - a worker killed with SIGKILL: requests keep being answered, the primary starts another;
 * - SIGTERM to the primary: a request in flight finishes, every worker and the primary exit;
 * - a bad CARVE_GATEWAY_WORKERS is refused in one line, exit 78.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DEV_JWT_SECRET } from '@carve/shared-http';
import { freePorts, runNode, REGISTER_TS, ROOT } from '@carve/shared-testing';
import { Agent, request } from 'undici';
import { ADMIN_TOKEN, type Stack, startStack, token, waitFor } from './support/harness';

interface Answer {
  status: number;
  who: string | undefined;
  url: string;
}

/** One request on a connection of its own (Connection: close). */
function fresh(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close', ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        let who: string | undefined;
        try {
          who = (JSON.parse(body) as { who?: string }).who;
        } catch {
          who = undefined;
        }
        resolve({ status: res.statusCode ?? 0, who, url: new URL(url).pathname });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

/** `n` requests on fresh connections, `concurrency` at a time; `urlOf(i)` names each. */
async function burst(n: number, urlOf: (i: number) => string, headers: Record<string, string> = {}, concurrency = 16): Promise<Answer[]> {
  const out: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        out.push(await fresh(urlOf(i), headers));
      }
    }),
  );
  return out;
}

/** The gateway process: every line it prints is kept (its JSON lines parsed). */
interface Gateway {
  readonly pid: number;
  readonly lines: Array<Record<string, unknown>>;
  readonly text: string[];
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

function startGatewayProcess(env: NodeJS.ProcessEnv): Gateway {
  const child = spawn(process.execPath, ['-r', REGISTER_TS, path.join(ROOT, 'apps/gateway/src/main.ts')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (l) => {
      text.push(l);
      if (!l.startsWith('{')) return;
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
  }
  let gone = false;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => ((gone = true), resolve(code))));
  return {
    pid: child.pid!,
    lines,
    text,
    exited,
    async stop() {
      if (gone) return;
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => !gone && process.kill(child.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

describe('gateway workers (CARVE_GATEWAY_WORKERS=2)', () => {
  let stack: Stack;
  let proc: Gateway;
  let url: string;
  let adminUrl: string;
  let step = 0;
  const auth = (tid = 'ws-1') => ({ authorization: `Bearer ${token(tid)}` });
  const scan = () => proc.lines;

  /** The PIDs of the workers that served the request paths `urls` (from their access log lines). */
  async function servedBy(urls: readonly string[]): Promise<Map<string, number>> {
    const want = new Set(urls);
    return waitFor(`the access log lines of ${urls.length} requests`, () => {
      const byUrl = new Map<string, number>();
      for (const l of scan()) if (l.msg === 'request' && typeof l.url === 'string' && want.has(l.url)) byUrl.set(l.url, l.pid as number);
      return byUrl.size === want.size ? byUrl : undefined;
    });
  }

  /** The live workers' PIDs: the last `ready` line of each slot. */
  function workerPids(): Map<number, number> {
    const bySlot = new Map<number, number>();
    for (const l of scan()) if (typeof l.msg === 'string' && /^gateway worker \d+ ready/.test(l.msg)) bySlot.set(l.worker as number, l.pid as number);
    return bySlot;
  }

  /** Bursts on fresh connections until every worker in `pids` served one; the answers of the last burst. */
  async function onEveryWorker(what: string, pids: readonly number[], path: string, ok: (a: Answer[]) => boolean, headers: Record<string, string> = auth()): Promise<{ answers: Answer[]; by: Map<string, number> }> {
    return waitFor(
      what,
      async () => {
        const s = step++;
        const answers = await burst(32, (i) => `${url}${path}/s${s}-${i}`, headers);
        const by = await servedBy(answers.map((a) => a.url));
        const served = new Set(by.values());
        return pids.every((p) => served.has(p)) && ok(answers) ? { answers, by } : undefined;
      },
      20_000,
    );
  }

  const adminCall = (method: string, p: string, body?: unknown) =>
    request(`${adminUrl}${p}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    }).then(async (r) => ({ status: r.statusCode, text: await r.body.text() }));

  /** The value of a series of the scrape (0 when absent). */
  const series = (text: string, name: string, labels: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  beforeAll(async () => {
    stack = await startStack(
      'gateway_workers',
      `
  - id: notes-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: monolith
    fallback: false
  - id: reports-read
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/reports/* }
    target: insights
    mode: canary
    percent: 100
    guard: { maxErrorRate: 0.2, window: 60s, minRequests: 10 }
  - id: limited
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/limited/* }
    target: insights
    mode: monolith
    limits: { ratePerSecond: 1, burst: 10 }
  - id: breaker-probe
    match: { methods: [GET], path: /api/v1/workspaces/:workspaceId/probe/* }
    target: insights
    mode: service
    fallback: true
`,
      { gateway: false },
    );
    const port = await freePorts(2);
    url = `http://127.0.0.1:${port}`;
    adminUrl = `http://127.0.0.1:${port + 1}`;
    proc = startGatewayProcess({
      CARVE_GATEWAY_WORKERS: '2',
      PORT: String(port),
      CARVE_ADMIN_PORT: String(port + 1),
      CARVE_ADMIN_TOKEN: ADMIN_TOKEN,
      CARVE_ROUTES_FILE: stack.file,
      DATABASE_URL: stack.db.url,
      CARVE_JWT_SECRET: DEV_JWT_SECRET,
      // Overrides must travel by NOTIFY: the poll would take a minute.
      CARVE_CONTROL_POLL_MS: '60000',
      // Each worker's breaker opens after 3 failures in a row, and probes 5 s later.
      CARVE_BREAKER_FAILURES: '3',
      CARVE_BREAKER_COOLDOWN_MS: '5000',
      CARVE_ACCESS_LOG: 'true',
      LOG_LEVEL: 'info',
      PLATFORM: 'local',
    });
    let dead = false;
    void proc.exited.then(() => (dead = true));
    await waitFor('both workers ready', () => {
      if (dead) throw new Error('the gateway exited');
      return workerPids().size === 2;
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.text.slice(-20).join('\n')}`);
    });
  }, 90_000);

  afterAll(async () => {
    await proc?.stop();
    await stack?.close();
  });

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('serves the proxy port from both workers', async () => {
    const pids = [...workerPids().values()];
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(proc.pid);
    const { answers } = await onEveryWorker('requests on both workers', pids, '/api/v1/workspaces/ws-1/notes', (a) => a.every((x) => x.status === 200 && x.who === 'monolith'));
    expect(answers).toHaveLength(32);
  });

  it('applies an override made on the admin port on every worker', async () => {
    const pids = [...workerPids().values()];
    const put = await adminCall('PUT', '/admin/routes/notes-read', { mode: 'service', reason: 'carve notes reads' });
    expect(put.status).toBe(200);
    // Every worker, each having served requests of one burst: all of them on the service.
    const { answers, by } = await onEveryWorker('the override on both workers', pids, '/api/v1/workspaces/ws-1/notes', (a) => a.every((x) => x.status === 200 && x.who === 'service'));
    expect(new Set(by.values())).toEqual(new Set(pids));
    expect(answers.every((a) => a.who === 'service')).toBe(true);
    const back = await adminCall('DELETE', '/admin/routes/notes-read/override', { reason: 'back to the file' });
    expect(back.status).toBe(200);
    await onEveryWorker('the file mode back on both workers', pids, '/api/v1/workspaces/ws-1/notes', (a) => a.every((x) => x.who === 'monolith'));
  });

  it("opens a worker's circuit breaker on that worker's failures only; the scrape shows it open", async () => {
    // Two keep-alive connections, on different workers.
    const agents: Array<{ agent: Agent; pid: number }> = [];
    const get = async (agent: Agent, p: string) => {
      const r = await request(`${url}${p}`, { dispatcher: agent, headers: auth() });
      return { status: r.statusCode, who: ((await r.body.json()) as { who?: string }).who };
    };
    try {
      await waitFor('connections on two workers', async () => {
        const agent = new Agent({ connections: 1, pipelining: 1 });
        const p = `/api/v1/workspaces/ws-1/probe/find-${step++}`;
        await get(agent, p);
        const pid = (await servedBy([p])).get(p)!;
        if (agents.some((a) => a.pid === pid)) await agent.close();
        else agents.push({ agent, pid });
        return agents.length === 2;
      }, 20_000);
      const [a, b] = agents;
      const atService = () => stack.service.seen.filter((x) => x.url.includes('/probe/')).length;
      stack.service.reset((req) => (req.url.includes('/probe/') ? { status: 500, body: { who: 'service', down: true } } : { body: { who: 'service' } }));
      const before = atService();
      // Three failures on worker A: each falls back to the monolith; its breaker opens.
      for (let i = 0; i < 3; i++) expect(await get(a.agent, `/api/v1/workspaces/ws-1/probe/a-${i}`)).toEqual({ status: 200, who: 'monolith' });
      expect(atService() - before).toBe(3);
      // Open on A: the next request goes straight to the monolith, the service never sees it.
      expect(await get(a.agent, '/api/v1/workspaces/ws-1/probe/a-open')).toEqual({ status: 200, who: 'monolith' });
      expect(atService() - before).toBe(3);
      // Worker B has seen no failure: its breaker is closed and it still tries the service.
      expect(await get(b.agent, '/api/v1/workspaces/ws-1/probe/b-0')).toEqual({ status: 200, who: 'monolith' });
      expect(atService() - before).toBe(4);
      const metrics = (await adminCall('GET', '/metrics')).text;
      expect(series(metrics, 'carve_gateway_breaker_state', 'upstream="insights"')).toBe(2);
      expect(series(metrics, 'carve_gateway_breaker_transitions_total', 'upstream="insights",to="open"')).toBe(1);
      // The service recovers: after its cooldown, A's breaker probes it and closes (the next tests need both closed).
      stack.service.reset();
      await waitFor(
        "worker A's breaker closed again",
        async () => {
          const seen = atService();
          await get(a.agent, `/api/v1/workspaces/ws-1/probe/a-back-${step++}`);
          return atService() > seen;
        },
        20_000,
        250,
      );
    } finally {
      stack.service.reset();
      for (const { agent } of agents) await agent.close();
    }
  });

  it("ends the canary on every worker when one worker's guard trips, and counts the trip once", async () => {
    const pids = [...workerPids().values()];
    await onEveryWorker('the canary on both workers', pids, '/api/v1/workspaces/ws-1/reports', (a) => a.every((x) => x.who === 'service'));
    stack.service.reset((req) => (req.url.includes('/reports/') ? { status: 500, body: { who: 'service', down: true } } : { body: { who: 'service' } }));
    // One keep-alive connection: one worker sees every failure (its window alone trips), until the trip is in the control plane.
    const one = new Agent({ connections: 1, pipelining: 1 });
    const sent: string[] = [];
    try {
      await waitFor(
        'the guard rollback in the control plane',
        async () => {
          for (let i = 0; i < 10; i++) {
            const p = `/api/v1/workspaces/ws-1/reports/trip-${sent.length}`;
            sent.push(p);
            await (await request(`${url}${p}`, { dispatcher: one, headers: auth() })).body.text();
          }
          const route = JSON.parse((await adminCall('GET', '/admin/routes/reports-read')).text) as { mode: string; override?: { updatedBy: string } };
          return route.mode === 'monolith' && route.override?.updatedBy === 'guard';
        },
        20_000,
      );
    } finally {
      await one.close();
    }
    const tripper = new Set((await servedBy(sent)).values());
    expect(tripper.size).toBe(1);
    expect(pids).toContain([...tripper][0]);
    const { answers } = await onEveryWorker('the monolith on both workers after the trip', pids, '/api/v1/workspaces/ws-1/reports', (a) => a.every((x) => x.status === 200 && x.who === 'monolith'));
    expect(answers.every((a) => a.who === 'monolith')).toBe(true);
    const metrics = await adminCall('GET', '/metrics');
    expect(series(metrics.text, 'carve_gateway_guard_trips_total', 'route="reports-read"')).toBe(1);
    stack.service.reset();
  });

  it("holds a route's per-tenant rate for the gateway as a whole: each worker has half the burst", async () => {
    const pids = [...workerPids().values()];
    // Burst 10 at 1/s: each worker's bucket holds 5 and refills 0.5/s. 40 requests at once, on fresh connections.
    const { a, okBy, seconds } = await waitFor(
      'a burst reaching both workers',
      async () => {
        const s = step++;
        const t0 = performance.now();
        const answers = await burst(40, (i) => `${url}/api/v1/workspaces/ws-rl-${s}/limited/r-${i}`, auth(`ws-rl-${s}`), 40);
        const elapsed = (performance.now() - t0) / 1000;
        const by = await servedBy(answers.map((x) => x.url));
        const ok = new Map<number, number>();
        for (const x of answers) if (x.status === 200) ok.set(by.get(x.url)!, (ok.get(by.get(x.url)!) ?? 0) + 1);
        return pids.every((p) => ok.has(p)) ? { a: answers, okBy: ok, seconds: elapsed } : undefined;
      },
      20_000,
    );
    const ok = a.filter((x) => x.status === 200).length;
    expect(a.filter((x) => x.status === 429).length).toBe(40 - ok);
    // A worker's bucket can have held at most its 5 tokens and what 0.5/s refilled while the burst ran
    // (undivided, each would have let 10 through at once).
    const most = Math.floor(5 + 0.5 * seconds);
    for (const n of okBy.values()) expect(n).toBeLessThanOrEqual(most);
    expect(ok).toBeLessThanOrEqual(2 * most);
  });

  it('counts the requests of every worker in one scrape of /metrics', async () => {
    const pids = [...workerPids().values()];
    const { answers, by } = await onEveryWorker('requests on both workers', pids, '/api/v1/workspaces/ws-1/notes', (a) => a.every((x) => x.status === 200));
    const perWorker = new Map<number, number>();
    for (const pid of by.values()) perWorker.set(pid, (perWorker.get(pid) ?? 0) + 1);
    expect(Math.max(...perWorker.values())).toBeLessThan(answers.length);
    // What the access logs of both workers say they answered on the route, and what one scrape (one worker answers it) counts.
    const served = () => proc.lines.filter((l) => l.msg === 'request' && l.route === 'notes-read' && l.target === 'monolith' && (l.status as number) < 300).length;
    const scraped = async () => series((await adminCall('GET', '/metrics')).text, 'carve_gateway_requests_total', 'route="notes-read",target="monolith",status_class="2xx"');
    const [logged, counted] = await waitFor('the scrape counting every request logged', async () => {
      const pair = [served(), await scraped()] as const;
      return pair[0] === pair[1] ? pair : undefined;
    });
    expect(counted).toBe(logged);
    expect(logged).toBeGreaterThan(Math.max(...perWorker.values()));
    // The route's mode gauge is the same on every worker: the scrape shows 1, not one per worker.
    const text = (await adminCall('GET', '/metrics')).text;
    expect(series(text, 'carve_gateway_route_mode', 'route="notes-read",mode="monolith"')).toBe(1);
  });

  it('keeps answering while a worker killed with SIGKILL is replaced', async () => {
    const before = workerPids();
    const [[slot, victim], [, survivor]] = [...before.entries()];
    process.kill(victim, 'SIGKILL');
    await waitFor('the killed worker gone', () => !alive(victim));
    // Meanwhile: every request is answered, and a scrape has the survivor's metrics.
    const answers = await burst(40, (i) => `${url}/api/v1/workspaces/ws-1/notes/k-${i}`, auth());
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
    const scrape = await adminCall('GET', '/metrics');
    expect(scrape.status).toBe(200);
    expect(series(scrape.text, 'carve_gateway_route_mode', 'route="notes-read",mode="monolith"')).toBe(1);
    const replaced = await waitFor('a new worker in the slot', () => {
      const pid = workerPids().get(slot);
      return pid !== undefined && pid !== victim ? pid : undefined;
    }, 20_000);
    expect(proc.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith(`gateway worker ${slot} (pid ${victim}) exited (SIGKILL); restarting it in`))).toBe(true);
    await onEveryWorker('requests on the new worker and the survivor', [replaced, survivor], '/api/v1/workspaces/ws-1/notes', (a) => a.every((x) => x.status === 200));
  });

  it('drains on SIGTERM to the primary: a request in flight finishes, then every worker and the primary exit', async () => {
    const pids = [...workerPids().values()];
    stack.monolith.reset((req, up) => (req.url.includes('/slow/') ? { body: { who: up.name }, delayMs: 1500 } : { body: { who: up.name } }));
    const slow = fresh(`${url}/api/v1/workspaces/ws-1/notes/slow/1`, auth());
    await waitFor('the slow request at the monolith', () => stack.monolith.seen.some((s) => s.url.includes('/slow/')));
    process.kill(proc.pid, 'SIGTERM');
    const answer = await slow;
    expect([answer.status, answer.who]).toEqual([200, 'monolith']);
    expect(await proc.exited).toBe(0);
    await waitFor('every worker gone', () => pids.every((p) => !alive(p)), 10_000);
    expect(alive(proc.pid)).toBe(false);
    stack.monolith.reset();
  });

  it('refuses a bad CARVE_GATEWAY_WORKERS in one line (exit 78), and workers without DATABASE_URL', async () => {
    const main = path.join(ROOT, 'apps/gateway/src/main.ts');
    const base = { PLATFORM: 'local', CARVE_ROUTES_FILE: stack.file, DATABASE_URL: stack.db.url, PORT: '0', CARVE_ADMIN_PORT: '0' };
    for (const bad of ['0', 'two', '-1', '1.5']) {
      const r = await runNode(['-r', REGISTER_TS, main], { ...base, CARVE_GATEWAY_WORKERS: bad }, 60_000);
      expect([r.code, r.stderr.trim()]).toEqual([78, `Invalid configuration: CARVE_GATEWAY_WORKERS must be an integer from 1 to 64, got "${bad}"`]);
    }
    const r = await runNode(['-r', REGISTER_TS, main], { ...base, DATABASE_URL: '', CARVE_GATEWAY_WORKERS: '2' }, 60_000);
    expect(r.code).toBe(78);
    expect(r.stderr.trim()).toMatch(/^Invalid configuration: DATABASE_URL is required with CARVE_GATEWAY_WORKERS=2 \(/);
  });
});
