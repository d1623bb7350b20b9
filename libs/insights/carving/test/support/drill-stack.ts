/**
 * The drills' stack on real processes on loopback: a database seeded by the monolith's own seed,
 * the monolith (with reverse sync), the insights service and the gateway started as child
 * processes (stopped by PID), on the Postgres transport or on a broker of the suite's own; the
 * carve CLI as a process for every step; and the check every drill ends with (nothing
 * acknowledged was lost).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';
import { startKafka, stopKafka } from '@carve/kafka-broker';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, signToken } from '@carve/shared-http';
import { createKafkaTransport, loadTopicDeclarations } from '@carve/shared-messaging';
import { carve, type CarvedStack, createTestDatabase, freePorts, type Proc, type Run, startCarvedStack, type TestDatabase, waitFor } from '@carve/shared-testing';
import { Client } from 'pg';
import type { DrillLoad, DrillWorkspace } from './drill-load';
import { seedLegacyAndInsights } from './legacy';

export type DrillWorkspaceInfo = DrillWorkspace & { readonly seeded: string[] };

export interface DrillStack {
  readonly db: TestDatabase;
  /** A connection to the database (every schema). */
  readonly c: Client;
  readonly procs: Proc[];
  readonly gatewayUrl: string;
  readonly monolithUrl: string;
  readonly serviceUrl: string;
  readonly servicePort: number;
  /** The service's environment (to start it again). */
  readonly serviceEnv: NodeJS.ProcessEnv;
  /** Each workspace with an admin's token, its first notes, hot and cold notes, a feature. */
  readonly workspaces: DrillWorkspaceInfo[];
  /** Timed steps, printed when the stack stops. */
  step(what: string): void;
  /** `carve <args>` as a process; `ok` throws (with the processes' tails) unless it exits 0. */
  cli(...args: string[]): Promise<Run>;
  ok(...args: string[]): Promise<Run>;
  /** `carve status insights --json`, parsed. */
  status(): Promise<any>;
  stop(): Promise<void>;
}

