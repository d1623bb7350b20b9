/**
 * The slow-body attack, on loopback and bounded (200 connections, about 4 s): one tenant's
 * token opens many POSTs whose bodies trickle in, while other tenants read. With the gateway's
 * defaults (per-tenant concurrency, bounded upstream wait, body idle timeout), the attacker gets
 * 429 past its concurrency and the other tenants' GET p99 stays within 2x of its baseline.
 */
import net from 'node:net';
import { http, pool, type Stack, startStack, token, waitFor } from './support/harness';

const ATTACKERS = 200;
const ATTACK_MS = 4000;

function p99(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))];
}

describe('gateway under a slow-body attack', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(
      'gateway_slow_body',
      `
  - id: notes
    match: { path: /api/v1/workspaces/:workspaceId/notes/* }
    target: insights
    mode: canary
    percent: 50
`,
      { gateway: { accessLog: false } },
    );
  });

  afterAll(() => stack?.close());

  /** 400 GETs of 40 other tenants, 8 at a time: their latencies. */
  const reads = async () => {
    const tenants = Array.from({ length: 40 }, (_, i) => `reader-${i}`);
    const tokens = new Map(tenants.map((t) => [t, token(t)]));
    const results = await pool(Array.from({ length: 400 }, (_, i) => tenants[i % tenants.length]), 8, (t) =>
      http(`${stack.gw.url}/api/v1/workspaces/${t}/notes`, { headers: { authorization: `Bearer ${tokens.get(t)}` }, timeoutMs: 20_000 }),
    );
    expect(results.filter((r) => r.status !== 200).map((r) => r.status)).toEqual([]);
    return results.map((r) => r.ms);
  };

  it("keeps other tenants' GET p99 within 2x of baseline while one tenant trickles 200 bodies", async () => {
    await reads(); // warm up
    const baseline = p99(await reads());

    const port = Number(new URL(stack.gw.url).port);
    const attacker = token('attacker');
    const answers: string[] = [];
    const sockets: net.Socket[] = [];
    for (let i = 0; i < ATTACKERS; i++) {
      const s = net.connect(port, '127.0.0.1');
      sockets.push(s);
      let head = '';
      s.on('data', (d) => {
        if (head === '') answers.push((head = d.toString().split('\r\n', 1)[0]));
      });
      s.on('error', () => undefined);
      s.write(`POST /api/v1/workspaces/attacker/notes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${attacker}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"t":"`);
    }
    const drip = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write('a');
    }, 500);
    const attackOver = new Promise((r) => setTimeout(r, ATTACK_MS));
    // The attack in place: every connection admitted (trickling) or refused.
    await waitFor('the attack in place', () => answers.length >= ATTACKERS - 64, 10_000);
    let during: number[];
    try {
      during = await reads();
      await attackOver;
    } finally {
      clearInterval(drip);
      for (const s of sockets) s.destroy();
    }
    const underAttack = p99(during);
    process.stdout.write(`slow-body attack: GET p99 baseline ${baseline.toFixed(1)} ms, under attack ${underAttack.toFixed(1)} ms; attacker answers: ${answers.filter((a) => a.includes(' 429 ')).length} x 429 of ${ATTACKERS}\n`);
    // The attacker was refused past its concurrency (64 by default), and no trickled body completed upstream.
    expect(answers.filter((a) => a.includes(' 429 ')).length).toBeGreaterThanOrEqual(ATTACKERS - 64);
    expect(stack.monolith.count((s) => s.method === 'POST') + stack.service.count((s) => s.method === 'POST')).toBe(0);
    // Within 2x (1 ms of slack: loopback latencies are a few ms, timer granularity is 1 ms).
    expect(underAttack).toBeLessThanOrEqual(2 * baseline + 1);
  });
});
