/**
 * Applying schema `carve`'s migrations (./migrations): @carve/shared-persistence's
 * `runMigrations`, as for every other schema, under the schema's advisory lock
 * (`migrationLockKey('carve')`), each migration in its own transaction, recorded in
 * `carve.migrations`. Replicas starting together serialise on the lock; the loser finds nothing
 * left to do.
 *
 * A database migrated before the control plane used that runner records its migrations in
 * `carve.schema_migrations` (`0001_control_plane` ... `0011_mismatch_bodies`). The runner reads that
 * table under the lock and records the same migrations in `carve.migrations` without running
 * them again; `carve.schema_migrations` stays as it was.
 */
import { type LogSink, runMigrations } from '@carve/shared-persistence';
import { Client, type Pool } from 'pg';
import type { QueryRunner } from 'typeorm';
import { controlPlaneMigrations } from './migrations';

export const CONTROL_SCHEMA = 'carve';

/** The names of schema `carve`'s migrations, in order (what `carve.migrations` records). */
export const CONTROL_MIGRATIONS: readonly string[] = controlPlaneMigrations.map((M) => new M().name);

/**
 * What the first runner recorded in `carve.schema_migrations`, by the name of the same
 * migration here. Frozen: those databases hold exactly these names.
 */
const FIRST_RUNNER_NAMES: Readonly<Record<string, string>> = {
  '0001_control_plane': 'ControlPlane1729000000001',
  '0002_carving': 'Carving1729000000002',
  '0003_handovers': 'Handovers1729000000003',
  '0004_operators': 'Operators1729000000004',
  '0005_gateway_replicas': 'GatewayReplicas1729000000005',
  '0007_dead_letter_replays': 'DeadLetterReplays1729000000007',
  '0008_workspace_ownership': 'WorkspaceOwnership1729000000008',
  '0009_mismatch_browsing': 'MismatchBrowsing1729000000009',
  '0010_ramps': 'Ramps1729000000010',
  '0011_mismatch_bodies': 'MismatchBodies1729000000011',
};

export interface ControlMigrationReport {
  readonly applied: string[];
  readonly waitedMs: number;
}

type Queryable = Pick<Pool, 'query'> | Pick<Client, 'query'>;

/** The migrations either bookkeeping records as applied (read only). */
async function recorded(db: Queryable, opts: { firstRunner: boolean }): Promise<Set<string>> {
  const { rows } = await db.query<{ current: string | null; first: string | null }>(
    `SELECT to_regclass('${CONTROL_SCHEMA}.migrations')::text AS current, to_regclass('${CONTROL_SCHEMA}.schema_migrations')::text AS first`,
  );
  const done = new Set<string>();
  if (rows[0]?.current) for (const r of (await db.query<{ name: string }>(`SELECT name FROM ${CONTROL_SCHEMA}.migrations`)).rows) done.add(r.name);
  if (opts.firstRunner && rows[0]?.first) {
    for (const r of (await db.query<{ name: string }>(`SELECT name FROM ${CONTROL_SCHEMA}.schema_migrations`)).rows) {
      const name = FIRST_RUNNER_NAMES[r.name];
      if (name) done.add(name);
    }
  }
  return done;
}

/**
 * Names of the control-plane migrations the database has not applied, in order: all of them
 * when schema `carve` has none yet. Reads only (either bookkeeping), so a role without DDL can
 * check that its schema is current before it relies on it.
 */
export async function pendingControlMigrations(pool: Pool): Promise<string[]> {
  const done = await recorded(pool, { firstRunner: true });
  return CONTROL_MIGRATIONS.filter((name) => !done.has(name));
}

/**
 * Applies pending control-plane migrations over connections of its own to `url` (a migrator
 * role's): what the migration commands run (the gateway's `migrate.ts`, `npm run migrate -w
 * @carve/shared-control-plane`). Idempotent, safe to run from every replica at once.
 */
export async function migrateControlPlaneAt(url: string, applicationName = 'carve-control-plane-migrate', options: MigrateOptions = {}): Promise<ControlMigrationReport> {
  const probe = new Client({ connectionString: url, application_name: applicationName });
  await probe.connect();
  try {
    return await migrateFrom(probe, url, applicationName, options);
  } finally {
    await probe.end().catch(() => undefined);
  }
}

/** Applies pending control-plane migrations to the database of `pool` (made from a connection string). */
export async function migrateControlPlane(pool: Pool, options: MigrateOptions = {}): Promise<ControlMigrationReport> {
  const { connectionString, application_name: applicationName } = pool.options;
  if (!connectionString) throw new Error('migrateControlPlane needs a pool made from a connection string');
  return migrateFrom(pool, connectionString, applicationName ?? 'carve-control-plane-migrate', options);
}

export interface MigrateOptions {
  /** How long to wait for another runner's lock. Default 60 s. */
  readonly lockTimeoutMs?: number;
  /** Where "applied X" lines go. Default: silent. */
  readonly log?: LogSink;
}

/**
 * When `carve.migrations` records every migration, nothing to do: it returns at once, without
 * loading the runner (a gateway starting against a current schema). Otherwise the shared runner.
 */
async function migrateFrom(probe: Queryable, url: string, applicationName: string, options: MigrateOptions): Promise<ControlMigrationReport> {
  const done = await recorded(probe, { firstRunner: false });
  if (CONTROL_MIGRATIONS.every((name) => done.has(name))) return { applied: [], waitedMs: 0 };
  const report = await runMigrations(
    // Every statement names schema carve: no search_path pinned, like the control plane's pool.
    { url, schema: CONTROL_SCHEMA, migrations: controlPlaneMigrations, applicationName, pinSearchPath: false },
    { lockTimeoutMs: options.lockTimeoutMs ?? 60_000, log: options.log, appliedElsewhere: appliedByFirstRunner },
  );
  return { applied: report.applied, waitedMs: report.waitedMs };
}

/** The one line a migration command prints about its run. */
export function describeControlMigration(report: ControlMigrationReport): string {
  return report.applied.length ? `control plane: applied ${report.applied.join(', ')}` : 'control plane: up to date (nothing to apply)';
}

async function appliedByFirstRunner(runner: QueryRunner): Promise<string[]> {
  const [found] = await runner.query(`SELECT to_regclass('${CONTROL_SCHEMA}.schema_migrations')::text AS t`);
  if (!found?.t) return [];
  const rows: Array<{ name: string }> = await runner.query(`SELECT name FROM ${CONTROL_SCHEMA}.schema_migrations`);
  return rows.map((r) => FIRST_RUNNER_NAMES[r.name]).filter((name): name is string => name !== undefined);
}
