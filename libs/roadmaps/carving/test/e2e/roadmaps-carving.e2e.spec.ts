/**
 * Carving roadmaps end to end, on real processes on loopback (@carve/shared-testing's
 * startCarvedStack: processes stopped by PID; the carve CLI as a process): the
 * monolith, the roadmaps service (NestJS) and the gateway, one database, and the same generic
 * commands Insights is carved with. Once on the embedded Postgres transport and once on a private
 * Kafka broker (CARVE_E2E_TRANSPORTS=postgres runs one; about 30 s each).
 *
 *   seed → backfill while releases are written through the gateway → verify: no drift → shadow:
 *   no mismatches → canary 50% → reads switched → writes cut over → writes (new releases,
 *   renames, plan changes) land in the service and, by reverse sync, in the monolith → rollback
 *   (writes still coming) → the monolith holds every acknowledged write, plans included, and
 *   verify finds no drift.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { startKafka, stopKafka } from '@carve/kafka-broker';
import { migrateRoadmaps } from '@carve/roadmaps-data-access';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createKafkaTransport, loadTopicDeclarations } from '@carve/shared-messaging';
import { carve, type CarvedStack, createTestDatabase, freePorts, REGISTER_TS, ROOT, type Run, runNode, startCarvedStack, type TestDatabase, waitFor } from '@carve/shared-testing';
import { Client } from 'pg';

const TRANSPORTS = (process.env.CARVE_E2E_TRANSPORTS ?? 'postgres,kafka').split(',').filter((t): t is 'kafka' | 'postgres' => t === 'kafka' || t === 'postgres');

/** What the writer was told it wrote: a release's name and plan after its last acknowledged write. */
interface Acked {
  workspaceId: string;
  name: string;
  plan: string[];
}

