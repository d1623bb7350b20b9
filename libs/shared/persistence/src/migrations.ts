/**
 * Migrations under a Postgres advisory lock: TypeORM has no migration lock of its own, and init
 * containers (one per pod, in parallel) or a Heroku release phase overlapping a manual run must
 * never apply the same migration twice.
 *
 * Order: take the session-level `pg_advisory_lock(key(schema))` on a dedicated connection, create
 * the schema if it is missing, run pending migrations (each in its own transaction by default),
 * release the lock. A crashed runner releases the lock with its connection.
 */
import crypto from 'node:crypto';
import type { DataSource, Migration, QueryRunner } from 'typeorm';
import { createDataSource, type DataSourceSpec } from './data-source';
import { type LogSink, silentLog } from './logger';
import { assertIdentifier, createSchemaIfMissing } from './sql';

export interface RunMigrationsOptions {
  /** Schema to create and lock on; defaults to the data source's `schema`. */
  schema?: string;
  /** Where "applied X" lines go (pino logger, console). Default: silent. */
  log?: LogSink;
  /** How long to wait for another runner's lock before failing. Default 10 minutes. */
  lockTimeoutMs?: number;
  /** TypeORM transaction mode. Default `each`: every migration commits on its own. */
  transaction?: 'all' | 'each' | 'none';
  /**
   * How a schema that another runner migrated moves onto this one: under the lock, before
   * anything runs, it names the data source's migrations that the other runner's bookkeeping
   * already records; those not yet in the `migrations` table are recorded there as applied
   * (TypeORM's fake run: nothing of them runs again), in one transaction.
   */
  appliedElsewhere?: (runner: QueryRunner) => Promise<readonly string[]>;
}

export interface MigrationReport {
  schema: string;
  /** Names of the migrations applied by this run, in order (empty when up to date). */
  applied: string[];
  /** Names recorded as applied from another runner's bookkeeping (`appliedElsewhere`), in order. */
  adopted: string[];
  /** Time spent waiting for another runner's lock. */
  waitedMs: number;
  tookMs: number;
}

/**
 * A stable signed 64-bit advisory-lock key for a schema's migrations (first 8 bytes of
 * sha256("carve:migrations:<schema>")), as a decimal string for a `$1::bigint` parameter.
 */
export function migrationLockKey(schema: string): string {
  const digest = crypto.createHash('sha256').update(`carve:migrations:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** Runs pending migrations of a DataSource (initialised or not) or of a spec (connects, runs, disconnects). */
export async function runMigrations(target: DataSource | DataSourceSpec, options: RunMigrationsOptions = {}): Promise<MigrationReport> {
  const ownDataSource = !isDataSource(target);
  const ds = isDataSource(target) ? target : createDataSource({ ...target, poolSize: 2, applicationName: target.applicationName ?? 'migrate' });
  const schemaName = options.schema ?? (ds.options as { schema?: string }).schema;
  if (!schemaName) throw new Error('runMigrations needs a schema (pass options.schema or a data source with `schema`)');
  const schema = assertIdentifier(schemaName, 'schema name');
  const log = options.log ?? silentLog;
  const initialisedHere = !ds.isInitialized;
  if (initialisedHere) await ds.initialize();
  const started = Date.now();
  const lock = ds.createQueryRunner();
  try {
    await lock.connect();
    const waitedMs = await acquire(lock, schema, options.lockTimeoutMs ?? 600_000, log);
    try {
      await ensureSchema(lock, schema, log);
      const adopted = options.appliedElsewhere ? await adopt(ds, lock, await options.appliedElsewhere(lock)) : [];
      for (const name of adopted) log.info(`migrations[${schema}]: recorded ${name}, applied by an earlier runner`);
      const applied = await ds.runMigrations({ transaction: options.transaction ?? 'each' });
      for (const m of applied) log.info(`migrations[${schema}]: applied ${m.name}`);
      const tookMs = Date.now() - started;
      log.info(
        applied.length
          ? `migrations[${schema}]: ${applied.length} applied in ${tookMs} ms`
          : `migrations[${schema}]: up to date (nothing to apply)`,
      );
      return { schema, applied: applied.map((m) => m.name), adopted, waitedMs, tookMs };
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1::bigint)', [migrationLockKey(schema)]).catch(() => undefined);
    }
  } finally {
    await lock.release().catch(() => undefined);
    if (initialisedHere || ownDataSource) await ds.destroy().catch(() => undefined);
  }
}

/** Names of migrations known to the data source that are not applied yet. */
export async function pendingMigrations(ds: DataSource): Promise<string[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { MigrationExecutor } = require('typeorm') as typeof import('typeorm');
  const executor = new MigrationExecutor(ds);
  return (await executor.getPendingMigrations()).map((m) => m.name);
}

/**
 * Records `names` (migrations of `ds`) as applied without running them, unless the migrations
 * table has them already; returns the names it recorded. TypeORM's own executor does it (a
 * fake run limited to those names), so the table and its rows are what a real run writes.
 */
async function adopt(ds: DataSource, runner: QueryRunner, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const wanted = new Set(names);
  const unknown = names.filter((n) => !ds.migrations.some((m) => m.name === n));
  if (unknown.length) throw new Error(`appliedElsewhere names migrations this data source does not have: ${unknown.join(', ')}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { MigrationExecutor } = require('typeorm') as typeof import('typeorm');
  class Adopting extends MigrationExecutor {
    protected override getMigrations(): Migration[] {
      return super.getMigrations().filter((m) => wanted.has(m.name));
    }
  }
  const executor = new Adopting(ds, runner);
  executor.fake = true;
  executor.transaction = 'all';
  return (await executor.executePendingMigrations()).map((m) => m.name);
}

function isDataSource(x: DataSource | DataSourceSpec): x is DataSource {
  return typeof (x as DataSource).runMigrations === 'function' && typeof (x as DataSource).initialize === 'function';
}

async function acquire(runner: QueryRunner, schema: string, timeoutMs: number, log: LogSink): Promise<number> {
  const key = migrationLockKey(schema);
  const [first] = await runner.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
  if (first.ok) return 0;
  const t0 = Date.now();
  log.info(`migrations[${schema}]: another runner holds the migration lock; waiting (up to ${Math.round(timeoutMs / 1000)} s)`);
  await runner.query(`SET lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
  try {
    await runner.query('SELECT pg_advisory_lock($1::bigint)', [key]);
  } catch (err) {
    throw new Error(`migrations[${schema}]: gave up waiting for the migration lock after ${Date.now() - t0} ms: ${(err as Error).message}`);
  } finally {
    await runner.query('RESET lock_timeout').catch(() => undefined);
  }
  const waited = Date.now() - t0;
  log.info(`migrations[${schema}]: got the migration lock after ${waited} ms`);
  return waited;
}

async function ensureSchema(runner: QueryRunner, schema: string, log: LogSink): Promise<void> {
  if (await createSchemaIfMissing(runner, schema)) log.info(`migrations[${schema}]: created schema ${schema}`);
}
