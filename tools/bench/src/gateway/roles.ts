/**
 * The gateway benchmark's child processes, each started as `gateway.bench.ts --role <role>`: the
 * upstream (and the service), bare @fastify/http-proxy, the node-floor relay and the open-loop
 * load generator.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarize } from '../stats';
import { args, BODY, TENANTS } from './common';

/** Where an upstream answers the number of requests it has served (this one not counted). */
export const COUNT_PATH = '/__bench/count';

/** The upstream (and the service): plain node:http answering a fixed JSON body, keep-alive. */
export function runUpstream(): void {
  let served = 0;
  const server = http.createServer((req, res) => {
    if (req.url === COUNT_PATH) {
      res.end(String(served));
      return;
    }
    served++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': BODY.length });
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(args.port), '127.0.0.1', () => process.stdout.write('READY\n'));
}

/** Bare @fastify/http-proxy, nothing else. */
export async function runHttpProxy(): Promise<void> {
  const Fastify = (await import('fastify')).default;
  const proxy = (await import('@fastify/http-proxy')).default;
  const app = Fastify({ logger: false });
  await app.register(proxy, { upstream: args.upstream });
  await app.listen({ host: '127.0.0.1', port: Number(args.port) });
  // An orderly exit on SIGTERM, so that --cpu-prof gets to write its profile.
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write('READY\n');
}

/** Hop-by-hop headers (RFC 9110 7.6.1): a proxy does not pass them on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/**
 * The node-floor target: a node:http server that relays each request to the upstream over an
 * undici Pool through `dispatch` (the gateway's forwarder's path, without its gateway) and
 * writes the answer with one `end`. Nothing else: no routing, identity, metrics or logs.
 */
export async function runNodeFloor(): Promise<void> {
  const { Pool } = await import('undici');
  const pool = new Pool(args.upstream, { connections: 64, keepAliveTimeout: 60_000 });
  const server = http.createServer((req, res) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      if (!HOP_BY_HOP.has(name.toLowerCase()) && name.toLowerCase() !== 'host') headers.push(name, req.rawHeaders[i + 1]);
    }
    const body: Buffer[] = [];
    pool.dispatch(
      { method: req.method as 'GET', path: req.url!, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
      {
        onConnect() {},
        onHeaders(status, raw) {
          res.statusCode = status;
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i].toString('latin1');
            if (!HOP_BY_HOP.has(name.toLowerCase())) res.setHeader(name, raw[i + 1].toString('latin1'));
          }
          return true;
        },
        onData(chunk) {
          body.push(chunk);
          return true;
        },
        onComplete() {
          res.end(body.length === 1 ? body[0] : Buffer.concat(body));
        },
        onError() {
          if (res.headersSent) res.destroy();
          else {
            res.statusCode = 502;
            res.end();
          }
        },
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  server.listen(Number(args.port), '127.0.0.1', () => process.stdout.write('READY\n'));
  process.once('SIGTERM', () => process.exit(0));
}

/** A small seeded PRNG (mulberry32): the sliced layout's orders are the same from run to run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The load generator, open loop; latency of a request = response end − the time it was due.
 * Interleaved and sequential: `rate` requests/s per target for warmup + duration seconds, request
 * i to target i mod k. Sliced (`--slice-ms`): one target at a time (see the header comment);
 * at the start of each measured slice it prints `SLICE <target> START` and waits for a line on
 * stdin (the orchestrator reads the target's CPU time first), at its end (after the drain)
 * `SLICE <target> END`. Prints MEASURE-START / MEASURE-END around the measured window, then one
 * JSON line with the results of that window per target.
 */
export async function runLoad(): Promise<void> {
  const { Pool } = await import('undici');
  const targets = args.urls.split(',').map((pair) => {
    const [name, url] = pair.split('=');
    return { name, pool: new Pool(new URL(url).origin, { connections: Math.max(64, Number(args.closed ?? 0)), pipelining: 1, keepAliveTimeout: 60_000 }), latencies: [] as number[], errors: 0, statusErrors: 0, due: 0, seq: 0 };
  });
  type LoadTarget = (typeof targets)[number];
  const k = targets.length;
  const warmupMs = Number(args.warmup) * 1000;
  const durationMs = Number(args.duration) * 1000;
  const tokens: string[] = JSON.parse(fs.readFileSync(args.tokens, 'utf8'));
  let inFlight = 0;
  const fire = (t: LoadTarget, dueAt: bigint, measured: boolean): Promise<void> => {
    const seq = t.seq++;
    const tenant = seq % TENANTS;
    if (measured) t.due++;
    inFlight++;
    return t.pool
      .request({
        path: `/api/v1/workspaces/ws-${tenant}/notes/${seq % 1000}`,
        method: 'GET',
        headers: { authorization: `Bearer ${tokens[tenant]}`, accept: 'application/json' },
      })
      .then(async (res) => {
        await res.body.dump();
        const end = process.hrtime.bigint();
        if (!measured) return;
        if (res.statusCode !== 200) t.statusErrors++;
        t.latencies.push(Number(end - dueAt) / 1e6);
      })
      .catch(() => {
        if (measured) t.errors++;
      })
      .finally(() => inFlight--);
  };
  const say = (line: string) => process.stdout.write(`${line}\n`);

  if (args['slice-ms']) {
    const sliceMs = Number(args['slice-ms']);
    const drainMs = Number(args['drain-ms'] ?? 5);
    const rate = Number(args.rate);
    const perSlice = Math.max(1, Math.round((rate * sliceMs) / 1000));
    const intervalNs = BigInt(Math.round(1e9 / rate));
    const warmupCycles = Math.ceil(warmupMs / sliceMs);
    const cycles = warmupCycles + Math.max(1, Math.round(durationMs / sliceMs));
    // The orchestrator's go-ahead at the start of each measured slice.
    const acks = createInterface({ input: process.stdin });
    let waiting: (() => void) | null = null;
    let early = 0;
    acks.on('line', () => {
      if (waiting) {
        const w = waiting;
        waiting = null;
        w();
      } else early++;
    });
    const go = () =>
      early > 0
        ? (early--, Promise.resolve())
        : new Promise<void>((r) => {
            waiting = r;
          });
    const rand = prng(Number(args.seed ?? 1));
    let previous: LoadTarget | undefined;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const measured = cycle >= warmupCycles;
      if (cycle === warmupCycles) say('MEASURE-START');
      // Fisher-Yates, then no target twice in a row across the cycle boundary.
      const order = [...targets];
      for (let i = k - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      if (k > 1 && order[0] === previous) {
        const j = 1 + Math.floor(rand() * (k - 1));
        [order[0], order[j]] = [order[j], order[0]];
      }
      for (const t of order) {
        if (measured) {
          say(`SLICE ${t.name} START`);
          await go();
        }
        const pending: Array<Promise<void>> = [];
        const sliceStart = process.hrtime.bigint();
        let j = 0;
        if (args.closed) {
          // Closed loop (the max layout): each connection sends its next request when the last one is answered, until the slice ends.
          const sliceEnd = sliceStart + BigInt(sliceMs) * 1_000_000n;
          const loop = async (): Promise<void> => {
            for (let now = process.hrtime.bigint(); now < sliceEnd; now = process.hrtime.bigint()) await fire(t, now, measured);
          };
          pending.push(...Array.from({ length: Number(args.closed) }, loop));
          await sleep(sliceMs);
        } else await new Promise<void>((resolve) => {
          const tick = () => {
            const now = process.hrtime.bigint();
            while (j < perSlice && sliceStart + BigInt(j) * intervalNs <= now) {
              pending.push(fire(t, sliceStart + BigInt(j) * intervalNs, measured));
              j++;
            }
            if (j >= perSlice) resolve();
            else setImmediate(tick);
          };
          tick();
        });
        // The drain: the slice's requests finish (requests slower than 100 ms finish in the
        // next slice, still counted for this target), then a few ms for work after the answer.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(pending), new Promise<void>((r) => (timer = setTimeout(r, 100)))]);
        clearTimeout(timer);
        if (drainMs > 0) await sleep(drainMs);
        if (measured) say(`SLICE ${t.name} END`);
        previous = t;
      }
    }
    acks.close();
    process.stdin.destroy();
  } else {
    const rate = Number(args.rate) * k;
    const intervalNs = BigInt(Math.round(1e9 / rate));
    const t0 = process.hrtime.bigint();
    const measureFrom = t0 + BigInt(warmupMs) * 1_000_000n;
    const stopAt = measureFrom + BigInt(durationMs) * 1_000_000n;
    let started = false;
    let due = t0;
    let n = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = process.hrtime.bigint();
        if (!started && now >= measureFrom) {
          started = true;
          say('MEASURE-START');
        }
        while (due <= now && due < stopAt) {
          void fire(targets[n % k], due, due >= measureFrom && due < stopAt);
          n++;
          due += intervalNs;
        }
        if (due >= stopAt) {
          resolve();
          return;
        }
        setImmediate(tick);
      };
      tick();
    });
  }
  // The window ends when the last request due in it has finished (or after 5 s).
  const deadline = Date.now() + 5000;
  while (inFlight > 0 && Date.now() < deadline) await sleep(1);
  say('MEASURE-END');
  const out: Record<string, unknown> = {};
  for (const t of targets) {
    // Requests of the window still unanswered 5 s after it: counted as errors, not as latencies.
    const unfinished = Math.max(0, t.due - t.latencies.length - t.errors);
    out[t.name] = { summary: summarize(t.latencies), errors: t.errors, statusErrors: t.statusErrors, unfinished };
  }
  say(JSON.stringify(out));
  await Promise.all(targets.map((t) => t.pool.close()));
}
