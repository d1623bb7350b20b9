/**
 * The switch of `carve move`, and its lossless rollback.
 *
 *   switch    fence the source (every write to the schema's tables refused with SQLSTATE CV503,
 *             which the app answers 503 write_fenced + Retry-After; a sync apply passes), drain
 *             the captured changes, set the target's sequences to the source's values, compare
 *             the rows the drain wrote on both sides (or every row: `verify: 'full'`), capture
 *             changes on the target (the reverse capture, for the rollback),
 *             then record the switch on both sides: the pointer (`readMovePointer`) now names
 *             the target. The source stays fenced, so an app replica still on it writes nothing
 *             there until it follows the pointer or restarts with the target's URL.
 *   rollback  the same handover backwards while the reverse capture runs: fence the target, drain
 *             its changes into the source, sequences, verify, lift the source's fence. The
 *             source's capture keeps running, so the move can go on (apply, switch again).
 *
 * The fence is a statement trigger in the database that is written to, so it holds whatever the
 * path of a write (the app, a cron job's SQL, psql). Creating it waits for the transactions that
 * are writing those tables: once it has committed, the set of writes on that side is final.
 */
import type { Client } from 'pg';
import { CAPTURE_SQL_V1, captureTriggersSql, dropCaptureTriggersSql, keyExpr, readMoveState, recordAudit, setPhase } from './capture';
import { MOVE_SCHEMA, parentsFirst, qi, readCatalog, type TableInfo } from './catalog';
import { connectTo, SAME_TEXT_SQL, serverOf, tableDigest, tablesOfOtherShape } from './plan';
import { applyPass, MoveError, type MoveTarget } from './move';

/**
 * The fence of a move (idempotent). A sync apply (`carve.sync_apply` on) passes. Its SQLSTATE and
 * HINT are what @carve/shared-http answers with 503 write_fenced ("the database is moving").
 */
export const MOVE_FENCE_SQL_V1 = `
CREATE SCHEMA IF NOT EXISTS ${MOVE_SCHEMA};
CREATE OR REPLACE FUNCTION ${MOVE_SCHEMA}.fenced() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF current_setting('carve.sync_apply', true) = 'on' THEN RETURN NULL; END IF;
  RAISE EXCEPTION 'writes to %.% are fenced: carve move is switching this database', TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'CV503', HINT = 'carve move';
END
$fn$;
`;

const FENCE_TRIGGER = 'carve_move_fence';

function fenceSql(schema: string, tables: readonly TableInfo[]): string {
  return tables
    .map((t) => `DROP TRIGGER IF EXISTS ${FENCE_TRIGGER} ON ${qi(schema)}.${qi(t.name)};
CREATE TRIGGER ${FENCE_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON ${qi(schema)}.${qi(t.name)} FOR EACH STATEMENT EXECUTE FUNCTION ${MOVE_SCHEMA}.fenced();`)
    .join('\n');
}

const unfenceSql = (schema: string, tables: readonly TableInfo[]) => tables.map((t) => `DROP TRIGGER IF EXISTS ${FENCE_TRIGGER} ON ${qi(schema)}.${qi(t.name)};`).join('\n');

/**
 * Fences `tables` in one transaction. Taking the tables' locks waits for their writers; a
 * deadlock with one of them, or a writer that holds its transaction open past `lockTimeoutMs`,
 * rolls the attempt back (nothing fenced) and it is tried again, up to `attempts` times.
 */
async function fence(db: Client, schema: string, tables: readonly TableInfo[], lockTimeoutMs: number, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    await db.query('BEGIN');
    try {
      await db.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
      await db.query(MOVE_FENCE_SQL_V1);
      await db.query(fenceSql(schema, tables));
      await db.query('COMMIT');
      return;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => undefined);
      const code = (err as { code?: string }).code;
      if (i < attempts && (code === '40P01' || code === '55P03')) continue;
      throw err;
    }
  }
}

/**
 * Applies `from`'s captured changes to `to` until none are left; returns how many, and the keys
 * of the rows they named (per table) for the check that follows.
 */
