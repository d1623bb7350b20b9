/**
 * Cohorts: named lists of workspaces kept in the control plane (`carve.cohorts`), so that a
 * per-tenant carve names a wave (`--cohort internal`) instead of listing its workspaces each time.
 * A cohort is only a name for a list: moving it moves each of its workspaces (workspace-stages.ts).
 * Every change is audited (target `cohort:<name>`).
 */
import { pgTransactions } from '@carve/shared-messaging';
import type { Pool, PoolClient } from 'pg';

export interface Cohort {
  readonly name: string;
  readonly workspaces: readonly string[];
  readonly updatedBy: string;
  readonly updatedAt: string;
  readonly reason: string;
}

/** A cohort name: lower-case kebab-case, as context names. */
export const COHORT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

const toCohort = (row: any): Cohort => ({
  name: row.name,
  workspaces: row.workspaces,
  updatedBy: row.updated_by,
  updatedAt: new Date(row.updated_at).toISOString(),
  reason: row.reason,
});

const audit = (c: PoolClient, who: { actor: string; reason: string }, action: string, name: string, before: unknown, after: unknown) =>
  c.query('INSERT INTO carve.audit (actor, action, target, reason, before, after) VALUES ($1, $2, $3, $4, $5, $6)', [
    who.actor,
    action,
    `cohort:${name}`,
    who.reason,
    before === null ? null : JSON.stringify(before),
    after === null ? null : JSON.stringify(after),
  ]);

export async function listCohorts(pool: Pool): Promise<Cohort[]> {
  return (await pool.query('SELECT * FROM carve.cohorts ORDER BY name')).rows.map(toCohort);
}

export async function getCohort(pool: Pool, name: string): Promise<Cohort | null> {
  const r = await pool.query('SELECT * FROM carve.cohorts WHERE name = $1', [name]);
  return r.rows[0] ? toCohort(r.rows[0]) : null;
}

/** Creates or replaces a cohort (audited); `workspaces` as given (normalised by the caller). */
export function setCohort(pool: Pool, name: string, workspaces: readonly string[], who: { actor: string; reason: string }): Promise<{ before: Cohort | null; after: Cohort }> {
  return pgTransactions(pool)(async (c) => {
    const prev = await c.query('SELECT * FROM carve.cohorts WHERE name = $1 FOR UPDATE', [name]);
    const r = await c.query(
      `INSERT INTO carve.cohorts (name, workspaces, updated_by, updated_at, reason) VALUES ($1, $2, $3, now(), $4)
       ON CONFLICT (name) DO UPDATE SET workspaces = EXCLUDED.workspaces, updated_by = EXCLUDED.updated_by, updated_at = now(), reason = EXCLUDED.reason
       RETURNING *`,
      [name, workspaces, who.actor, who.reason],
    );
    const before = prev.rows[0] ? toCohort(prev.rows[0]) : null;
    const after = toCohort(r.rows[0]);
    await audit(c, who, 'cohort.set', name, before ? { workspaces: before.workspaces } : null, { workspaces: after.workspaces });
    return { before, after };
  });
}

/** Removes a cohort (audited); false when there was none. */
export function deleteCohort(pool: Pool, name: string, who: { actor: string; reason: string }): Promise<boolean> {
  return pgTransactions(pool)(async (c) => {
    const r = await c.query('DELETE FROM carve.cohorts WHERE name = $1 RETURNING *', [name]);
    if (r.rows[0]) await audit(c, who, 'cohort.delete', name, { workspaces: r.rows[0].workspaces }, null);
    return Boolean(r.rows[0]);
  });
}
