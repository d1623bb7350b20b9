/**
 * Schema and roles for one service (DESIGN: "Each service owns one Postgres schema and three
 * roles"):
 *
 * - `<prefix>_owner`    NOLOGIN, owns the schema and every object in it;
 * - `<prefix>_migrator` LOGIN, member of owner, and its sessions start as the owner
 *   (`ALTER ROLE ... SET role`), so everything migrations create is owned by the owner;
 * - `<prefix>_app`      LOGIN, USAGE on the schema and DML on its tables and sequences, granted
 *   once for existing objects and by `ALTER DEFAULT PRIVILEGES FOR ROLE owner` for future ones.
 *
 * Both login roles get `search_path = <schema>`. Idempotent: a second run changes nothing but
 * the passwords (set again to what is passed). Runs over an admin connection (superuser, or a
 * CREATEROLE user such as RDS's master user).
 */
import { withClient } from './admin';
import { assertIdentifier, quoteIdent, quoteLiteral, withCredentials } from './sql';
import { revokeWriteFenceSql } from './write-fence';

export interface ProvisionOptions {
  appPassword: string;
  migratorPassword: string;
  /** Role name prefix; default the schema name (roles are cluster-wide, schemas are per database). */
  rolePrefix?: string;
}

export interface ProvisionedSchema {
  schema: string;
  roles: { owner: string; migrator: string; app: string };
  /** Connection strings for the login roles (same server and database as the admin URL). */
  migratorUrl: string;
  appUrl: string;
}

export function roleNames(schema: string, rolePrefix = schema): ProvisionedSchema['roles'] {
  const prefix = assertIdentifier(rolePrefix, 'role prefix');
  return { owner: `${prefix}_owner`, migrator: `${prefix}_migrator`, app: `${prefix}_app` };
}

export async function provisionSchema(adminUrl: string, schema: string, options: ProvisionOptions): Promise<ProvisionedSchema> {
  assertIdentifier(schema, 'schema name');
  if (!options.appPassword || !options.migratorPassword) throw new Error('provisionSchema needs appPassword and migratorPassword');
  const roles = roleNames(schema, options.rolePrefix);
  const s = quoteIdent(schema);
  const owner = quoteIdent(roles.owner);
  const migrator = quoteIdent(roles.migrator);
  const app = quoteIdent(roles.app);

  await withClient(adminUrl, async (c) => {
    await c.query('BEGIN');
    try {
      // Serialise concurrent provisioning of the same schema in this database.
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`carve:provision:${schema}`]);
      await ensureRole(c, roles.owner, 'NOLOGIN');
      await ensureRole(c, roles.migrator, 'LOGIN');
      await ensureRole(c, roles.app, 'LOGIN');
      await c.query(`ALTER ROLE ${owner} NOLOGIN`);
      await c.query(`ALTER ROLE ${migrator} LOGIN PASSWORD ${quoteLiteral(options.migratorPassword)}`);
      await c.query(`ALTER ROLE ${app} LOGIN PASSWORD ${quoteLiteral(options.appPassword)}`);
      await grantMembership(c, roles.owner, roles.migrator);

      // A non-superuser admin (RDS) must be a member of the owner to hand it a schema.
      const [{ rolsuper }] = (await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows;
      if (!rolsuper) await grantMembership(c, roles.owner, (await c.query('SELECT current_user AS u')).rows[0].u);

      await c.query(`CREATE SCHEMA IF NOT EXISTS ${s} AUTHORIZATION ${owner}`);
      await c.query(`ALTER SCHEMA ${s} OWNER TO ${owner}`);
      await c.query(`REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`);
      await c.query(`GRANT USAGE ON SCHEMA ${s} TO ${app}`);

      // Objects that already exist (a re-run after migrations) ...
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${app}`);
      // ... except who owns the context's writes: only the migrator and the handover change that.
      await c.query(revokeWriteFenceSql(schema));
      await c.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${app}`);
      // ... and everything the owner creates from now on.
      await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${app}`);
      await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT USAGE, SELECT ON SEQUENCES TO ${app}`);
      await c.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${s} GRANT EXECUTE ON FUNCTIONS TO ${app}`);

      // Migrator sessions act as the owner, so the owner owns what migrations create.
      await c.query(`ALTER ROLE ${migrator} SET role = ${quoteLiteral(roles.owner)}`);
      await c.query(`ALTER ROLE ${migrator} SET search_path = ${s}`);
      await c.query(`ALTER ROLE ${app} SET search_path = ${s}`);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });

  return {
    schema,
    roles,
    migratorUrl: withCredentials(adminUrl, roles.migrator, options.migratorPassword),
    appUrl: withCredentials(adminUrl, roles.app, options.appPassword),
  };
}

/** Drops what provisionSchema created in this database (schema, objects) and, optionally, the roles. */
export async function deprovisionSchema(adminUrl: string, schema: string, opts: { rolePrefix?: string; dropRoles?: boolean } = {}): Promise<void> {
  assertIdentifier(schema, 'schema name');
  const roles = roleNames(schema, opts.rolePrefix);
  await withClient(adminUrl, async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    if (!opts.dropRoles) return;
    for (const role of [roles.app, roles.migrator, roles.owner]) {
      const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
      if (!exists) continue;
      // Privileges (and default privileges) in this database go first; roles are cluster-wide.
      await c.query(`DROP OWNED BY ${quoteIdent(role)}`);
      await c.query(`DROP ROLE ${quoteIdent(role)}`);
    }
  });
}

type Q = { query: (sql: string, params?: unknown[]) => Promise<{ rowCount: number | null; rows: any[] }> };

async function ensureRole(c: Q, role: string, login: 'LOGIN' | 'NOLOGIN'): Promise<void> {
  // Roles are cluster-wide: another database may be creating the same one right now.
  await c.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
      CREATE ROLE ${quoteIdent(role)} ${login};
    END IF;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END $$`);
}

async function grantMembership(c: Q, role: string, member: string): Promise<void> {
  const { rowCount } = await c.query(
    `SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
      WHERE r.rolname = $1 AND u.rolname = $2`,
    [role, member],
  );
  if (!rowCount) await c.query(`GRANT ${quoteIdent(role)} TO ${quoteIdent(member)}`);
}
