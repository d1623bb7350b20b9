// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- pg-copy-streams ships no types; this keeps them wherever this file is compiled
/// <reference path="./pg-copy-streams.d.ts" />
/**
 * The backfill engine: copies what exists on the monolith's side into the service's tables,
 * source by source, in keyset batches, while forward sync keeps running.
 *
 * Per batch:
 *   source:  COPY (SELECT <columns> FROM <from> WHERE <key> > <last key> ORDER BY <key> LIMIT n) TO STDOUT
 *   target:  BEGIN; COPY <temp staging table> FROM STDIN; <the descriptor's merge statements>;
 *            upsert carve.backfill_checkpoints (last key, rows); COMMIT
 * The merge is guarded by the aggregate version (`WHERE target.aggregate_version <
 * EXCLUDED.aggregate_version`): a change forward sync applied while the batch was in flight is
 * newer and wins. The checkpoint commits with the batch, so a killed run resumes after the last
 * committed batch and a batch is never half applied; running a batch twice changes nothing.
 *
 * Fast path: the next batch is read from the source (COPY TO, into memory) while the current
 * one is merged, on two connections; the target session runs with `synchronous_commit = off`
 * (a crash loses at most the last batches together with their checkpoint, which is consistent:
 * they are copied again). Throttle: with `maxRowsPerSecond` a batch is written only once the
 * budget allows all its rows (a token bucket keeping at most 100 ms of credit), and a batch
 * holds at most 50 ms of budget.
 */
import { randomUUID } from 'node:crypto';
import { migrateControlPlane } from '@carve/shared-control-plane';
import { MARK_SYNC_APPLY_SQL, quoteIdent } from '@carve/shared-persistence';
import { Client, Pool } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { BackfillSource, CarvableContext } from './context';
import { LoadThrottle, type LoadThrottleOptions, type ThrottleState } from './load-throttle';
import { RowRate } from './row-rate';
import { ident, literal, parseCopyTextLine } from './sql';
import { sleep } from './sleep';
import { isoOrNull as iso } from '@carve/shared-kernel';

export interface BackfillProgress {
  readonly context: string;
  readonly source: string;
  /** Rows of this source copied so far (including earlier runs, when resumed). */
  readonly rowsDone: number;
  /** Rows of this source at the start of this run (count(*)). */
  readonly total: number;
  /** Rows written (inserted or updated) by the merge in this run. */
  readonly rowsWritten: number;
  readonly batches: number;
  /** Rows per second over this run. */
  readonly rate: number;
  /** Estimated time left for this source, in ms (NaN while unknown). */
  readonly etaMs: number;
  readonly elapsedMs: number;
  /** True on the last call for this source. */
  readonly done: boolean;
  /** The load-adaptive throttle's state, when one runs. */
  readonly throttle?: ThrottleState;
}

export interface BackfillOptions {
  readonly context: CarvableContext;
  /** The monolith's database (read). */
  readonly sourceUrl: string;
  /** The service's database (written); it also holds the control plane (schema `carve`) and the checkpoints. */
  readonly targetUrl: string;
  /** Rows per batch (default 10,000). */
  readonly batchSize?: number;
  /** At most this many rows per second (default unlimited). */
  readonly maxRowsPerSecond?: number;
  /**
   * Slow down while the source or the target answers slowly or its replicas lag (see
   * `LoadThrottle`; default off here, on in `carve backfill`). Works with or without
   * `maxRowsPerSecond`, which stays the ceiling.
   */
  readonly throttle?: LoadThrottleOptions;
  /** Forget the checkpoints of this context and copy everything again. */
  readonly restart?: boolean;
  /** Only these sources (default all, in the descriptor's order). */
  readonly sources?: readonly string[];
  /**
   * Only the rows of these workspaces (per-tenant carving): a pass of its own from the start of
   * each source, which neither reads nor writes the checkpoints (the context's backfill keeps
   * them), filtered by each source's tenant (`BackfillSource.tenant`, else its `workspace_id`
   * column).
   */
  readonly workspaces?: readonly string[];
  readonly onProgress?: (p: BackfillProgress) => void;
  readonly signal?: AbortSignal;
  /**
   * Fill the staging table with `INSERT ... SELECT` from the source instead of a COPY round trip
   * (default: when source and target are the same database; the COPY path reads ahead on a
   * second connection and works across databases).
   */
  readonly direct?: boolean;
  /**
   * Test seams: after each committed batch; and inside each batch's transaction just before its
   * COMMIT (`query` runs on that transaction's connection: a statement that fails there aborts
   * the batch as a server error would).
   */
  readonly hooks?: {
    afterBatch?: (info: { source: string; batch: number; rows: number; lastKey: string[] }) => void | Promise<void>;
    beforeCommit?: (info: { source: string; batch: number; attempt: number; query: (sql: string) => Promise<unknown> }) => void | Promise<void>;
  };
}