describe.each(TRANSPORTS)('carving roadmaps end to end (%s transport)', (transport) => {
  let db: TestDatabase;
  let c: Client;
  let stack: CarvedStack | undefined;
  let kafkaDir: string | undefined;
  let env: NodeJS.ProcessEnv;
  let gatewayUrl: string;
  let workspaces: Array<{ id: string; token: string; seeded: string[]; features: string[] }>;
  const log: string[] = [];
  const t0 = Date.now();
  const step = (what: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

  beforeAll(async () => {
    db = await createTestDatabase(`roadmaps_e2e_${transport}`);
    const seed = await runNode(['-r', REGISTER_TS, path.join(ROOT, 'apps/legacy-monolith/src/seed/main.ts'), '--workspaces', '3', '--notes', '30', '--releases', '90', '--seed', '11'], { DATABASE_URL: db.url });
    if (seed.code !== 0) throw new Error(`seeding failed (${seed.code}): ${seed.stderr}`);
    await migrateRoadmaps(db.url);
    c = new Client({ connectionString: db.url });
    await c.connect();
    step('seeded');

    env = { DATABASE_URL: db.url, CARVE_TRANSPORT: transport, KAFKA_BROKERS: '', LOG_LEVEL: 'warn', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET };
    if (transport === 'kafka') {
      kafkaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-e2e-kafka-'));
      const kafka = await startKafka({ port: await freePorts(2), dataDir: kafkaDir, log: () => undefined });
      env.KAFKA_BROKERS = kafka.brokers.join(',');
      const admin = createKafkaTransport({ brokers: kafka.brokers, clientId: 'roadmaps-e2e-admin' });
      try {
        await admin.ensureTopics(loadTopicDeclarations());
      } finally {
        await admin.close();
      }
      step('private kafka up');
    }

    stack = await startCarvedStack({
      name: `roadmaps-e2e-${transport}`,
      env,
      service: { name: 'roadmaps-service', entry: 'apps/roadmaps-service/src/main.ts', upstream: 'roadmaps' },
      adminToken: DEV_ADMIN_TOKEN,
    });
    gatewayUrl = stack.gatewayUrl;
    env = stack.cliEnv;
    step('processes up');

    workspaces = [];
    for (const { id } of (await c.query('SELECT id FROM legacy.workspaces ORDER BY id')).rows) {
      const member = (await c.query(`SELECT id FROM legacy.members WHERE workspace_id = $1 AND role = 'admin' LIMIT 1`, [id])).rows[0]?.id;
      const seeded = (await c.query('SELECT id FROM legacy.releases WHERE workspace_id = $1 ORDER BY created_at, id LIMIT 10', [id])).rows.map((r) => r.id as string);
      const features = (await c.query('SELECT id FROM legacy.features WHERE workspace_id = $1 ORDER BY id LIMIT 4', [id])).rows.map((r) => r.id as string);
      workspaces.push({ id, token: signToken({ sub: member ?? '00000000-0000-4000-8000-000000000001', tid: id, role: 'admin' }, DEV_JWT_SECRET), seeded, features });
    }
  }, 150_000);

  afterAll(async () => {
    await stack?.stop();
    if (kafkaDir) {
      await stopKafka({ dataDir: kafkaDir, log: () => undefined }).catch(() => undefined);
      fs.rmSync(kafkaDir, { recursive: true, force: true });
    }
    await c?.end();
    if (process.env.CARVE_E2E_KEEP_DB) process.stderr.write(`kept database ${db?.url}\n`);
    else await db?.drop();
    process.stderr.write(`roadmaps e2e (${transport}):\n  ${log.join('\n  ')}\n`);
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
    if (run.code !== 0) throw new Error(`carve ${args.join(' ')} exited ${run.code}\n${run.stdout}\n${run.stderr}\n${(stack?.procs ?? []).map((p) => `--- ${p.name}\n${p.tail(8)}`).join('\n')}`);
    return run;
  };
  const status = async () => JSON.parse((await ok('status', 'roadmaps', '--json')).stdout);

  /**
   * Writes through the gateway until stopped: creates releases (planning a feature), renames them,
   * plans and unplans features in them; remembers each release's name and plan as last acknowledged.
   */
  function startWriter() {
    const acked = new Map<string, Acked>();
    /** Refusals by status and problem code (`409 not_source_of_truth`), 0 for a request that failed. */
    const failures = new Map<string, number>();
    const refused = (res: { status: number; body?: { code?: string } }) => {
      const key = `${res.status} ${res.body?.code ?? ''}`.trim();
      failures.set(key, (failures.get(key) ?? 0) + 1);
    };
    let stop = false;
    let n = 0;
    const done = (async () => {
      while (!stop && n < 5000) {
        n += 1;
        const w = workspaces[n % workspaces.length];
        const own = [...acked.entries()].filter(([, a]) => a.workspaceId === w.id);
        const base = `/api/v1/workspaces/${w.id}/releases`;
        try {
          if (own.length > 0 && n % 4 === 1) {
            const [id, a] = own[n % own.length];
            const name = `e2e rename ${n}`;
            const res = await api('PATCH', `${base}/${id}`, w.token, { name });
            if (res.status === 200) acked.set(id, { ...a, name: res.body.name, plan: res.body.featureIds });
            else refused(res);
          } else if (own.length > 0 && n % 4 === 2) {
            const [id, a] = own[n % own.length];
            const feature = w.features[n % w.features.length];
            const planned = a.plan.includes(feature);
            const res = planned ? await api('DELETE', `${base}/${id}/features/${feature}`, w.token) : await api('POST', `${base}/${id}/features`, w.token, { featureId: feature });
            if (res.status === 201 || res.status === 204) acked.set(id, { ...a, plan: planned ? a.plan.filter((f) => f !== feature) : [...a.plan, feature] });
            else refused(res);
          } else {
            const month = String((n % 12) + 1).padStart(2, '0');
            const res = await api('POST', base, w.token, { name: `e2e release ${n}`, timeframe: { start: `2027-${month}-01`, end: `2027-${month}-28` }, featureIds: [w.features[0]] });
            if (res.status === 201) acked.set(res.body.id, { workspaceId: w.id, name: res.body.name, plan: res.body.featureIds });
            else refused(res);
          }
        } catch {
          failures.set('0', (failures.get('0') ?? 0) + 1);
        }
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

  it('carves roadmaps out with the generic commands and rolls it back without losing a write', async () => {
    const writer = startWriter();
    try {
      await waitFor('the first writes', () => writer.acked.size >= 5, 20_000);

      // --- backfill while writes continue
      const backfill = await ok('backfill', 'roadmaps', '--batch-size', '40');
      expect(backfill.stdout).toContain('roadmaps: backfill complete; stage backfilled');
      expect(backfill.stderr).toMatch(/backfill releases .*100%/);

      // --- verify: no drift (what is in flight settles on a recheck)
      expect((await ok('verify', 'roadmaps')).stdout).toMatch(/3 workspace\(s\) compared in .*; no drift/);

      // --- shadow: the service answers in the monolith's shadow, and agrees
      await ok('stage', 'roadmaps', 'shadow', '--reason', 'e2e: compare');
      await waitFor('the gateway to shadow releases-read', async () => (await status()).routes.find((r: any) => r.id === 'releases-read').effective.mode === 'shadow', 10_000, 300);
      for (let round = 0; round < 3; round++) {
        for (const w of workspaces) {
          expect((await api('GET', `/api/v1/workspaces/${w.id}/releases?sort=createdAt&limit=5`, w.token)).status).toBe(200);
          for (const id of w.seeded.slice(0, 4)) {
            expect((await api('GET', `/api/v1/workspaces/${w.id}/releases/${id}`, w.token)).status).toBe(200);
            expect((await api('GET', `/api/v1/workspaces/${w.id}/releases/${id}/features`, w.token)).status).toBe(200);
          }
        }
      }
      const shadow = await waitFor(
        'the shadow comparisons',
        async () => {
          const s = await status();
          const r = s.routes.find((x: any) => x.id === 'releases-read');
          return r.shadow && r.shadow.compared >= 40 ? s : undefined;
        },
        20_000,
        500,
      );
      expect(shadow.routes.find((x: any) => x.id === 'releases-read').shadow.mismatches).toBe(0);
      expect(shadow.mismatchRate).toBe(0);

      // --- canary 50%, then all reads
      await ok('stage', 'roadmaps', 'canary', '--percent', '50', '--reason', 'e2e: half the tenants');
      expect((await status()).routes.find((r: any) => r.id === 'releases-read').effective).toMatchObject({ mode: 'canary', percent: 50 });
      for (const w of workspaces) expect((await api('GET', `/api/v1/workspaces/${w.id}/releases?limit=5`, w.token)).status).toBe(200);
      await ok('stage', 'roadmaps', 'reads', '--reason', 'e2e: all reads');
      for (const w of workspaces) expect((await api('GET', `/api/v1/workspaces/${w.id}/releases/${w.seeded[0]}`, w.token)).status).toBe(200);

      // --- writes cut over (after a fresh verify): the service owns releases
      expect((await ok('cutover', 'roadmaps', '--writes', '--reason', 'e2e: the service owns releases')).stdout).toContain('writes cut over');
      const serviceWrites = await waitFor(
        'writes acknowledged by the service',
        async () => {
          const ids = (await c.query(`SELECT DISTINCT key AS id FROM roadmaps.outbox WHERE envelope->>'type' IN ('release.created', 'release.updated')`)).rows.map((r) => r.id);
          return ids.length >= 10 ? ids : undefined;
        },
        30_000,
        300,
      );
      // ... and the monolith follows (reverse sync)
      await waitFor(
        'the reverse sync',
        async () => (await c.query('SELECT count(*)::int AS n FROM legacy.releases WHERE id = ANY($1)', [serviceWrites])).rows[0].n === serviceWrites.length,
        30_000,
        300,
      );
      const st = await status();
      expect(st.stage).toMatchObject({ stage: 'writes-switched', owner: 'service' });
      expect(st.routes.map((r: any) => [r.id, r.effective.mode])).toEqual([['releases-read', 'service'], ['releases-write', 'service']]);

      // --- rollback, writes still coming
      expect((await ok('rollback', 'roadmaps', '--reason', 'e2e: roll back', '--timeout', '60')).stdout).toContain('rolled back from writes-switched to backfilled');
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await writer.stop();
      step(`writer: ${writer.acked.size} releases acknowledged in ${writer.attempts()} attempts; failures ${JSON.stringify(Object.fromEntries(writer.failures))}`);
    }

    // --- the monolith holds every acknowledged write, plans included
    const ids = [...writer.acked.keys()];
    const rows = new Map(
      (
        await c.query(
          `SELECT r.id, r.name, coalesce(array_agg(rf.feature_id ORDER BY rf.feature_id) FILTER (WHERE rf.feature_id IS NOT NULL), '{}') AS plan
             FROM legacy.releases r LEFT JOIN legacy.release_features rf ON rf.release_id = r.id WHERE r.id = ANY($1) GROUP BY r.id, r.name`,
          [ids],
        )
      ).rows.map((r) => [r.id, { name: r.name, plan: r.plan as string[] }]),
    );
    const lost = [...writer.acked].filter(([id, a]) => rows.get(id)?.name !== a.name || JSON.stringify(rows.get(id)?.plan) !== JSON.stringify([...a.plan].sort()));
    expect(lost).toEqual([]);
    expect(writer.acked.size).toBeGreaterThan(20);
    // The only refusals are the write fence's, in the seconds ownership moves (refused, never lost):
    // 503 write_fenced while a handover holds the writes, 409 not_source_of_truth from the side
    // that no longer owns them until the gateway's routes follow.
    expect([...writer.failures.keys()].filter((k) => k !== '409 not_source_of_truth' && k !== '503 write_fenced')).toEqual([]);

    const final = await status();
    expect(final.stage).toMatchObject({ stage: 'backfilled', owner: 'monolith' });
    expect(final.routes.map((r: any) => [r.id, r.effective.mode])).toEqual([['releases-read', 'monolith'], ['releases-write', 'monolith']]);
    expect(final.lag.reverse.pending).toBe(0);
    expect((await ok('verify', 'roadmaps')).stdout).toContain('no drift');
  }, 300_000);
});
