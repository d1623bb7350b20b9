/**
 * `carve move`: a schema moved from one Postgres server to another while the app keeps writing
 * to the first, without replication slots (which Heroku Postgres does not give an outside
 * subscriber).
 *
 *   start    the capture triggers on every table of the schema (capture.ts); phase `capturing`;
 *   backfill copies every table, parents first, in keyset batches read from one snapshot of the
 *            source, into the target's (empty) tables; resumable; throttled like the carving
 *            backfill (a ceiling in rows per second, and the load-adaptive throttle probing both
 *            servers, load-throttle.ts); phase `copying`, then `copied`;
 *   apply    the captured changes, oldest first: each names a row; its state is read from the
 *            source and written to the target (or deleted there), so the target converges on the
 *            source whatever the grouping; `--follow` keeps doing so;
 *   status   phase, copy progress, the changes not applied yet and the age of the oldest (the lag);
 *   verify   row digests table by table on both sides (no drift is the gate);
 *   stop     the triggers and carve_move removed from the source (the target keeps what it has).
 *
 * Rows whose parents (foreign keys into the same schema) are not on the target yet wait: the copy
 * turns them into changes, which the apply writes once their parents are there. Every write to
 * the target is marked as a sync apply, so the write fence of a carved context lets it pass.
 * Every step is audited in `carve_move.audit` and refused, with the step to take, when the move
 * is not at the phase it needs.
 */
