/**
 * Issue 5, end to end, on real processes on loopback: the monolith, the insights service and the
 * gateway started as child processes (stopped by PID), one database, the carve CLI as a process
 * for every step. Once on Kafka (a broker of this suite's own: the topic names are the real ones,
 * so a shared broker would mix in other suites' events) and once on the embedded Postgres
 * transport.
 *
 *   seed → backfill while writes go on through the gateway → verify: no drift → shadow: no
 *   mismatches → canary 50% → reads switched → writes cut over → writes through the gateway land
 *   in the service and, by reverse sync, in the monolith → rollback (writes still coming) → the
 *   monolith holds every acknowledged write, and verify finds no drift.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { startKafka, stopKafka } from '@carve/kafka-broker';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createKafkaTransport, loadTopicDeclarations } from '@carve/shared-messaging';
import { carve, freePorts, type Proc, ROOT, type Run, startProcess, waitFor, waitHealthy, createTestDatabase, type TestDatabase } from '@carve/shared-testing';
import { Client } from 'pg';
import { seedLegacyAndInsights } from '../support/legacy';

const TRANSPORTS = ['kafka', 'postgres'] as const;

interface Acked {
  workspaceId: string;
  title: string;
  side: string;
}

describe.each(TRANSPORTS)('carving insights end to end (%s transport)', (transport) => {
  let db: TestDatabase;
  let c: Client;
  const procs: Proc[] = [];
  let kafkaDir: string | undefined;
  let env: NodeJS.ProcessEnv;
  let gatewayUrl: string;
  let adminUrl: string;
  let workspaces: Array<{ id: string; token: string; seeded: string[] }>;
  const log: string[] = [];
  const t0 = Date.now();
  const step = (what: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

  beforeAll(async () => {
    db = await createTestDatabase(`insights_e2e_${transport}`);
    await seedLegacyAndInsights(db.url, 3, 300);
    c = new Client({ connectionString: db.url });
    await c.connect();
    step('seeded');

    const base = await freePorts(6);
    const [monolithPort, servicePort, gatewayPort, adminPort, kafkaPort] = [base, base + 1, base + 2, base + 3, base + 4];
    env = { DATABASE_URL: db.url, CARVE_TRANSPORT: transport, KAFKA_BROKERS: '', LOG_LEVEL: 'warn', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET };
    if (transport === 'kafka') {
      kafkaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-e2e-kafka-'));
      const kafka = await startKafka({ port: kafkaPort, dataDir: kafkaDir, log: () => undefined });
      env.KAFKA_BROKERS = kafka.brokers.join(',');
      const admin = createKafkaTransport({ brokers: kafka.brokers, clientId: 'insights-e2e-admin' });
      try {
        await admin.ensureTopics(loadTopicDeclarations());
      } finally {
        await admin.close();
      }
      step('private kafka up');
    }

    const routes = fs
      .readFileSync(path.join(ROOT, 'apps/gateway/routes/dev.yaml'), 'utf8')
      .replace('http://127.0.0.1:3000', `http://127.0.0.1:${monolithPort}`)
      .replace('http://127.0.0.1:3101', `http://127.0.0.1:${servicePort}`);
    const routesFile = path.join(os.tmpdir(), `carve-e2e-routes-${process.pid}-${transport}.yaml`);
    fs.writeFileSync(routesFile, routes.replace(/^# yaml-language-server.*$/m, ''));

    const monolith = startProcess('legacy-monolith', 'apps/legacy-monolith/src/main.ts', { ...env, PORT: String(monolithPort), CARVE_REVERSE_SYNC: 'true' });
    const service = startProcess('insights-service', 'apps/insights-service/src/main.ts', { ...env, PORT: String(servicePort) });
    const gateway = startProcess('gateway', 'apps/gateway/src/main.ts', {
      ...env,
      PORT: String(gatewayPort),
      CARVE_ADMIN_PORT: String(adminPort),
      CARVE_ADMIN_TOKEN: DEV_ADMIN_TOKEN,
      CARVE_ROUTES_FILE: routesFile,
      CARVE_ACCESS_LOG: 'false',
    });
    procs.push(monolith, service, gateway);
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    adminUrl = `http://127.0.0.1:${adminPort}`;
    await Promise.all([
      waitHealthy(monolith, `http://127.0.0.1:${monolithPort}/readyz`),
      waitHealthy(service, `http://127.0.0.1:${servicePort}/readyz`),
      waitHealthy(gateway, `${gatewayUrl}/healthz`),
    ]);
    env = { ...env, CARVE_ADMIN_URL: adminUrl, CARVE_ADMIN_TOKEN: DEV_ADMIN_TOKEN, CARVE_OWNERSHIP_PROPAGATION_MS: '2000' };
    step('processes up');

    const ws = (await c.query('SELECT id FROM legacy.workspaces ORDER BY id')).rows.map((r) => r.id as string);
    workspaces = [];
    for (const id of ws) {
      const member = (await c.query(`SELECT id FROM legacy.members WHERE workspace_id = $1 AND role = 'admin' LIMIT 1`, [id])).rows[0]?.id;
      const seeded = (await c.query('SELECT id FROM legacy.notes WHERE workspace_id = $1 ORDER BY created_at, id LIMIT 20', [id])).rows.map((r) => r.id as string);
      workspaces.push({ id, token: signToken({ sub: member ?? '00000000-0000-4000-8000-000000000001', tid: id, role: 'admin' }, DEV_JWT_SECRET), seeded });
    }
  }, 150_000);

  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    if (kafkaDir) {
      await stopKafka({ dataDir: kafkaDir, log: () => undefined }).catch(() => undefined);
      fs.rmSync(kafkaDir, { recursive: true, force: true });
    }
    await c?.end();
    if (process.env.CARVE_E2E_KEEP_DB) process.stderr.write(`kept database ${db?.url}\n`);
    else await db?.drop();
    process.stderr.write(`insights e2e (${transport}):\n  ${log.join('\n  ')}\n`);
  }, 90_000);

  const api = async (method: string, url: string, token: string, body?: unknown) => {
    const res = await fetch(`${gatewayUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  const cli = async (...args: string[]): Promise<Run> => {
    const run = await carve(db.url, args, env);
    step(`carve ${args.join(' ')} → ${run.code}`);
    return run;
  };
  const ok = async (...args: string[]): Promise<Run> => {
    const run = await cli(...args);
    if (run.code !== 0) throw new Error(`carve ${args.join(' ')} exited ${run.code}\n${run.stdout}\n${run.stderr}\n${procs.map((p) => `--- ${p.name}\n${p.tail(8)}`).join('\n')}`);
    return run;
  };
  const status = async () => JSON.parse((await ok('status', 'insights', '--json')).stdout);

  /** Writes through the gateway until stopped: creates (with a customer and a link) and renames its own notes. */
  function startWriter() {
    const acked = new Map<string, Acked>();
    const failures = new Map<number, number>();
    let stop = false;
    let n = 0;
    const features = new Map<string, string>();
    const done = (async () => {
      for (const w of workspaces) features.set(w.id, (await c.query('SELECT id FROM legacy.features WHERE workspace_id = $1 LIMIT 1', [w.id])).rows[0].id);
      while (!stop && n < 5000) {
        n += 1;
        const w = workspaces[n % workspaces.length];
        const own = [...acked.entries()].filter(([, a]) => a.workspaceId === w.id);
        const base = `/api/v1/workspaces/${w.id}/notes`;
        let res;
        let id: string | undefined;
        const title = `e2e write ${n}`;
        try {
          if (own.length > 0 && n % 3 === 0) {
            id = own[n % own.length][0];
            res = await api('PATCH', `${base}/${id}`, w.token, { title });
          } else {
            res = await api('POST', base, w.token, {
              title,
              content: `written by the e2e writer (${transport})`,
              source: 'manual',
              customer: { email: `e2e-${n}@example.com`, name: `Customer ${n}`, company: 'E2E Inc' },
              tags: ['e2e', `t${n % 4}`],
              features: [{ featureId: features.get(w.id)!, importance: 'high' }],
            });
            id = res.body?.id;
          }
        } catch {
          res = { status: 0, body: undefined };
        }
        if (res.status >= 200 && res.status < 300 && id) acked.set(id, { workspaceId: w.id, title, side: '' });
        else failures.set(res.status, (failures.get(res.status) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    return {
      acked,
      failures,
      attempts: () => n,
      async stop() {
        stop = true;
        await done;
      },
    };
  }

  it('carves insights out and rolls it back without losing a write', async () => {
    const writer = startWriter();
    try {
      await waitFor('the first writes', () => writer.acked.size >= 5, 20_000);

      // --- backfill while writes continue
      const backfill = await ok('backfill', 'insights', '--batch-size', '200');
      expect(backfill.stdout).toContain('insights: backfill complete; stage backfilled');
      expect(backfill.stderr).toMatch(/backfill notes .*100%/);

      // --- verify: no drift (writes still going: what is in flight settles on a recheck)
      const verified = await ok('verify', 'insights');
      expect(verified.stdout).toMatch(/3 workspace\(s\) compared in .*; no drift/);

      // --- shadow: the service answers in the shadow of the monolith, and agrees
      await ok('stage', 'insights', 'shadow', '--reason', 'e2e: compare');
      await waitFor('the gateway to shadow notes-read', async () => (await status()).routes.find((r: any) => r.id === 'notes-read').effective.mode === 'shadow', 10_000, 300);
      for (let round = 0; round < 3; round++) {
        for (const w of workspaces) {
          expect((await api('GET', `/api/v1/workspaces/${w.id}/notes?sort=createdAt&limit=10`, w.token)).status).toBe(200);
          for (const id of w.seeded.slice(0, 5)) expect((await api('GET', `/api/v1/workspaces/${w.id}/notes/${id}`, w.token)).status).toBe(200);
        }
      }
      const shadow = await waitFor(
        'the shadow comparisons',
        async () => {
          const s = await status();
          const r = s.routes.find((x: any) => x.id === 'notes-read');
          return r.shadow && r.shadow.compared >= 30 ? s : undefined;
        },
        20_000,
        500,
      );
      const read = shadow.routes.find((x: any) => x.id === 'notes-read');
      expect(read.shadow.mismatches).toBe(0);
      expect(shadow.mismatchRate).toBe(0);

      // --- canary 50%, then all reads
      await ok('stage', 'insights', 'canary', '--percent', '50', '--reason', 'e2e: half the tenants');
      expect((await status()).routes.find((r: any) => r.id === 'notes-read').effective).toMatchObject({ mode: 'canary', percent: 50 });
      for (const w of workspaces) expect((await api('GET', `/api/v1/workspaces/${w.id}/notes?limit=5`, w.token)).status).toBe(200);
      await ok('stage', 'insights', 'reads', '--reason', 'e2e: all reads');
      for (const w of workspaces) expect((await api('GET', `/api/v1/workspaces/${w.id}/notes/${w.seeded[0]}`, w.token)).status).toBe(200);

      // --- writes cut over (after a fresh verify): the service owns notes
      const cutover = await ok('cutover', 'insights', '--writes', '--reason', 'e2e: the service owns notes');
      expect(cutover.stdout).toContain('writes cut over');
      const after = writer.attempts();
      const serviceWrites = await waitFor(
        'writes acknowledged by the service',
        async () => {
          const ids = (await c.query(`SELECT DISTINCT envelope->>'aggregateId' AS id FROM insights.outbox WHERE envelope->>'type' IN ('note.created', 'note.updated')`)).rows.map((r) => r.id);
          return ids.length >= 10 ? ids : undefined;
        },
        30_000,
        300,
      );
      expect(writer.attempts()).toBeGreaterThan(after);
      // ... and the monolith follows (reverse sync)
      await waitFor(
        'the reverse sync',
        async () => (await c.query('SELECT count(*)::int AS n FROM legacy.notes WHERE id = ANY($1)', [serviceWrites])).rows[0].n === serviceWrites.length,
        30_000,
        300,
      );
      const st = await status();
      expect(st.stage).toMatchObject({ stage: 'writes-switched', owner: 'service' });
      expect(st.routes.map((r: any) => [r.id, r.effective.mode])).toEqual([['notes-read', 'service'], ['notes-write', 'service']]);

      // --- rollback, writes still coming
      const rollback = await ok('rollback', 'insights', '--reason', 'e2e: roll back', '--timeout', '60');
      expect(rollback.stdout).toContain('rolled back from writes-switched to backfilled');
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await writer.stop();
      step(`writer: ${writer.acked.size} notes acknowledged in ${writer.attempts()} attempts; failures ${JSON.stringify(Object.fromEntries(writer.failures))}`);
    }

    // --- the monolith holds every acknowledged write
    const ids = [...writer.acked.keys()];
    const rows = new Map((await c.query('SELECT id, title FROM legacy.notes WHERE id = ANY($1)', [ids])).rows.map((r) => [r.id, r.title]));
    const lost = [...writer.acked].filter(([id, a]) => rows.get(id) !== a.title);
    expect(lost).toEqual([]);
    expect(writer.acked.size).toBeGreaterThan(30);

    const final = await status();
    expect(final.stage).toMatchObject({ stage: 'backfilled', owner: 'monolith' });
    expect(final.routes.map((r: any) => [r.id, r.effective.mode])).toEqual([['notes-read', 'monolith'], ['notes-write', 'monolith']]);
    expect(final.lag.reverse.pending).toBe(0);
    const again = await ok('verify', 'insights');
    expect(again.stdout).toContain('no drift');
  }, 240_000);
});