export async function startDrillStack(opts: {
  name: string;
  transport: 'kafka' | 'postgres';
  workspaces: number;
  notes: number;
  /** More environment for the gateway (e.g. CARVE_SERVED_BY_HEADER). */
  gatewayEnv?: NodeJS.ProcessEnv;
  /** More environment for the service. */
  serviceEnv?: NodeJS.ProcessEnv;
  /** More environment for every process and the CLI (e.g. OTEL_*, LOG_LEVEL). */
  env?: NodeJS.ProcessEnv;
}): Promise<DrillStack> {
  const log: string[] = [];
  const t0 = Date.now();
  const step = (what: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  let kafkaDir: string | undefined;
  let stack: CarvedStack | undefined;
  const db = await createTestDatabase(opts.name.replace(/-/g, '_'));
  await seedLegacyAndInsights(db.url, opts.workspaces, opts.notes);
  const c = new Client({ connectionString: db.url });
  await c.connect();
  step('seeded');

  const stop = async () => {
    await stack?.stop();
    if (kafkaDir) {
      await stopKafka({ dataDir: kafkaDir, log: () => undefined }).catch(() => undefined);
      fs.rmSync(kafkaDir, { recursive: true, force: true });
    }
    await c.end().catch(() => undefined);
    if (process.env.CARVE_E2E_KEEP_DB) process.stderr.write(`kept database ${db.url}\n`);
    else await db.drop();
    process.stderr.write(`${opts.name}:\n  ${log.join('\n  ')}\n`);
  };

  try {
    const env: NodeJS.ProcessEnv = { DATABASE_URL: db.url, CARVE_TRANSPORT: opts.transport, KAFKA_BROKERS: '', LOG_LEVEL: 'warn', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET, ...opts.env };
    if (opts.transport === 'kafka') {
      kafkaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carve-e2e-kafka-'));
      const kafka = await startKafka({ port: await freePorts(2), dataDir: kafkaDir, log: () => undefined });
      env.KAFKA_BROKERS = kafka.brokers.join(',');
      const admin = createKafkaTransport({ brokers: kafka.brokers, clientId: `${opts.name}-admin` });
      try {
        await admin.ensureTopics(loadTopicDeclarations());
      } finally {
        await admin.close();
      }
      step('private kafka up');
    }
    stack = await startCarvedStack({
      name: opts.name,
      env,
      service: { name: 'insights-service', entry: 'apps/insights-service/src/main.ts', upstream: 'insights' },
      adminToken: DEV_ADMIN_TOKEN,
      gatewayEnv: opts.gatewayEnv,
      serviceEnv: opts.serviceEnv,
    });
    const { procs, gatewayUrl, monolithUrl, serviceUrl, servicePort, serviceEnv, cliEnv } = stack;
    step('processes up');

    const workspaces: DrillWorkspaceInfo[] = [];
    for (const id of (await c.query('SELECT id FROM legacy.workspaces ORDER BY id')).rows.map((r) => r.id as string)) {
      const member = (await c.query(`SELECT id FROM legacy.members WHERE workspace_id = $1 AND role = 'admin' LIMIT 1`, [id])).rows[0]?.id;
      const seeded = (await c.query('SELECT id FROM legacy.notes WHERE workspace_id = $1 ORDER BY created_at, id LIMIT 20', [id])).rows.map((r) => r.id as string);
      const featureId = (await c.query('SELECT id FROM legacy.features WHERE workspace_id = $1 ORDER BY id LIMIT 1', [id])).rows[0].id as string;
      workspaces.push({ id, token: signToken({ sub: member ?? '00000000-0000-4000-8000-000000000001', tid: id, role: 'admin' }, DEV_JWT_SECRET), seeded, cold: seeded.slice(0, 10), hot: seeded.slice(17, 20), featureId });
    }

    const cli = async (...args: string[]): Promise<Run> => {
      const run = await carve(db.url, args, cliEnv);
      step(`carve ${args.join(' ')} → ${run.code}`);
      return run;
    };
    const ok = async (...args: string[]): Promise<Run> => {
      const run = await cli(...args);
      if (run.code !== 0) throw new Error(`carve ${args.join(' ')} exited ${run.code}\n${run.stdout}\n${run.stderr}\n${procs.map((p) => `--- ${p.name}\n${p.tail(8)}`).join('\n')}`);
      return run;
    };
    const status = async () => JSON.parse((await ok('status', 'insights', '--json')).stdout);
    return { db, c, procs, gatewayUrl, monolithUrl, serviceUrl, servicePort, serviceEnv, workspaces, step, cli, ok, status, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Every note's acknowledged write with the highest version is what both sides hold, once the
 * sync has settled; nothing was acknowledged twice at one version; no sync conflict; nothing
 * failed but retried fence refusals.
 */
export async function expectNothingLost(s: Pick<DrillStack, 'c' | 'step'>, l: DrillLoad): Promise<void> {
  const { c } = s;
  s.step(`load ${JSON.stringify(l.counts)}, fence refusals retried ${JSON.stringify(Object.fromEntries(l.refused))}, unexpected ${JSON.stringify(Object.fromEntries(l.unexpected))}`);
  expect(l.sameVersion).toEqual([]);
  expect(Object.fromEntries(l.unexpected)).toEqual({});
  expect(l.latest.size).toBeGreaterThan(20);
  const ids = [...l.latest.keys()];
  const sides = async () => ({
    mono: new Map((await c.query('SELECT id, title, version FROM legacy.notes WHERE id = ANY($1)', [ids])).rows.map((r) => [r.id, r])),
    svc: new Map((await c.query('SELECT id, title, aggregate_version AS version FROM insights.notes WHERE id = ANY($1)', [ids])).rows.map((r) => [r.id, r])),
  });
  const differences = await waitFor(
    'both sides to hold every acknowledged write',
    async () => {
      const { mono, svc } = await sides();
      const diff = [...l.latest.values()].filter((a) => mono.get(a.noteId)?.title !== a.title || svc.get(a.noteId)?.title !== a.title || Number(mono.get(a.noteId)?.version) !== a.version);
      return diff.length === 0 ? [] : undefined;
    },
    30_000,
    500,
  ).catch(async (err) => {
    const { mono, svc } = await sides();
    const lost = [...l.latest.values()].filter((a) => mono.get(a.noteId)?.title !== a.title || svc.get(a.noteId)?.title !== a.title).slice(0, 5);
    throw new Error(`${(err as Error).message}\nlost: ${JSON.stringify(lost.map((a) => ({ ...a, monolith: mono.get(a.noteId), service: svc.get(a.noteId) })))}`);
  });
  expect(differences).toEqual([]);
  const conflicts = await c.query(`SELECT (SELECT count(*) FROM legacy.sync_conflicts)::int + (SELECT count(*) FROM insights.sync_conflicts)::int AS n`);
  expect(conflicts.rows[0].n).toBe(0);
}