async function drain(from: Client, fromRead: Client, to: Client, schema: string, tables: readonly TableInfo[]): Promise<{ n: number; touched: Map<string, Set<string>> }> {
  let n = 0;
  const touched = new Map<string, Set<string>>();
  for (let stuck = 0; stuck < 3; ) {
    // What the pass takes: the same oldest changes.
    for (const c of (await from.query(`SELECT tbl, pk::text AS k FROM ${MOVE_SCHEMA}.changes WHERE sch = $1 ORDER BY id LIMIT 5000`, [schema])).rows) {
      const set = touched.get(c.tbl) ?? new Set<string>();
      set.add(c.k);
      touched.set(c.tbl, set);
    }
    const r = await applyPass(from, fromRead, to, schema, tables, 5000);
    n += r.changes;
    const left = Number((await from.query(`SELECT count(*)::bigint AS n FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [schema])).rows[0].n);
    if (left === 0) return { n, touched };
    stuck = r.changes === 0 ? stuck + 1 : 0;
  }
  throw new MoveError(`changes of ${schema} are left that cannot be applied (rows whose parents are missing on the other side)`, '`carve move verify` names the tables; the fence is lifted again', 'drain_stuck');
}

/** Sets each sequence of `to` to `from`'s value, so that new keys on `to` come after every key `from` handed out. */
async function copySequences(from: Client, to: Client, schema: string): Promise<Array<{ name: string; value: number }>> {
  const seqs = (await from.query(`SELECT sequencename AS name, last_value FROM pg_sequences WHERE schemaname = $1 AND last_value IS NOT NULL`, [schema])).rows;
  const out: Array<{ name: string; value: number }> = [];
  for (const s of seqs) {
    await to.query(`SELECT setval($1::regclass, $2, true)`, [`${qi(schema)}.${qi(s.name)}`, s.last_value]);
    out.push({ name: s.name, value: Number(s.last_value) });
  }
  return out;
}

/**
 * The rows the drain wrote, compared on both sides (their digests by key): the check inside the
 * fence. It costs what the drain did, not what the tables hold; with the target verified before
 * the switch and every change since captured and drained, the tables are then equal.
 */
async function driftedRows(a: Client, b: Client, schema: string, tables: readonly TableInfo[], touched: ReadonlyMap<string, ReadonlySet<string>>): Promise<string[]> {
  for (const c of [a, b]) await c.query(SAME_TEXT_SQL);
  const out: string[] = [];
  for (const tb of tables) {
    const keys = [...(touched.get(tb.name) ?? [])].map((k) => JSON.parse(k) as Record<string, unknown>);
    if (keys.length === 0) continue;
    // By the primary key's index: the keys as rows of the table's type.
    const pk = tb.primaryKey!.map(qi).join(', ');
    const sql = `SELECT ${keyExpr(tb, 't')}::text AS k, md5(to_jsonb(t)::text) AS d FROM ${qi(schema)}.${qi(tb.name)} t
      WHERE (${tb.primaryKey!.map((c) => `t.${qi(c)}`).join(', ')}) IN (SELECT ${pk} FROM jsonb_populate_recordset(NULL::${qi(schema)}.${qi(tb.name)}, $1::jsonb))`;
    const digests = async (c: Client) => new Map((await c.query(sql, [JSON.stringify(keys)])).rows.map((r) => [r.k as string, r.d as string]));
    const [x, y] = [await digests(a), await digests(b)];
    if (x.size !== y.size || [...x].some(([k, d]) => y.get(k) !== d)) out.push(tb.name);
  }
  return out;
}

/** Row digests of every table on both sides; the names of those that differ. */
async function drifted(a: Client, b: Client, schema: string, tables: readonly TableInfo[]): Promise<string[]> {
  for (const c of [a, b]) await c.query(SAME_TEXT_SQL);
  const out: string[] = [];
  for (const tb of tables) {
    const [x, y] = [await tableDigest(a, schema, tb), await tableDigest(b, schema, tb)];
    if (x.n !== y.n || x.d !== y.d) out.push(tb.name);
  }
  return out;
}

export interface SwitchReport {
  /** From the fence's commit on the old side to the moment the pointer names the new one: how long writes were refused. */
  readonly fenceMs: number;
  /** Changes drained while fenced. */
  readonly drained: number;
  readonly sequences: ReadonlyArray<{ readonly name: string; readonly value: number }>;
  /** The database the app writes to now (host:port/db). */
  readonly primary: string;
}

export interface HandoverOptions {
  /** How long taking the fence may wait for a writer's lock per attempt (default 2000 ms). */
  readonly lockTimeoutMs?: number;
  /**
   * The check inside the fence: `touched` (default) compares the rows the drain wrote, `full`
   * every row of every table (the fence then lasts as long as a verify of the whole schema).
   */
  readonly verify?: 'touched' | 'full';
  readonly onStep?: (step: string) => void;
}

async function withClients<T>(urls: string[], fn: (cs: Client[]) => Promise<T>): Promise<T> {
  const cs = urls.map((u, i) => connectTo(u, `carve-move-switch-${i}`));
  try {
    for (const c of cs) await c.connect();
    return await fn(cs);
  } finally {
    for (const c of cs) await c.end().catch(() => undefined);
  }
}

/**
 * The handover between the two sides, named `old` (writes leave it) and `neu` (writes go to it),
 * so that the rollback is the same steps backwards. Run again after a crash, it picks up where
 * the old side's phase says it is: the fence and every step are idempotent.
 */
async function handover(
  t: MoveTarget,
  dir: 'switch' | 'rollback',
  opts: HandoverOptions,
): Promise<SwitchReport> {
  const [oldUrl, newUrl] = dir === 'switch' ? [t.fromUrl, t.toUrl] : [t.toUrl, t.fromUrl];
  return withClients([oldUrl, oldUrl, newUrl], async ([old, oldRead, neu]) => {
    const state = await readMoveState(old, t.schema);
    const want = dir === 'switch' ? 'copied' : 'switched';
    if (!state || state.phase !== want) {
      const next = dir === 'switch' ? `\`carve move apply\` until the backlog is small, \`carve move verify\`, then switch` : 'only a switched move rolls back';
      throw new MoveError(`the move of ${t.schema} is ${state?.phase ?? 'not started'} on ${serverOf(oldUrl)}, not ${want}`, next, state ? 'out_of_order' : 'no_move');
    }
    if (state.target !== serverOf(newUrl)) throw new MoveError(`the move of ${t.schema} goes to ${state.target}, not ${serverOf(newUrl)}`, `use --to for ${state.target}`, 'other_target');
    const lock = await old.query(`SELECT pg_try_advisory_lock(hashtext('carve.move'), hashtext($1)) AS ok`, [t.schema]);
    if (lock.rows[0].ok !== true) throw new MoveError(`another step of the move of ${t.schema} is running`, 'wait for it to finish', 'busy');
    try {
      const tables = parentsFirst((await readCatalog(old, t.schema)).tables);
      // A migration run on one side only since the move started: the rows would not carry over
      // whole (a column the other side lacks is dropped by the apply). Refused before the fence.
      const differs = tablesOfOtherShape(tables, (await readCatalog(neu, t.schema)).tables);
      if (differs.length) {
        throw new MoveError(`${t.schema} is not the same shape on both sides: ${differs.join(', ')}`, 'run the same migrations on both sides (the release phase migrates only the app\'s database), then `carve move apply` and switch again', 'shape_differs');
      }
      // Most of the backlog goes before the fence, so the fence window holds only the tail.
      opts.onStep?.('catching up');
      for (let i = 0; i < 20; i++) {
        const r = await applyPass(old, oldRead, neu, t.schema, tables);
        if (r.changes < 500) break;
      }
      // What the new side needs once it takes over, installed before the fence so that the fence
      // window holds only the handover itself: the capture tables and functions, and for a switch
      // the reverse capture's triggers (what they record before the handover is discarded by it).
      opts.onStep?.('preparing');
      await neu.query(CAPTURE_SQL_V1);
      await neu.query(MOVE_FENCE_SQL_V1);
      if (dir === 'switch') for (const tb of tables) await neu.query(captureTriggersSql(t.schema, tb));
      opts.onStep?.('fencing');
      await fence(old, t.schema, tables, opts.lockTimeoutMs ?? 2000);
      const fencedAt = performance.now();
      // Once the new side has recorded the handover, the old side must stay fenced whatever fails next.
      let committed = false;
      await recordAudit(old, t.schema, { actor: t.actor ?? 'carve move', action: `move.${dir}.fenced` });
      try {
        opts.onStep?.('draining');
        const { n: drained, touched } = await drain(old, oldRead, neu, t.schema, tables);
        const sequences = await copySequences(old, neu, t.schema);
        opts.onStep?.('verifying');
        const drift = opts.verify === 'full' ? await drifted(old, neu, t.schema, tables) : await driftedRows(old, neu, t.schema, tables, touched);
        if (drift.length) throw new MoveError(`${t.schema} differs after the drain: ${drift.join(', ')}`, 'the fence is lifted again; `carve move apply` and `carve move verify`, then try again', 'drift');
        // The new side: capture (for the way back) and no fence of its own; the old side: fenced, pointing at the new one.
        opts.onStep?.('handing over');
        await neu.query('BEGIN');
        committed = true;
        try {
          await neu.query(unfenceSql(t.schema, tables));
          if (dir === 'switch') {
            await neu.query(`DELETE FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema]);
            await neu.query(
              `INSERT INTO ${MOVE_SCHEMA}.moves (schema, target, phase) VALUES ($1, $2, 'switched')
               ON CONFLICT (schema) DO UPDATE SET target = EXCLUDED.target, phase = 'switched', updated_at = now(), applied_at = NULL`,
              [t.schema, serverOf(oldUrl)],
            );
          } else {
            // Back on the source: the reverse capture of the target goes; its fence stays until a new switch.
            await neu.query(`UPDATE ${MOVE_SCHEMA}.moves SET phase = 'copied', updated_at = now() WHERE schema = $1`, [t.schema]);
            await neu.query(`DELETE FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema]);
          }
          await recordAudit(neu, t.schema, { actor: t.actor ?? 'carve move', action: `move.${dir}`, detail: { from: serverOf(oldUrl), drained } });
          await neu.query('COMMIT');
        } catch (err) {
          committed = false;
          await neu.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        // Writes flow again once the pointer (the source's phase) names the side that took over:
        // for a switch, the old side's record that follows; for a rollback, the commit above.
        let openedAt = performance.now();
        if (dir === 'switch') {
          await setPhase(old, t.schema, 'switched', { actor: t.actor ?? 'carve move', action: 'move.switch', detail: { to: serverOf(newUrl), drained, sequences } });
          openedAt = performance.now();
        } else {
          await old.query(dropCaptureTriggersSql(t.schema, tables.map((x) => x.name)));
          await old.query(`UPDATE ${MOVE_SCHEMA}.moves SET phase = 'rolled_back', updated_at = now() WHERE schema = $1`, [t.schema]);
          await old.query(`DELETE FROM ${MOVE_SCHEMA}.changes WHERE sch = $1`, [t.schema]);
          await recordAudit(old, t.schema, { actor: t.actor ?? 'carve move', action: 'move.rollback', detail: { to: serverOf(newUrl), drained } });
        }
        return { fenceMs: openedAt - fencedAt, drained, sequences, primary: serverOf(newUrl) };
      } catch (err) {
        if (committed) {
          throw new MoveError(`the ${dir} of ${t.schema} stopped after ${serverOf(newUrl)} took over: ${(err as Error).message}`, `run \`carve move ${dir}\` again to finish it (writes stay fenced on ${serverOf(oldUrl)} until then)`, 'unfinished');
        }
        // Nothing switched: the old side takes writes again.
        await old.query(unfenceSql(t.schema, tables)).catch(() => undefined);
        await recordAudit(old, t.schema, { actor: t.actor ?? 'carve move', action: `move.${dir}.aborted`, detail: { error: (err as Error).message } }).catch(() => undefined);
        throw err;
      }
    } finally {
      await old.query(`SELECT pg_advisory_unlock(hashtext('carve.move'), hashtext($1))`, [t.schema]).catch(() => undefined);
    }
  });
}

/** Moves the writes from the source to the target (see the file's comment). */
export function switchMove(t: MoveTarget, opts: HandoverOptions = {}): Promise<SwitchReport> {
  return handover(t, 'switch', opts);
}

/** Moves the writes back from the target to the source, losing none made on the target since the switch. */
export function rollbackMove(t: MoveTarget, opts: HandoverOptions = {}): Promise<SwitchReport> {
  return handover(t, 'rollback', opts);
}

/**
 * Which database the app should write to, read from the source (the database the app was
 * configured with): `target` once the move switched (and after it finished), `source` otherwise
 * (also after a rollback).
 * An app replica that gets 503 write_fenced reads it to follow a switch without a restart.
 */
export async function readMovePointer(source: Pick<Client, 'query'>, schema: string): Promise<'source' | 'target'> {
  const state = await readMoveState(source, schema);
  return state?.phase === 'switched' || state?.phase === 'finished' ? 'target' : 'source';
}
