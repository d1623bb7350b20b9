/**
 * The verify engine: both sides reduced to the same canonical projection, compared per
 * workspace, in Postgres.
 *
 * 1. The workspaces of both sides (union), in chunks.
 * 2. Per chunk and projection, on each side: per workspace the row count and a 120-bit
 *    checksum, the sum of the md5 of every canonical row (`md5(to_jsonb(row)::text)`, split in
 *    two 60-bit halves). Order-independent, computed where the rows are; equal projections give
 *    equal sums.
 * 3. Only in workspaces whose count or checksum differ: the (id, md5) of every row on both
 *    sides, compared: ids missing in the service, extra in the service, or different.
 * 4. Rows still in flight (forward sync lags a change by milliseconds) are not drift: the
 *    differing ids are compared again after a short wait (`recheck`), and those that agree
 *    then are counted as settled.
 *
 * The result is stored in `carve.verify_runs` (status shows the last one per context).
 */
import { migrateControlPlane } from '@carve/shared-control-plane';
import { Client, Pool } from 'pg';
import type { CarvableContext, VerifyProjection } from './context';
import { setTimeout as sleep } from 'node:timers/promises';
import { iso } from '@carve/shared-kernel';

export interface VerifyOptions {
  readonly context: CarvableContext;
  readonly monolithUrl: string;
  readonly serviceUrl: string;
  /** Where the result is stored (schema `carve`); default serviceUrl. */
  readonly controlUrl?: string;
  /** Only these workspaces. */
  readonly workspaces?: readonly string[];
  /** Ids listed per workspace and kind (default 50); the counts are always complete. */
  readonly maxIds?: number;
  /** Workspaces per checksum query (default 25). */
  readonly chunkSize?: number;
  /** Compare differing ids again this many times, `delayMs` apart (default 3 × 700 ms). */
  readonly recheck?: { readonly rounds?: number; readonly delayMs?: number };
  /**
   * Waits, before each recheck, until the sync has carried over what each side had committed
   * when it was called (by outbox position): a row written again and again under load is
   * compared once its latest change has arrived, not after a fixed delay it may never fit in.
   */
  readonly settle?: () => Promise<void>;
  /** Who ran it (stored with the result). */
  readonly actor?: string;
  /** Store the result (default true). */
  readonly store?: boolean;
  readonly onProgress?: (p: { projection: string; workspacesDone: number; workspaces: number; rows: number; phase: 'checksum' | 'drill-down' | 'recheck' }) => void;
}

export interface SideSummary {
  readonly count: number;
  readonly checksum: string;
}

export interface WorkspaceDrift {
  readonly workspaceId: string;
  readonly monolith: SideSummary;
  readonly service: SideSummary;
  /** In the monolith, not in the service. */
  readonly missing: string[];
  /** In the service, not in the monolith. */
  readonly extra: string[];
  /** On both sides, different. */
  readonly different: string[];
  readonly counts: { readonly missing: number; readonly extra: number; readonly different: number };
}

export interface ProjectionResult {
  readonly name: string;
  readonly monolithRows: number;
  readonly serviceRows: number;
  readonly workspaces: number;
  readonly drifted: WorkspaceDrift[];
  /** Ids that differed at first and agreed on a recheck (changes in flight). */
  readonly settled: number;
}

export interface VerifyResult {
  readonly context: string;
  readonly ok: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ms: number;
  /** Workspaces compared. */
  readonly workspaces: number;
  /** Workspaces with drift in any projection. */
  readonly driftedWorkspaces: number;
  readonly projections: ProjectionResult[];
  readonly scope: readonly string[] | null;
  /** Id of the stored run in carve.verify_runs. */
  readonly runId: number | null;
}

export interface StoredVerifyRun {
  readonly id: number;
  readonly context: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ok: boolean;
  readonly workspaces: number;
  readonly drifted: number;
  readonly scope: string | null;
  readonly actor: string | null;
  readonly result: VerifyResult;
}

const HASH = `md5(to_jsonb(p)::text)`;

function checksumSql(sql: string, tenantType: string): string {
  return `SELECT q.workspace_id::text AS workspace_id, count(*)::bigint AS n,
                 coalesce(sum(('x' || substr(q.h, 1, 15))::bit(60)::bigint), 0)::text AS s1,
                 coalesce(sum(('x' || substr(q.h, 16, 15))::bit(60)::bigint), 0)::text AS s2
            FROM (SELECT p.workspace_id, ${HASH} AS h FROM (${sql}) p WHERE p.workspace_id = ANY($1::${tenantType}[])) q
           GROUP BY 1`;
}

