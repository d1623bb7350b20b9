/**
 * Named operators of the gateway's admin API (`carve.operators`, migration 0004).
 *
 * `create` makes a random token (256 bits, base64url, prefixed `carve_op_` so secret scanners
 * can spot it), stores only its SHA-256, and hands the token back once. `authenticate` finds an
 * operator by the SHA-256 of a presented token: the lookup is by a hash of the secret, never by
 * the secret, so comparing takes no time that depends on how much of a guess was right.
 * `revoke` deletes the row. Creation and revocation are audited (`carve.audit`, target
 * `operator:<name>`).
 *
 * Roles: `operator` may change routes; `viewer` may only read.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { isoOrNull as iso } from '@carve/shared-kernel';

export const OPERATOR_ROLES = ['operator', 'viewer'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Lower-case letters, digits, `.`, `_`, `-`; starts with a letter or digit; at most 63. */
export const OPERATOR_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * The name under which the gateway accepts its configured admin token (CARVE_ADMIN_TOKEN):
 * the bootstrap operator of a fresh install and of local development. Never stored.
 */
export const BOOTSTRAP_OPERATOR = 'bootstrap';

export const OPERATOR_TOKEN_PREFIX = 'carve_op_';

/** Names no operator may take: the bootstrap operator's, and the actor of the guard's own rollbacks. */
const RESERVED_NAMES: ReadonlySet<string> = new Set([BOOTSTRAP_OPERATOR, 'guard']);

export interface Operator {
  readonly name: string;
  readonly role: OperatorRole;
  readonly createdAt: string;
  readonly createdBy: string;
  /** Last admin request with its token (updated at most once a minute), or null. */
  readonly lastUsedAt: string | null;
}

/** Who a presented token belongs to. */
export interface OperatorIdentity {
  readonly name: string;
  readonly role: OperatorRole;
}

/** A request the operator store refuses (bad name or role, name taken, unknown name). */
export class OperatorError extends Error {
  constructor(
    readonly code: 'invalid_name' | 'invalid_role' | 'operator_exists' | 'operator_not_found',
    message: string,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}

/** A fresh operator token. */
export function newOperatorToken(): string {
  return OPERATOR_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** The SHA-256 of a token: what is stored and looked up. */
export function operatorTokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function isOperatorRole(role: unknown): role is OperatorRole {
  return typeof role === 'string' && (OPERATOR_ROLES as readonly string[]).includes(role);
}

export class OperatorStore {
  constructor(private readonly pool: Pool) {}

  /** Creates an operator; returns it and its token (the only time the token is seen). */
  async create(input: { name: string; role: string; actor: string; reason?: string }): Promise<{ operator: Operator; token: string }> {
    const { name, role, actor } = input;
    if (typeof name !== 'string' || !OPERATOR_NAME.test(name)) {
      throw new OperatorError('invalid_name', `operator name "${name}" must be 1-63 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit`);
    }
    if (RESERVED_NAMES.has(name)) {
      throw new OperatorError(
        'invalid_name',
        name === BOOTSTRAP_OPERATOR
          ? `"${BOOTSTRAP_OPERATOR}" is the name of the gateway's configured admin token (CARVE_ADMIN_TOKEN); choose another`
          : `"${name}" is the audit's name for the gateway's guard; choose another`,
      );
    }
    if (!isOperatorRole(role)) throw new OperatorError('invalid_role', `role "${role}" must be one of ${OPERATOR_ROLES.join(', ')}`);
    const token = newOperatorToken();
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      try {
        const r = await c.query(
          `INSERT INTO carve.operators (name, role, token_sha256, created_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO NOTHING RETURNING *`,
          [name, role, operatorTokenDigest(token), actor],
        );
        if (r.rowCount === 0) throw new OperatorError('operator_exists', `an operator named "${name}" exists; revoke it first to issue a new token`);
        await audit(c, actor, 'operator.create', name, input.reason ?? 'carve operator create', null, { role });
        await c.query('COMMIT');
        return { operator: toOperator(r.rows[0]), token };
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      c.release();
    }
  }

  async list(): Promise<Operator[]> {
    const r = await this.pool.query('SELECT * FROM carve.operators ORDER BY name');
    return r.rows.map(toOperator);
  }

  /** Deletes an operator (its token stops working at once); throws when there is none. */
  async revoke(name: string, actor: string, reason = 'carve operator revoke'): Promise<Operator> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      try {
        const r = await c.query('DELETE FROM carve.operators WHERE name = $1 RETURNING *', [name]);
        if (r.rowCount === 0) throw new OperatorError('operator_not_found', `no operator named "${name}"`);
        const gone = toOperator(r.rows[0]);
        await audit(c, actor, 'operator.revoke', name, reason, { role: gone.role }, null);
        await c.query('COMMIT');
        return gone;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      c.release();
    }
  }

  /** The operator a token belongs to, or null. Notes the use (at most once a minute per operator). */
  async authenticate(token: string): Promise<OperatorIdentity | null> {
    const digest = operatorTokenDigest(token);
    const r = await this.pool.query<{ name: string; role: string; stale: boolean }>(
      `SELECT name, role, (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
         FROM carve.operators WHERE token_sha256 = $1`,
      [digest],
    );
    const row = r.rows[0];
    if (!row || !isOperatorRole(row.role)) return null;
    if (row.stale) {
      // Best effort: a failure to note the use never fails the request.
      this.pool.query('UPDATE carve.operators SET last_used_at = now() WHERE name = $1', [row.name]).catch(() => undefined);
    }
    return { name: row.name, role: row.role };
  }
}

async function audit(c: { query: Pool['query'] }, actor: string, action: string, name: string, reason: string, before: unknown, after: unknown): Promise<void> {
  await c.query('INSERT INTO carve.audit (actor, action, target, reason, before, after) VALUES ($1, $2, $3, $4, $5, $6)', [
    actor,
    action,
    `operator:${name}`,
    reason,
    before == null ? null : JSON.stringify(before),
    after == null ? null : JSON.stringify(after),
  ]);
}


function toOperator(row: any): Operator {
  return {
    name: row.name,
    role: row.role as OperatorRole,
    createdAt: iso(row.created_at)!,
    createdBy: row.created_by,
    lastUsedAt: iso(row.last_used_at),
  };
}