export interface SourceReport {
  readonly name: string;
  /** Rows copied in this run. */
  readonly rows: number;
  readonly rowsWritten: number;
  readonly batches: number;
  readonly ms: number;
  /** Rows an earlier run had already copied (resumed from its checkpoint), 0 when fresh. */
  readonly resumedAfterRows: number;
  /** Already complete before this run (skipped). */
  readonly skipped: boolean;
  /**
   * Batches rolled back and written again because they ran into a concurrent writer (a deadlock
   * or a serialization failure with forward sync or reverse sync touching the same rows).
   */
  readonly conflictRetries: number;
  /** Time the load-adaptive throttle held this source back, ms (0 without one). */
  readonly throttledMs: number;
  /** The last reason the throttle slowed this source down, if it did. */
  readonly slowedBy: string | null;
}

export interface BackfillReport {
  readonly context: string;
  readonly runId: string;
  readonly sources: SourceReport[];
  readonly rows: number;
  readonly rowsWritten: number;
  readonly ms: number;
  readonly rowsPerSecond: number;
  /** Every source of the context has been copied to its end (in this run or before). */
  readonly complete: boolean;
  /** The tables of the context's schema (all of them) analysed after the run; none when it wrote nothing. */
  readonly analyzed: readonly string[];
}

export interface Checkpoint {
  readonly context: string;
  readonly source: string;
  readonly lastKey: string[] | null;
  readonly rowsDone: number;
  readonly rowsWritten: number;
  readonly batches: number;
  readonly runId: string | null;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

/** Another backfill of the same context is running. */
export class BackfillBusyError extends Error {
  constructor(readonly context: string) {
    super(`a backfill of ${context} is already running`);
    this.name = 'BackfillBusyError';
  }
}

function toCheckpoint(row: any): Checkpoint {
  return {
    context: row.context,
    source: row.source,
    lastKey: row.last_key ?? null,
    rowsDone: Number(row.rows_done),
    rowsWritten: Number(row.rows_written),
    batches: Number(row.batches),
    runId: row.run_id,
    startedAt: iso(row.started_at)!,
    updatedAt: iso(row.updated_at)!,
    finishedAt: iso(row.finished_at),
  };
}

/** The checkpoints of a context (what a run would resume from). */
export async function readCheckpoints(executor: { query: (sql: string, params?: unknown[]) => Promise<{ rows: any[] }> }, context: string): Promise<Checkpoint[]> {
  const r = await executor.query('SELECT * FROM carve.backfill_checkpoints WHERE context = $1 ORDER BY started_at, source', [context]);
  return r.rows.map(toCheckpoint);
}

/** deadlock_detected, serialization_failure: the batch lost a race with a concurrent writer. */
const CONFLICT_CODES = new Set(['40P01', '40001']);
/** Attempts of one batch before a conflict is given up on (and reported). */
const MAX_BATCH_ATTEMPTS = 5;
const isConflict = (err: unknown) => CONFLICT_CODES.has((err as { code?: string })?.code ?? '');

interface Batch {
  readonly buf: Buffer;
  readonly rows: number;
  readonly lastKey: string[] | null;
}

const NL = 0x0a;

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(NL); i !== -1; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}