import { MARK_SYNC_APPLY_SQL } from '@carve/shared-persistence';
import type { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { CarvingError } from '../carving';
import { LoadThrottle, type LoadThrottleOptions, type ThrottleState } from '../load-throttle';
import { RowRate } from '../row-rate';
import { literal, parseCopyTextLine } from '../sql';
import { captureTriggersSql, CAPTURE_SQL_V1, dropCaptureTriggersSql, keyExpr, type MovePhase, type MoveState, readMoveState, recordAudit, setPhase } from './capture';
import { MOVE_SCHEMA, parentsFirst, parentsPresent, qi, readCatalog, type TableInfo, upsertSql } from './catalog';
import { blockersOf, connectTo, SAME_TEXT_SQL, sameShape, serverOf, strayRows, tableDigest, tablesOfOtherShape } from './plan';

export interface MoveTarget {
  readonly fromUrl: string;
  readonly toUrl: string;
  readonly schema: string;
  /** Who runs it (the audit). */
  readonly actor?: string;
}

export class MoveError extends CarvingError {
  constructor(message: string, hint: string, code = 'move_refused') {
    super(message, hint, code);
    this.name = 'MoveError';
  }
}

const actorOf = (t: MoveTarget) => t.actor ?? 'carve move';

async function withBoth<T>(t: MoveTarget, name: string, fn: (src: Client, dst: Client) => Promise<T>): Promise<T> {
  const src = connectTo(t.fromUrl, `carve-move-${name}`);
  const dst = connectTo(t.toUrl, `carve-move-${name}`);
  await src.connect();
  try {
    await dst.connect();
    return await fn(src, dst);
  } finally {
    await src.end().catch(() => undefined);
    await dst.end().catch(() => undefined);
  }
}

/** The move's state, refused unless it is at one of `phases`. */
async function expectPhase(src: Client, t: MoveTarget, phases: readonly MovePhase[], next: string): Promise<MoveState> {
  const state = await readMoveState(src, t.schema);
  if (!state) throw new MoveError(`no move of ${t.schema} has started on ${serverOf(t.fromUrl)}`, `start it: \`carve move start --from <url> --to <url> --schema ${t.schema}\``, 'no_move');
  if (state.target !== serverOf(t.toUrl)) {
    throw new MoveError(`the move of ${t.schema} goes to ${state.target}, not ${serverOf(t.toUrl)}`, `use --to for ${state.target}, or \`carve move stop\` and start again`, 'other_target');
  }
  if (!phases.includes(state.phase)) throw new MoveError(`the move of ${t.schema} is ${state.phase}`, next, 'out_of_order');
  return state;
}

/** Installs the capture on the source (refused while the plan has blockers); phase `capturing`. */
export async function startMove(t: MoveTarget): Promise<MoveState> {
  return withBoth(t, 'start', async (src, dst) => {
    const existing = await readMoveState(src, t.schema);
    if (existing && existing.phase !== 'stopped') {
      throw new MoveError(`a move of ${t.schema} to ${existing.target} is already ${existing.phase}`, `go on with it (\`carve move status --schema ${t.schema}\`), or \`carve move stop\` it first`, 'already_started');
    }
    const [a, b] = [await readCatalog(src, t.schema), await readCatalog(dst, t.schema)];
    const comparable = a.tables.filter((x) => b.tables.some((y) => y.name === x.name && sameShape(x, y)));
    const blockers = blockersOf(a, b, await strayRows(src, dst, t.schema, comparable));
    if (blockers.length) throw new MoveError(`the move of ${t.schema} is blocked: ${blockers.map((x) => x.message).join('; ')}`, blockers[0].next, blockers[0].code);
    await src.query('BEGIN');
    try {
      await src.query(CAPTURE_SQL_V1);
      for (const tb of a.tables) await src.query(captureTriggersSql(t.schema, tb));
      await src.query(`DELETE FROM ${MOVE_SCHEMA}.copy_progress WHERE schema = $1`, [t.schema]);
      await src.query(`DELETE FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema]);
      await src.query(
        `INSERT INTO ${MOVE_SCHEMA}.moves (schema, target, phase) VALUES ($1, $2, 'capturing')
         ON CONFLICT (schema) DO UPDATE SET target = EXCLUDED.target, phase = 'capturing', started_at = now(), updated_at = now(), applied_at = NULL`,
        [t.schema, serverOf(t.toUrl)],
      );
      await recordAudit(src, t.schema, { actor: actorOf(t), action: 'move.start', detail: { target: serverOf(t.toUrl), tables: a.tables.map((x) => x.name) } });
      await src.query('COMMIT');
    } catch (err) {
      await src.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return (await readMoveState(src, t.schema))!;
  });
}

export interface CopyProgress {
  readonly table: string;
  readonly rowsDone: number;
  readonly total: number;
  readonly done: boolean;
  /** The load-adaptive throttle's state, when one runs. */
  readonly throttle?: ThrottleState;
}

export interface CopyReport {
  readonly tables: ReadonlyArray<{ readonly name: string; readonly rows: number; readonly waiting: number; readonly skipped: boolean }>;
  readonly rows: number;
  readonly ms: number;
  /** Time the load-adaptive throttle held the copy back, ms (0 without one). */
  readonly throttledMs: number;
  /** The last reason the throttle slowed the copy down, if it did. */
  readonly slowedBy: string | null;
}

export interface CopyOptions {
  /** Rows per batch (default 10,000; fewer under `maxRowsPerSecond`: 50 ms of its budget). */
  readonly batchSize?: number;
  /** A fixed ceiling on the rows written per second; the load throttle still slows below it. */
  readonly maxRowsPerSecond?: number;
  /** Slow down while the source or the target answers slowly or its replicas lag (load-throttle.ts); none: never. */
  readonly throttle?: LoadThrottleOptions;
  readonly onProgress?: (p: CopyProgress) => void;
  readonly signal?: AbortSignal;
}

/** Keyset page after `after` (text values of the key), in key order. */
function pageSql(schema: string, tb: TableInfo, after: string[] | null, limit: number): string {
  const type = new Map(tb.columns.map((c) => [c.name, c.type]));
  const pk = tb.primaryKey!.map(qi);
  const where = after ? ` WHERE (${pk.join(', ')}) > (${after.map((v, i) => `${literal(v)}::${type.get(tb.primaryKey![i])}`).join(', ')})` : '';
  return `SELECT ${tb.columns.map((c) => qi(c.name)).join(', ')} FROM ${qi(schema)}.${qi(tb.name)}${where} ORDER BY ${pk.join(', ')} LIMIT ${Math.floor(limit)}`;
}

async function copyOut(src: Client, sql: string): Promise<Buffer> {
  const stream = src.query(copyTo(`COPY (${sql}) TO STDOUT`));
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  return Buffer.concat(chunks);
}

async function copyIn(dst: Client, table: string, cols: string, buf: Buffer): Promise<void> {
  const stream = dst.query(copyFrom(`COPY ${table} (${cols}) FROM STDIN`));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(buf);
  });
}

/**
 * Copies every table (parents first) from one snapshot of the source; resumes after the last
 * committed batch of each table. Rows whose parents are not on the target yet become changes.
 */
export async function copyMove(t: MoveTarget, opts: CopyOptions = {}): Promise<CopyReport> {
  const rate = RowRate.of(opts.maxRowsPerSecond);
  const wantedBatch = Math.max(1, Math.floor(opts.batchSize ?? 10_000));
  const batchSize = rate ? rate.batchSize(wantedBatch) : wantedBatch;
  const t0 = performance.now();
  return withBoth(t, 'copy', async (srcW, dst) => {
    await expectPhase(srcW, t, ['capturing', 'copying'], `the copy is done: \`carve move apply --schema ${t.schema}\``);
    const lock = await srcW.query(`SELECT pg_try_advisory_lock(hashtext('carve.move'), hashtext($1)) AS ok`, [t.schema]);
    if (lock.rows[0].ok !== true) throw new MoveError(`another step of the move of ${t.schema} is running`, 'wait for it to finish', 'busy');
    await setPhase(srcW, t.schema, 'copying', { actor: actorOf(t), action: 'move.copy.start' });
    const src = connectTo(t.fromUrl, 'carve-move-copy-read');
    await src.connect();
    const report: Array<{ name: string; rows: number; waiting: number; skipped: boolean }> = [];
    let progress: CopyProgress | undefined;
    const tell = (p: CopyProgress) => {
      progress = p;
      opts.onProgress?.(throttle ? { ...p, throttle: throttle.state } : p);
    };
    let slowedBy: string | null = null;
    const throttle = opts.throttle
      ? new LoadThrottle({ source: t.fromUrl, target: t.toUrl }, opts.throttle, (state) => {
          if (state.reason) slowedBy = state.reason;
          if (progress) tell(progress);
        })
      : undefined;
    try {
      await throttle?.start();
      // One snapshot for every table: a child never names a parent the copy did not see.
      await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const tables = parentsFirst((await readCatalog(src, t.schema)).tables);
      const checkpoints = new Map((await srcW.query(`SELECT * FROM ${MOVE_SCHEMA}.copy_progress WHERE schema = $1`, [t.schema])).rows.map((r) => [r.tbl as string, r]));
      for (const tb of tables) {
        if (opts.signal?.aborted) break;
        const cp = checkpoints.get(tb.name);
        if (cp?.finished_at) {
          report.push({ name: tb.name, rows: 0, waiting: 0, skipped: true });
          continue;
        }
        const total = Number((await src.query(`SELECT count(*)::bigint AS n FROM ${qi(t.schema)}.${qi(tb.name)}`)).rows[0].n);
        let after: string[] | null = cp?.last_key ?? null;
        let done = Number(cp?.rows ?? 0);
        let rows = 0;
        let waiting = 0;
        const cols = tb.columns.map((c) => qi(c.name)).join(', ');
        await dst.query('DROP TABLE IF EXISTS pg_temp.carve_move_staging');
        await dst.query(`CREATE TEMP TABLE carve_move_staging (${tb.columns.map((c) => `${qi(c.name)} ${c.type}`).join(', ')}) ON COMMIT DELETE ROWS`);
        tell({ table: tb.name, rowsDone: done, total, done: false });
        for (;;) {
          const batchStarted = performance.now();
          const buf = await copyOut(src, pageSql(t.schema, tb, after, batchSize));
          const lines = buf.length ? buf.toString('utf8').split('\n').filter((l) => l.length) : [];
          const n = lines.length;
          let lastKey: string[] | null = null;
          if (n > 0) {
            const fields = parseCopyTextLine(lines[n - 1]);
            lastKey = tb.primaryKey!.map((k) => fields[tb.columns.findIndex((c) => c.name === k)] as string);
          }
          const last = n < batchSize;
          // The ceiling: a batch is written only once the rate allows all of its rows.
          const rateWaitMs = rate ? await rate.take(n, opts.signal) : 0;
          await dst.query(`BEGIN; ${MARK_SYNC_APPLY_SQL}`);
          try {
            if (n > 0) {
              await copyIn(dst, 'carve_move_staging', cols, buf);
              await dst.query(upsertSql(t.schema, tb, 'carve_move_staging', parentsPresent(t.schema, tb, 's')));
              // Rows whose parents are not there yet: changes, applied once they are.
              const late = await dst.query(`SELECT ${keyExpr(tb, 's')} AS k FROM carve_move_staging s WHERE NOT (${parentsPresent(t.schema, tb, 's')})`);
              if (late.rowCount) {
                await srcW.query(`INSERT INTO ${MOVE_SCHEMA}.changes (sch, tbl, pk) SELECT $1, $2, k FROM jsonb_array_elements($3::jsonb) AS k`, [t.schema, tb.name, JSON.stringify(late.rows.map((r) => r.k))]);
                waiting += late.rowCount;
              }
            }
            await dst.query('COMMIT');
          } catch (err) {
            await dst.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
          after = lastKey ?? after;
          rows += n;
          done += n;
          await srcW.query(
            `INSERT INTO ${MOVE_SCHEMA}.copy_progress (schema, tbl, last_key, rows, finished_at) VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END)
             ON CONFLICT (schema, tbl) DO UPDATE SET last_key = EXCLUDED.last_key, rows = EXCLUDED.rows, finished_at = EXCLUDED.finished_at`,
            [t.schema, tb.name, after ? JSON.stringify(after) : null, done, last],
          );
          tell({ table: tb.name, rowsDone: done, total: Math.max(total, done), done: last });
          if (last || opts.signal?.aborted) break;
          // The throttle's duty cycle is of the batch's work: the ceiling's own wait is not work.
          await throttle?.afterBatch(performance.now() - batchStarted - rateWaitMs, opts.signal);
        }
        report.push({ name: tb.name, rows, waiting, skipped: false });
      }
      await src.query('COMMIT');
      const unfinished = Number((await srcW.query(`SELECT count(*)::int AS n FROM unnest($2::text[]) AS x(tbl) WHERE NOT EXISTS (SELECT 1 FROM ${MOVE_SCHEMA}.copy_progress p WHERE p.schema = $1 AND p.tbl = x.tbl AND p.finished_at IS NOT NULL)`, [t.schema, tables.map((x) => x.name)])).rows[0].n);
      const rows = report.reduce((a, r) => a + r.rows, 0);
      if (unfinished === 0) await setPhase(srcW, t.schema, 'copied', { actor: actorOf(t), action: 'move.copy.done', detail: { rows } });
      return { tables: report, rows, ms: performance.now() - t0, throttledMs: throttle?.state.waitedMs ?? 0, slowedBy };
    } finally {
      await throttle?.close();
      await src.end().catch(() => undefined);
      await srcW.query(`SELECT pg_advisory_unlock(hashtext('carve.move'), hashtext($1))`, [t.schema]).catch(() => undefined);
    }
  });
}

export interface ApplyReport {
  /** Changes taken from carve_move.changes and applied. */
  readonly changes: number;
  readonly upserted: number;
  readonly deleted: number;
  /** Rows whose parents are not on the target yet (their changes stay for the next pass). */
  readonly waiting: number;
}

/** One pass over up to `limit` captured changes (oldest first). */
export async function applyPass(src: Client, srcRead: Client, dst: Client, schema: string, tables: readonly TableInfo[], limit = 5000): Promise<ApplyReport> {
  const changes = (await src.query(`SELECT id, tbl, pk FROM ${MOVE_SCHEMA}.changes WHERE sch = $1 ORDER BY id LIMIT $2`, [schema, limit])).rows as Array<{ id: string; tbl: string; pk: Record<string, unknown> }>;
  if (changes.length === 0) return { changes: 0, upserted: 0, deleted: 0, waiting: 0 };
  const keysOf = new Map<string, Map<string, Record<string, unknown>>>();
  for (const c of changes) {
    const m = keysOf.get(c.tbl) ?? new Map();
    m.set(JSON.stringify(c.pk), c.pk);
    keysOf.set(c.tbl, m);
  }
  const ordered = parentsFirst(tables).filter((t) => keysOf.has(t.name));
  // The rows' state now, from one snapshot (so a child and its parent agree).
  const now = new Map<string, Array<{ k: Record<string, unknown>; row: Record<string, unknown> }>>();
  await srcRead.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const t of ordered) {
      const pk = t.primaryKey!.map(qi).join(', ');
      const keys = [...keysOf.get(t.name)!.values()];
      const r = await srcRead.query(
        `SELECT ${keyExpr(t, 't')} AS k, to_jsonb(t) AS row FROM ${qi(schema)}.${qi(t.name)} t
          WHERE (${t.primaryKey!.map((c) => `t.${qi(c)}`).join(', ')}) IN (SELECT ${pk} FROM jsonb_populate_recordset(NULL::${qi(schema)}.${qi(t.name)}, $1::jsonb))`,
        [JSON.stringify(keys)],
      );
      now.set(t.name, r.rows);
    }
    await srcRead.query('COMMIT');
  } catch (err) {
    await srcRead.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  const write = async (deletesFirst: boolean) => {
    let upserted = 0;
    let deleted = 0;
    const placed = new Set<string>();
    const upserts = async () => {
      for (const t of ordered) {
        const rows = now.get(t.name)!;
        if (!rows.length) continue;
        const from = `jsonb_populate_recordset(NULL::${qi(schema)}.${qi(t.name)}, $1::jsonb)`;
        const r = await dst.query(`${upsertSql(schema, t, from, parentsPresent(schema, t, 's'))} RETURNING ${keyExpr(t)} AS k`, [JSON.stringify(rows.map((x) => x.row))]);
        upserted += r.rowCount ?? 0;
        for (const x of r.rows) placed.add(`${t.name}\u0000${JSON.stringify(x.k)}`);
      }
    };
    const deletes = async () => {
      for (const t of [...ordered].reverse()) {
        const present = new Set(now.get(t.name)!.map((x) => JSON.stringify(x.k)));
        const gone = [...keysOf.get(t.name)!.entries()].filter(([s]) => !present.has(s)).map(([, k]) => k);
        if (!gone.length) continue;
        const pk = t.primaryKey!.map(qi).join(', ');
        const r = await dst.query(
          `DELETE FROM ${qi(schema)}.${qi(t.name)} WHERE (${pk}) IN (SELECT ${pk} FROM jsonb_populate_recordset(NULL::${qi(schema)}.${qi(t.name)}, $1::jsonb)) RETURNING ${keyExpr(t)} AS k`,
          [JSON.stringify(gone)],
        );
        deleted += r.rowCount ?? 0;
        for (const [s] of keysOf.get(t.name)!.entries()) if (!present.has(s)) placed.add(`${t.name}\u0000${s}`);
      }
    };
    await dst.query(`BEGIN; ${MARK_SYNC_APPLY_SQL}`);
    try {
      if (deletesFirst) {
        await deletes();
        await upserts();
      } else {
        await upserts();
        await deletes();
      }
      await dst.query('COMMIT');
    } catch (err) {
      await dst.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return { upserted, deleted, placed };
  };
  let result: Awaited<ReturnType<typeof write>>;
  try {
    // Upserts first: a child re-pointed away from a deleted parent is moved before the parent goes.
    result = await write(false);
  } catch (err) {
    // A unique value that moved from a deleted row to a new one: the deletes go first.
    if ((err as { code?: string }).code !== '23505') throw err;
    result = await write(true);
  }
  // Changes of rows written (or gone) are done; those whose parents are missing stay.
  const doneIds = changes.filter((c) => result.placed.has(`${c.tbl}\u0000${JSON.stringify(c.pk)}`)).map((c) => c.id);
  await src.query(`DELETE FROM ${MOVE_SCHEMA}.changes WHERE id = ANY($1::bigint[])`, [doneIds]);
  await src.query(`UPDATE ${MOVE_SCHEMA}.moves SET applied_at = now() WHERE schema = $1`, [schema]);
  return { changes: doneIds.length, upserted: result.upserted, deleted: result.deleted, waiting: changes.length - doneIds.length };
}

/**
 * Applies captured changes: those captured before the run started (new ones that come meanwhile
 * go too, oldest first, as far as the passes reach), or, with `follow`, until `signal` aborts,
 * waiting `idleMs` between empty passes. Needs the copy to be complete.
 */
export async function applyMove(
  t: MoveTarget,
  opts: { follow?: boolean; signal?: AbortSignal; idleMs?: number; limit?: number; onPass?: (r: ApplyReport, backlog: number) => void } = {},
): Promise<ApplyReport> {
  return withBoth(t, 'apply', async (src, dst) => {
    await expectPhase(src, t, ['copied'], `copy first: \`carve move backfill --schema ${t.schema}\``);
    const lock = await src.query(`SELECT pg_try_advisory_lock(hashtext('carve.move.apply'), hashtext($1)) AS ok`, [t.schema]);
    if (lock.rows[0].ok !== true) throw new MoveError(`the changes of ${t.schema} are being applied by another process`, 'let it run, or stop it first', 'busy');
    const srcRead = connectTo(t.fromUrl, 'carve-move-apply-read');
    await srcRead.connect();
    const total = { changes: 0, upserted: 0, deleted: 0, waiting: 0 };
    try {
      const tables = (await readCatalog(src, t.schema)).tables;
      const differs = tablesOfOtherShape(tables, (await readCatalog(dst, t.schema)).tables);
      if (differs.length) {
        throw new MoveError(`${t.schema} is not the same shape on both sides: ${differs.join(', ')}`, 'run the same migrations on the target as on the source, then apply again', 'shape_differs');
      }
      // Without --follow, the run ends once the changes captured before it started are applied
      // (the app may keep writing: a run must not chase it for ever).
      const upTo = Number((await src.query(`SELECT coalesce(max(id), 0)::bigint AS id FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema])).rows[0].id);
      let stuck = 0;
      for (;;) {
        if (opts.signal?.aborted) break;
        const r = await applyPass(src, srcRead, dst, t.schema, tables, opts.limit);
        total.changes += r.changes;
        total.upserted += r.upserted;
        total.deleted += r.deleted;
        total.waiting = r.waiting;
        const left = (await src.query(`SELECT count(*)::bigint AS n, count(*) FILTER (WHERE id <= $2)::bigint AS old FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema, upTo])).rows[0];
        const backlog = Number(left.n);
        opts.onPass?.(r, backlog);
        // Nothing more to do now: every change applied, or only rows waiting for parents that do not come.
        stuck = r.changes === 0 ? stuck + 1 : 0;
        if (!opts.follow && (Number(left.old) === 0 || stuck >= 3)) break;
        if (r.changes === 0) await new Promise<void>((res) => {
          const timer = setTimeout(res, opts.idleMs ?? 200);
          opts.signal?.addEventListener('abort', () => (clearTimeout(timer), res()), { once: true });
        });
      }
      await recordAudit(src, t.schema, { actor: actorOf(t), action: 'move.apply', detail: total });
      return total;
    } finally {
      await srcRead.end().catch(() => undefined);
      await src.query(`SELECT pg_advisory_unlock(hashtext('carve.move.apply'), hashtext($1))`, [t.schema]).catch(() => undefined);
    }
  });
}

export interface MoveStatus {
  readonly state: MoveState | null;
  readonly tables: ReadonlyArray<{ readonly name: string; readonly rowsCopied: number; readonly finished: boolean }>;
  /** Changes captured and not applied yet. */
  readonly backlog: number;
  /** Age of the oldest of them, ms (0 when none): the target's lag behind the source. */
  readonly lagMs: number;
}

export async function moveStatus(t: Pick<MoveTarget, 'fromUrl' | 'schema'>): Promise<MoveStatus> {
  const src = connectTo(t.fromUrl, 'carve-move-status');
  await src.connect();
  try {
    const state = await readMoveState(src, t.schema);
    if (!state) return { state, tables: [], backlog: 0, lagMs: 0 };
    const tables = (await src.query(`SELECT tbl, rows, finished_at FROM ${MOVE_SCHEMA}.copy_progress WHERE schema = $1 ORDER BY tbl`, [t.schema])).rows.map((r) => ({ name: r.tbl, rowsCopied: Number(r.rows), finished: r.finished_at !== null }));
    const b = (await src.query(`SELECT count(*)::bigint AS n, (EXTRACT(EPOCH FROM clock_timestamp() - min(at)) * 1000)::float8 AS lag FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema])).rows[0];
    return { state, tables, backlog: Number(b.n), lagMs: b.lag === null ? 0 : Math.round(Number(b.lag)) };
  } finally {
    await src.end().catch(() => undefined);
  }
}

export interface MoveVerifyResult {
  readonly ok: boolean;
  readonly tables: ReadonlyArray<{ readonly name: string; readonly sourceRows: number; readonly targetRows: number; readonly equal: boolean }>;
  /** Changes captured and not applied when verify ran: drift then may only be lag. */
  readonly backlog: number;
}

/** A digest of every row (as JSON, in key order) of each table, compared between the sides. */
export async function verifyMove(t: MoveTarget): Promise<MoveVerifyResult> {
  return withBoth(t, 'verify', async (src, dst) => {
    await expectPhase(src, t, ['copied'], `copy first: \`carve move backfill --schema ${t.schema}\``);
    // The same text for the same value on both servers, whatever their settings.
    for (const c of [src, dst]) await c.query(SAME_TEXT_SQL);
    const tables = parentsFirst((await readCatalog(src, t.schema)).tables);
    const out: Array<{ name: string; sourceRows: number; targetRows: number; equal: boolean }> = [];
    for (const tb of tables) {
      const [a, b] = [await tableDigest(src, t.schema, tb), await tableDigest(dst, t.schema, tb)];
      out.push({ name: tb.name, sourceRows: Number(a.n), targetRows: Number(b.n), equal: a.d === b.d && a.n === b.n });
    }
    const backlog = Number((await src.query(`SELECT count(*)::bigint AS n FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema])).rows[0].n);
    await recordAudit(src, t.schema, { actor: actorOf(t), action: 'move.verify', detail: { ok: out.every((x) => x.equal), backlog, drifted: out.filter((x) => !x.equal).map((x) => x.name) } });
    return { ok: out.every((x) => x.equal), tables: out, backlog };
  });
}

/**
 * Ends a move. Before a switch: the capture leaves the source (the target keeps what it has).
 * After a switch (the end of the rollback window): the reverse capture leaves the target too,
 * which needs `toUrl`; the move is then `finished`, its pointer still names the target and the
 * source stays fenced.
 */
export async function stopMove(t: Pick<MoveTarget, 'fromUrl' | 'schema' | 'actor'> & { toUrl?: string }): Promise<MovePhase> {
  const src = connectTo(t.fromUrl, 'carve-move-stop');
  await src.connect();
  try {
    const state = await readMoveState(src, t.schema);
    if (!state) throw new MoveError(`no move of ${t.schema} on ${serverOf(t.fromUrl)}`, 'nothing to stop', 'no_move');
    const tables = (await readCatalog(src, t.schema)).tables.map((x) => x.name);
    const switched = state.phase === 'switched';
    if (switched) {
      if (!t.toUrl) {
        throw new MoveError(`the move of ${t.schema} switched to ${state.target}: stopping it ends the rollback window and removes the reverse capture there`, 'pass --to with the target\'s URL', 'needs_target');
      }
      if (serverOf(t.toUrl) !== state.target) throw new MoveError(`the move of ${t.schema} went to ${state.target}, not ${serverOf(t.toUrl)}`, `use --to for ${state.target}`, 'other_target');
      const dst = connectTo(t.toUrl, 'carve-move-stop');
      await dst.connect();
      try {
        await dst.query('BEGIN');
        try {
          await dst.query(dropCaptureTriggersSql(t.schema, tables));
          await dst.query(`DELETE FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema]);
          await setPhase(dst, t.schema, 'finished', { actor: t.actor ?? 'carve move', action: 'move.stop' });
          await dst.query('COMMIT');
        } catch (err) {
          await dst.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      } finally {
        await dst.end().catch(() => undefined);
      }
    }
    const phase: MovePhase = switched ? 'finished' : 'stopped';
    await src.query('BEGIN');
    try {
      await src.query(dropCaptureTriggersSql(t.schema, tables));
      await src.query(`DELETE FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema]);
      await src.query(`DELETE FROM ${MOVE_SCHEMA}.copy_progress WHERE schema = $1`, [t.schema]);
      await setPhase(src, t.schema, phase, { actor: t.actor ?? 'carve move', action: 'move.stop' });
      await src.query('COMMIT');
    } catch (err) {
      await src.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return phase;
  } finally {
    await src.end().catch(() => undefined);
  }
}