function rowsSql(sql: string, tenantType: string, withIds: boolean): string {
  return `SELECT p.id::text AS id, ${HASH} AS h FROM (${sql}) p
           WHERE p.workspace_id = $1::${tenantType}${withIds ? ' AND p.id::text = ANY($2::text[])' : ''}`;
}

const checksumOf = (r: { s1: string; s2: string }) => `${BigInt(r.s1).toString(16)}:${BigInt(r.s2).toString(16)}`;

/** The tenant ids of both sides, sorted (union). */
async function listWorkspaces(ctx: CarvableContext, m: Client, s: Client): Promise<string[]> {
  const q = (sql: string) => `SELECT DISTINCT w.workspace_id::text AS id FROM (${sql}) w`;
  const [a, b] = ctx.workspaces
    ? await Promise.all([m.query(q(ctx.workspaces.monolith)), s.query(q(ctx.workspaces.service))])
    : await Promise.all([
        m.query(ctx.verify.map((v) => q(`SELECT workspace_id FROM (${v.monolith}) x`)).join(' UNION ')),
        s.query(ctx.verify.map((v) => q(`SELECT workspace_id FROM (${v.service}) x`)).join(' UNION ')),
      ]);
  return [...new Set([...a.rows, ...b.rows].map((r) => r.id as string))].sort();
}

async function hashes(c: Client, sql: string, tenantType: string, workspace: string, ids?: string[]): Promise<Map<string, string>> {
  const r = await c.query(rowsSql(sql, tenantType, Boolean(ids)), ids ? [workspace, ids] : [workspace]);
  return new Map(r.rows.map((row) => [row.id as string, row.h as string]));
}

function diff(mono: Map<string, string>, svc: Map<string, string>) {
  const missing: string[] = [];
  const extra: string[] = [];
  const different: string[] = [];
  for (const [id, h] of mono) {
    const o = svc.get(id);
    if (o === undefined) missing.push(id);
    else if (o !== h) different.push(id);
  }
  for (const id of svc.keys()) if (!mono.has(id)) extra.push(id);
  return { missing: missing.sort(), extra: extra.sort(), different: different.sort() };
}

