/**
 * The control plane's schema, `carve`, as plain SQL migrations. They run in order under the
 * same session-level advisory lock as every other migration of schema `carve`
 * (`migrationLockKey('carve')` from @carve/shared-persistence), each in its own transaction,
 * and are recorded in `carve.schema_migrations`. Replicas starting together serialise on the
 * lock; the loser finds nothing left to do.
 *
 * Expand/contract: a migration only adds (tables, columns, indexes), so an older gateway keeps
 * working against a newer schema. Later work appends migrations here (the carving stages
 * extend `context_stages`); never edit one that has shipped.
 */
import { migrationLockKey } from '@carve/shared-persistence';
import { Pool, type PoolClient } from 'pg';
import { CARVING_MIGRATION } from './migration-0002-carving';

export const CONTROL_SCHEMA = 'carve';

export interface ControlMigration {
  readonly name: string;
  readonly sql: string;
}

export const CONTROL_MIGRATIONS: readonly ControlMigration[] = [
  {
    name: '0001_control_plane',
    sql: `
      -- One row: the version of the control plane. Every change bumps it in its transaction,
      -- which serialises changes and lets a replica that missed a NOTIFY see it by polling.
      CREATE TABLE carve.control_state (
        id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        version    bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      INSERT INTO carve.control_state (id, version) VALUES (1, 0);

      -- Route mode/percent set at runtime; they beat the route table file.
      CREATE TABLE carve.route_overrides (
        route_id   text PRIMARY KEY,
        mode       text NOT NULL CHECK (mode IN ('monolith', 'shadow', 'canary', 'service')),
        percent    double precision CHECK (percent IS NULL OR (percent >= 0 AND percent <= 100)),
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        reason     text NOT NULL,
        version    bigint NOT NULL
      );

      -- Who changed what, when, why; before and after.
      CREATE TABLE carve.audit (
        id     bigserial PRIMARY KEY,
        at     timestamptz NOT NULL DEFAULT now(),
        actor  text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        reason text NOT NULL,
        before jsonb,
        after  jsonb
      );
      CREATE INDEX audit_target_id ON carve.audit (target, id DESC);

      -- Every time a gateway's guard found a route misbehaving.
      CREATE TABLE carve.guard_events (
        id          bigserial PRIMARY KEY,
        at          timestamptz NOT NULL DEFAULT now(),
        route_id    text NOT NULL,
        reason      text NOT NULL,
        stats       jsonb,
        gateway     text,
        rolled_back boolean NOT NULL DEFAULT false
      );
      CREATE INDEX guard_events_route_id ON carve.guard_events (route_id, id DESC);

      -- The latest shadow mismatches per route (older ones are trimmed on insert).
      CREATE TABLE carve.shadow_mismatches (
        id              bigserial PRIMARY KEY,
        route_id        text NOT NULL,
        at              timestamptz NOT NULL DEFAULT now(),
        request         jsonb NOT NULL,
        monolith_status integer,
        service_status  integer,
        differences     jsonb NOT NULL,
        truncated       boolean NOT NULL DEFAULT false,
        gateway         text
      );
      CREATE INDEX shadow_mismatches_route_id ON carve.shadow_mismatches (route_id, id DESC);

      -- Where each bounded context is in its carving (extended by the carving work).
      CREATE TABLE carve.context_stages (
        context    text PRIMARY KEY,
        stage      text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  // One file per later migration, appended here in order.
  CARVING_MIGRATION,
];

export interface ControlMigrationReport {
  readonly applied: string[];
  readonly waitedMs: number;
}

/**
 * Names of the control-plane migrations the database has not recorded, in order: all of them
 * when schema `carve` has none yet. Reads only (`carve.schema_migrations`), so a role without
 * DDL can check that its schema is current before it relies on it.
 */
export async function pendingControlMigrations(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ t: string | null }>(`SELECT to_regclass('${CONTROL_SCHEMA}.schema_migrations')::text AS t`);
  if (!rows[0]?.t) return CONTROL_MIGRATIONS.map((m) => m.name);
  const done = new Set<string>((await pool.query<{ name: string }>(`SELECT name FROM ${CONTROL_SCHEMA}.schema_migrations`)).rows.map((r) => r.name));
  return CONTROL_MIGRATIONS.filter((m) => !done.has(m.name)).map((m) => m.name);
}

/**
 * Applies pending control-plane migrations over a connection of its own to `url` (a migrator
 * role's): what the migration commands run (the gateway's `migrate.ts`, `npm run migrate -w
 * @carve/shared-control-plane`).
 */
export async function migrateControlPlaneAt(url: string, applicationName = 'carve-control-plane-migrate'): Promise<ControlMigrationReport> {
  const pool = new Pool({ connectionString: url, max: 1, application_name: applicationName });
  pool.on('error', () => undefined); // an idle connection's failure surfaces on the next query
  try {
    return await migrateControlPlane(pool);
  } finally {
    await pool.end();
  }
}

/** The one line a migration command prints about its run. */
export function describeControlMigration(report: ControlMigrationReport): string {
  return report.applied.length ? `control plane: applied ${report.applied.join(', ')}` : 'control plane: up to date (nothing to apply)';
}

/** Applies pending control-plane migrations (idempotent, safe to run from every replica at once). */
export async function migrateControlPlane(pool: Pool, options: { lockTimeoutMs?: number } = {}): Promise<ControlMigrationReport> {
  const client = await pool.connect();
  const key = migrationLockKey(CONTROL_SCHEMA);
  const started = Date.now();
  let locked = false;
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs ?? 60_000))}`);
    await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    locked = true;
    const waitedMs = Date.now() - started;
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [CONTROL_SCHEMA]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${CONTROL_SCHEMA}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${CONTROL_SCHEMA}.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set<string>((await client.query(`SELECT name FROM ${CONTROL_SCHEMA}.schema_migrations`)).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const m of CONTROL_MIGRATIONS) {
      if (done.has(m.name)) continue;
      await inTransaction(client, async () => {
        await client.query(m.sql);
        await client.query(`INSERT INTO ${CONTROL_SCHEMA}.schema_migrations (name) VALUES ($1)`, [m.name]);
      });
      applied.push(m.name);
    }
    return { applied, waitedMs };
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
    const clean = await client.query('RESET lock_timeout').then(() => true, () => false);
    client.release(!clean);
  }
}

async function inTransaction(client: PoolClient, fn: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await fn();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