function lastLine(buf: Buffer): string | null {
  if (buf.length === 0) return null;
  const end = buf[buf.length - 1] === NL ? buf.length - 1 : buf.length;
  const start = buf.lastIndexOf(NL, end - 1) + 1;
  return buf.subarray(start, end).toString('utf8');
}

/** The SQL expression of a source's workspace id, or undefined when it has none. */
export function tenantOf(s: BackfillSource): string | undefined {
  if (s.tenant) return s.tenant;
  const c = s.columns.find((col) => col.name === 'workspace_id');
  return c ? (c.expr ?? c.name) : undefined;
}

/** The conditions every read of a source has: its own `where`, and the workspaces of a scoped run. */
function sourceConds(s: BackfillSource, workspaces: readonly string[] | undefined): string[] {
  const conds: string[] = [];
  if (s.where) conds.push(`(${s.where})`);
  if (workspaces) conds.push(`(${tenantOf(s)})::text = ANY(ARRAY[${workspaces.map((w) => literal(w)).join(', ')}]::text[])`);
  return conds;
}

/** The SELECT a batch reads. */
function selectSql(s: BackfillSource, after: string[] | null, limit: number, workspaces?: readonly string[]): string {
  const colType = new Map(s.columns.map((c) => [c.name, c.type]));
  const exprOf = (name: string) => s.columns.find((c) => c.name === name)!.expr ?? name;
  const keyExprs = s.key.map(exprOf);
  const conds = sourceConds(s, workspaces);
  if (after) conds.push(`(${keyExprs.join(', ')}) > (${after.map((v, i) => `${literal(v)}::${colType.get(s.key[i])}`).join(', ')})`);
  const cols = s.columns.map((c) => `${c.expr ?? c.name} AS ${ident(c.name, 'column')}`).join(', ');
  return `SELECT ${cols} FROM ${s.from}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY ${keyExprs.join(', ')} LIMIT ${Math.floor(limit)}`;
}

async function readBatch(src: Client, s: BackfillSource, after: string[] | null, limit: number, workspaces?: readonly string[]): Promise<Batch> {
  const stream = src.query(copyTo(`COPY (${selectSql(s, after, limit, workspaces)}) TO STDOUT`));
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
  const rows = countLines(buf);
  if (rows === 0) return { buf, rows, lastKey: null };
  const fields = parseCopyTextLine(lastLine(buf)!);
  const lastKey = s.key.map((k) => {
    const v = fields[s.columns.findIndex((c) => c.name === k)];
    if (v === null || v === undefined) throw new Error(`backfill ${s.name}: key column ${k} is null in the source; a key must be unique and not null`);
    return v;
  });
  return { buf, rows, lastKey };
}

async function writeCopy(target: Client, table: string, columns: string, buf: Buffer): Promise<void> {
  const stream = target.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(buf);
  });
}

/** Same server, port, database and user: one database, whatever the other parameters say. */
export function sameDatabase(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.hostname === y.hostname && (x.port || '5432') === (y.port || '5432') && x.pathname === y.pathname && x.username === y.username;
  } catch {
    return a === b;
  }
}