export async function runVerify(opts: VerifyOptions): Promise<VerifyResult> {
  const ctx = opts.context;
  const tenantType = ctx.tenantIdType ?? 'uuid';
  const started = new Date();
  const t0 = performance.now();
  const maxIds = Math.max(1, opts.maxIds ?? 50);
  const chunkSize = Math.max(1, opts.chunkSize ?? 25);
  const rounds = Math.max(0, opts.recheck?.rounds ?? 3);
  const delayMs = Math.max(0, opts.recheck?.delayMs ?? 700);
  const m = new Client({ connectionString: opts.monolithUrl, application_name: `carve-verify:${ctx.name}:monolith` });
  const s = new Client({ connectionString: opts.serviceUrl, application_name: `carve-verify:${ctx.name}:service` });
  m.on('error', () => undefined);
  s.on('error', () => undefined);
  await Promise.all([m.connect(), s.connect()]);
  // The canonical projections are costly expressions over every row (correlated aggregates,
  // to_jsonb, md5): the planner's estimates send them to JIT, whose compilation cost more than
  // it saved (on 100,000 notes: about half of verify's time). Off for these sessions only.
  await Promise.all([m.query('SET jit = off'), s.query('SET jit = off')]);
  let result: VerifyResult;
  try {
    const workspaces = opts.workspaces?.length ? [...new Set(opts.workspaces)].sort() : await listWorkspaces(ctx, m, s);
    const projections: ProjectionResult[] = [];
    for (const v of ctx.verify) projections.push(await verifyProjection(v, workspaces));
    const drifted = new Set(projections.flatMap((p) => p.drifted.map((d) => d.workspaceId)));
    const finished = new Date();
    result = {
      context: ctx.name,
      ok: drifted.size === 0,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      ms: Math.round(performance.now() - t0),
      workspaces: workspaces.length,
      driftedWorkspaces: drifted.size,
      projections,
      scope: opts.workspaces?.length ? [...opts.workspaces] : null,
      runId: null,
    };
  } finally {
    await Promise.all([m.end().catch(() => undefined), s.end().catch(() => undefined)]);
  }
  if (opts.store === false) return result;
  const pool = new Pool({ connectionString: opts.controlUrl ?? opts.serviceUrl, max: 1, application_name: `carve-verify:${ctx.name}` });
  // A connection that fails while idle (the server restarts, the database is dropped) must not
  // crash the process: the next query reports it.
  pool.on('error', () => undefined);
  try {
    await migrateControlPlane(pool);
    const r = await pool.query(
      `INSERT INTO carve.verify_runs (context, started_at, finished_at, ok, scope, workspaces, drifted, actor, result)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [ctx.name, result.startedAt, result.finishedAt, result.ok, result.scope ? result.scope.join(',') : null, result.workspaces, result.driftedWorkspaces, opts.actor ?? null, JSON.stringify(result)],
    );
    result = { ...result, runId: Number(r.rows[0].id) };
  } finally {
    await pool.end().catch(() => undefined);
  }
  return result;

  async function verifyProjection(v: VerifyProjection, workspaces: string[]): Promise<ProjectionResult> {
    const suspects: Array<{ workspaceId: string; monolith: SideSummary; service: SideSummary }> = [];
    let monolithRows = 0;
    let serviceRows = 0;
    const progress = (workspacesDone: number, phase: 'checksum' | 'drill-down' | 'recheck') =>
      opts.onProgress?.({ projection: v.name, workspacesDone, workspaces: workspaces.length, rows: monolithRows, phase });
    progress(0, 'checksum');
    for (let i = 0; i < workspaces.length; i += chunkSize) {
      const chunk = workspaces.slice(i, i + chunkSize);
      const [a, b] = await Promise.all([m.query(checksumSql(v.monolith, tenantType), [chunk]), s.query(checksumSql(v.service, tenantType), [chunk])]);
      const mono = new Map(a.rows.map((r) => [r.workspace_id as string, { count: Number(r.n), checksum: checksumOf(r) }]));
      const svc = new Map(b.rows.map((r) => [r.workspace_id as string, { count: Number(r.n), checksum: checksumOf(r) }]));
      for (const w of chunk) {
        const x = mono.get(w) ?? { count: 0, checksum: '0:0' };
        const y = svc.get(w) ?? { count: 0, checksum: '0:0' };
        monolithRows += x.count;
        serviceRows += y.count;
        if (x.count !== y.count || x.checksum !== y.checksum) suspects.push({ workspaceId: w, monolith: x, service: y });
      }
      progress(Math.min(workspaces.length, i + chunk.length), 'checksum');
    }

    const drifted: WorkspaceDrift[] = [];
    let settled = 0;
    for (const [n, sus] of suspects.entries()) {
      const [mono, svc] = await Promise.all([hashes(m, v.monolith, tenantType, sus.workspaceId), hashes(s, v.service, tenantType, sus.workspaceId)]);
      let d = diff(mono, svc);
      let pending = [...d.missing, ...d.extra, ...d.different];
      const first = pending.length;
      for (let round = 0; round < rounds && pending.length > 0; round++) {
        progress(n, 'recheck');
        await (opts.settle ? opts.settle() : sleep(delayMs));
        const [mm, ss] = await Promise.all([hashes(m, v.monolith, tenantType, sus.workspaceId, pending), hashes(s, v.service, tenantType, sus.workspaceId, pending)]);
        d = diff(mm, ss);
        pending = [...d.missing, ...d.extra, ...d.different];
      }
      settled += first - pending.length;
      progress(n + 1, 'drill-down');
      if (pending.length === 0) continue;
      drifted.push({
        workspaceId: sus.workspaceId,
        monolith: sus.monolith,
        service: sus.service,
        missing: d.missing.slice(0, maxIds),
        extra: d.extra.slice(0, maxIds),
        different: d.different.slice(0, maxIds),
        counts: { missing: d.missing.length, extra: d.extra.length, different: d.different.length },
      });
    }
    return { name: v.name, monolithRows, serviceRows, workspaces: workspaces.length, drifted, settled };
  }
}

function toRun(row: any): StoredVerifyRun {
  return {
    id: Number(row.id),
    context: row.context,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    ok: row.ok,
    workspaces: Number(row.workspaces),
    drifted: Number(row.drifted),
    scope: row.scope,
    actor: row.actor,
    result: row.result,
  };
}

/** The last verify of a context (optionally: only whole-context runs, not `--workspace` ones). */
export async function lastVerify(
  executor: { query: (sql: string, params?: unknown[]) => Promise<{ rows: any[] }> },
  context: string,
  opts: { wholeContext?: boolean } = {},
): Promise<StoredVerifyRun | null> {
  const r = await executor.query(
    `SELECT * FROM carve.verify_runs WHERE context = $1 ${opts.wholeContext ? 'AND scope IS NULL' : ''} ORDER BY id DESC LIMIT 1`,
    [context],
  );
  return r.rows[0] ? toRun(r.rows[0]) : null;
}