function connect(url: string, name: string): Client {
  const c = new Client({ connectionString: url, application_name: name, connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  return c;
}

/** ANALYZE of every table of `schema` (the statistics after a bulk load); the tables' names. */
async function analyzeSchema(db: Client, schema: string): Promise<string[]> {
  const tables = (await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, [schema])).rows.map((r) => r.tablename as string);
  if (tables.length > 0) await db.query(`ANALYZE ${tables.map((t) => `${quoteIdent(schema)}.${quoteIdent(t)}`).join(', ')}`);
  return tables;
}

export async function runBackfill(opts: BackfillOptions): Promise<BackfillReport> {
  const ctx = opts.context;
  const runId = randomUUID();
  const ceiling = RowRate.of(opts.maxRowsPerSecond);
  const wantedBatch = Math.max(1, Math.floor(opts.batchSize ?? 10_000));
  const batchSize = ceiling ? ceiling.batchSize(wantedBatch) : wantedBatch;
  const wanted = opts.sources ?? ctx.backfill.map((s) => s.name);
  for (const name of wanted) {
    if (!ctx.backfill.some((s) => s.name === name)) throw new Error(`${ctx.name} has no backfill source ${name} (it has ${ctx.backfill.map((s) => s.name).join(', ')})`);
  }
  const sources = ctx.backfill.filter((s) => wanted.includes(s.name));
  const scope = opts.workspaces;
  if (scope) {
    if (scope.length === 0) throw new Error('a backfill of some workspaces needs at least one workspace');
    const blind = sources.filter((s) => tenantOf(s) === undefined).map((s) => s.name);
    if (blind.length) throw new Error(`${ctx.name}: backfill source(s) ${blind.join(', ')} name no workspace (a \`tenant\` expression or a workspace_id column): they cannot be backfilled per workspace`);
  }

  // The control plane's tables (checkpoints) exist before anything else happens.
  const migrator = new Pool({ connectionString: opts.targetUrl, max: 1, application_name: 'carve-backfill-migrate' });
  migrator.on('error', () => undefined); // an idle connection's failure surfaces on the next query
  try {
    await migrateControlPlane(migrator);
  } finally {
    await migrator.end().catch(() => undefined);
  }

  let throttle: LoadThrottle | undefined;
  /** The running source's reaction to a change of the throttle (progress, its report's reason). */
  let onThrottle: ((state: ThrottleState) => void) | undefined;
  const target = connect(opts.targetUrl, `carve-backfill:${ctx.name}`);
  const source = connect(opts.sourceUrl, `carve-backfill-read:${ctx.name}`);
  await target.connect();
  try {
    await source.connect();
    const lock = await target.query(`SELECT pg_try_advisory_lock(hashtext('carve.backfill'), hashtext($1)) AS ok`, [ctx.name]);
    if (lock.rows[0].ok !== true) throw new BackfillBusyError(ctx.name);
    await target.query('SET synchronous_commit = off');
    await target.query(`SET temp_buffers = '128MB'`); // before the first temporary table of this session
    // Read the source as of one moment per batch; never block writers.
    await source.query('SET default_transaction_isolation = \'read committed\'');
    if (opts.restart && !scope) await target.query('DELETE FROM carve.backfill_checkpoints WHERE context = $1', [ctx.name]);
    if (opts.throttle) {
      const dbs: Record<string, string> = sameDatabase(opts.sourceUrl, opts.targetUrl) ? { database: opts.targetUrl } : { source: opts.sourceUrl, target: opts.targetUrl };
      throttle = new LoadThrottle(dbs, opts.throttle, (state) => onThrottle?.(state));
      await throttle.start();
    }

    const t0 = performance.now();
    const reports: SourceReport[] = [];
    for (const s of sources) {
      if (opts.signal?.aborted) break;
      reports.push(await backfillSource(s));
    }
    // A bulk load leaves the planner's statistics behind until autovacuum's ANALYZE comes round
    // (minutes on a busy server): the service's first queries would plan for empty tables.
    const written = reports.reduce((a, r) => a + r.rowsWritten, 0);
    const analyzed = written > 0 && !opts.signal?.aborted ? await analyzeSchema(target, ctx.schema) : [];
    const all = await readCheckpoints(target, ctx.name);
    // A scoped run is complete when it went through every source it had to; the context's by its checkpoints.
    const complete = scope ? !opts.signal?.aborted && reports.length === sources.length : ctx.backfill.every((s) => all.some((c) => c.source === s.name && c.finishedAt !== null));
    const ms = performance.now() - t0;
    const rows = reports.reduce((a, r) => a + r.rows, 0);
    return {
      context: ctx.name,
      runId,
      sources: reports,
      rows,
      rowsWritten: written,
      analyzed,
      ms,
      rowsPerSecond: ms > 0 ? Math.round((rows * 1000) / ms) : 0,
      complete,
    };
  } finally {
    await throttle?.close();
    await source.end().catch(() => undefined);
    await target.end().catch(() => undefined);
  }

  async function backfillSource(s: BackfillSource): Promise<SourceReport> {
    const started = performance.now();
    const cp = scope ? undefined : (await target.query('SELECT * FROM carve.backfill_checkpoints WHERE context = $1 AND source = $2', [ctx.name, s.name])).rows[0];
    const checkpoint = cp ? toCheckpoint(cp) : null;
    if (checkpoint?.finishedAt) {
      return { name: s.name, rows: 0, rowsWritten: 0, batches: 0, ms: 0, resumedAfterRows: checkpoint.rowsDone, skipped: true, conflictRetries: 0, throttledMs: 0, slowedBy: null };
    }
    const staging = `carve_staging_${s.name.replace(/-/g, '_')}`;
    const columns = s.columns.map((c) => c.name).join(', ');
    await target.query(`DROP TABLE IF EXISTS pg_temp.${staging}`);
    await target.query(`CREATE TEMP TABLE ${staging} (${s.columns.map((c) => `${c.name} ${c.type}`).join(', ')}) ON COMMIT DELETE ROWS`);
    const direct = opts.direct ?? sameDatabase(opts.sourceUrl, opts.targetUrl);
    const merge = s.merge(staging).map((m) => (typeof m === 'string' ? { sql: m, counts: false } : { sql: m.sql, counts: m.counts ?? false }));
    const conds = sourceConds(s, scope);
    const countSql = `SELECT count(*)::bigint AS n FROM ${s.from}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`;
    const total = Number((await source.query(countSql)).rows[0].n);
    // CARVE_BACKFILL_TRACE=1: where the time of a source goes (COPY into staging, each merge statement, commit).
    const trace = process.env.CARVE_BACKFILL_TRACE === '1' ? new Array<number>(merge.length + 2).fill(0) : null;

    let after = checkpoint?.lastKey ?? null;
    const resumedAfterRows = checkpoint?.rowsDone ?? 0;
    let rowsDone = resumedAfterRows;
    let conflictRetries = 0;
    let rows = 0;
    let written = 0;
    let batches = 0;
    const report = (done: boolean) => {
      const elapsedMs = performance.now() - started;
      const rate = elapsedMs > 0 ? (rows * 1000) / elapsedMs : 0;
      const left = Math.max(0, total - rowsDone);
      opts.onProgress?.({
        context: ctx.name,
        source: s.name,
        rowsDone,
        total: Math.max(total, rowsDone),
        rowsWritten: written,
        batches,
        rate,
        etaMs: done ? 0 : rate > 0 ? (left * 1000) / rate : Number.NaN,
        elapsedMs,
        done,
        ...(throttle ? { throttle: throttle.state } : {}),
      });
    };
    report(false);
    const throttledBefore = throttle?.state.waitedMs ?? 0;
    let slowedBy: string | null = null;
    onThrottle = (state) => {
      if (state.reason) slowedBy = state.reason;
      report(false);
    };

    const bucket = ceiling ? new RowRate(ceiling.perSecond) : undefined;
    const keyOrder = (dir: 'ASC' | 'DESC') => s.key.map((k) => `${k} ${dir}`).join(', ');
    const empty: Promise<Batch> = Promise.resolve({ buf: Buffer.alloc(0), rows: 0, lastKey: null });
    let next: Promise<Batch> = direct ? empty : readBatch(source, s, after, batchSize, scope);
    for (;;) {
      const batchStarted = performance.now();
      let rateWaitMs = 0;
      let batch = await next;
      let last = batch.rows < batchSize;
      // Read ahead while this batch is merged (the key of the next page is known now).
      if (!direct && !last && !opts.signal?.aborted) next = readBatch(source, s, batch.lastKey, batchSize, scope);
      // The ceiling: a batch is written only once the rate allows all of its rows.
      if (bucket) rateWaitMs = await bucket.take(direct ? batchSize : batch.rows, opts.signal);
      // A batch that deadlocks with a concurrent writer (forward sync applying events to the same
      // rows) is rolled back as a whole, checkpoint included, and written again.
      for (let attempt = 1; ; attempt++) {
        // The backfill writes the monolith's state: the service's write fence lets it pass.
        await target.query(`BEGIN; ${MARK_SYNC_APPLY_SQL}`);
        try {
          let w = 0;
          let t = performance.now();
          if (direct) {
            // Same database: the page goes straight from the source table into staging, no text round trip.
            const r = await target.query(`INSERT INTO ${staging} (${columns}) ${selectSql(s, after, batchSize, scope)}`);
            const n = r.rowCount ?? 0;
            const lastKey = n > 0 ? Object.values((await target.query(`SELECT ${s.key.map((k) => `${k}::text`).join(', ')} FROM ${staging} ORDER BY ${keyOrder('DESC')} LIMIT 1`)).rows[0]).map(String) : null;
            batch = { buf: batch.buf, rows: n, lastKey };
            last = n < batchSize;
          } else if (batch.rows > 0) {
            await writeCopy(target, staging, columns, batch.buf);
          }
          if (trace) trace[0] += performance.now() - t;
          if (batch.rows > 0) {
            for (const [i, m] of merge.entries()) {
              t = performance.now();
              const r = await target.query(m.sql);
              if (trace) trace[i + 1] += performance.now() - t;
              if (m.counts) w += r.rowCount ?? 0;
            }
          }
          const newKey = batch.lastKey ?? after;
          if (!scope) await target.query(
            `INSERT INTO carve.backfill_checkpoints (context, source, last_key, rows_done, rows_written, batches, run_id, started_at, updated_at, finished_at)
                  VALUES ($1, $2, $3, $4, $5, CASE WHEN $8 > 0 THEN 1 ELSE 0 END, $6, now(), now(), CASE WHEN $7 THEN now() END)
             ON CONFLICT (context, source) DO UPDATE SET
                  last_key = EXCLUDED.last_key, rows_done = carve.backfill_checkpoints.rows_done + $8,
                  rows_written = carve.backfill_checkpoints.rows_written + $5, batches = carve.backfill_checkpoints.batches + EXCLUDED.batches,
                  run_id = EXCLUDED.run_id, updated_at = now(), finished_at = EXCLUDED.finished_at`,
            [ctx.name, s.name, newKey ? JSON.stringify(newKey) : null, rowsDone + batch.rows, w, runId, last, batch.rows],
          );
          await opts.hooks?.beforeCommit?.({ source: s.name, batch: batches + 1, attempt, query: (sql) => target.query(sql) });
          const tc = performance.now();
          await target.query('COMMIT');
          if (trace) trace[merge.length + 1] += performance.now() - tc;
          written += w;
          break;
        } catch (err) {
          await target.query('ROLLBACK').catch(() => undefined);
          if (isConflict(err) && attempt < MAX_BATCH_ATTEMPTS && !opts.signal?.aborted) {
            conflictRetries += 1;
            await sleep(25 * attempt + Math.random() * 25, opts.signal);
            continue;
          }
          await next.catch(() => undefined);
          throw err;
        }
      }
      after = batch.lastKey ?? after;
      rows += batch.rows;
      rowsDone += batch.rows;
      if (batch.rows > 0) batches += 1;
      if (batch.lastKey) await opts.hooks?.afterBatch?.({ source: s.name, batch: batches, rows: batch.rows, lastKey: batch.lastKey });
      if (last) {
        report(true);
        break;
      }
      report(false);
      if (opts.signal?.aborted) {
        await next.catch(() => undefined);
        break;
      }
      // The throttle's duty cycle is of the batch's work: the rate limit's own wait is not work.
      await throttle?.afterBatch(performance.now() - batchStarted - rateWaitMs, opts.signal);
    }
    await target.query(`DROP TABLE IF EXISTS pg_temp.${staging}`);
    if (trace) process.stderr.write(`trace ${s.name}${direct ? ' (direct)' : ''}: ${['fill staging', ...merge.map((_, i) => `merge${i + 1}`), 'commit'].map((k, i) => `${k} ${Math.round(trace[i])} ms`).join(', ')}; total ${Math.round(performance.now() - started)} ms\n`);
    onThrottle = undefined;
    const throttledMs = (throttle?.state.waitedMs ?? 0) - throttledBefore;
    return { name: s.name, rows, rowsWritten: written, batches, ms: performance.now() - started, resumedAfterRows, skipped: false, conflictRetries, throttledMs, slowedBy };
  }
}
