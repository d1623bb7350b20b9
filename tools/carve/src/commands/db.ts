import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { assertIdentifier, provisionSchema, redactUrl, roleNames } from '@carve/shared-persistence';
import { CliError } from '../cli-error';

/** Where a role's password comes from: `<SCHEMA>_<ROLE>_PASSWORD` (e.g. INSIGHTS_APP_PASSWORD), else generated. */
export const passwordEnvName = (schema: string, role: 'app' | 'migrator') => `${schema.toUpperCase()}_${role.toUpperCase()}_PASSWORD`;

const generatePassword = () => randomBytes(24).toString('base64url');

interface ProvisionFlags {
  adminUrl?: string;
  rolePrefix?: string;
  json?: boolean;
}

/**
 * `carve db provision <schema>`: a service's schema and its three roles (owner NOLOGIN, migrator,
 * app) through @carve/shared-persistence `provisionSchema`, over an admin connection
 * (`--admin-url`, else DATABASE_URL: a superuser, or a CREATEROLE user such as RDS's master).
 * Idempotent; passwords come from INSIGHTS_APP_PASSWORD / INSIGHTS_MIGRATOR_PASSWORD (per schema)
 * or are generated and printed once, inside the two connection URLs it prints.
 */
export function registerDb(program: Command): void {
  const db = program.command('db').description('databases of the carved services: schemas and roles');
  db.command('provision')
    .description("create a service's schema and roles (owner, migrator, app); print the migrator and app connection URLs")
    .argument('<schema>', 'the schema, e.g. insights')
    .option('--admin-url <url>', 'admin connection (superuser or CREATEROLE); default DATABASE_URL')
    .option('--role-prefix <prefix>', 'role name prefix (default: the schema name)')
    .option('--json', 'print { schema, roles, migratorUrl, appUrl, generated } as JSON')
    .action(async (schema: string, opts: ProvisionFlags) => {
      try {
        assertIdentifier(schema, 'schema name');
        if (opts.rolePrefix) assertIdentifier(opts.rolePrefix, 'role prefix');
      } catch (err) {
        throw new CliError((err as Error).message, 'schema and role names are lower-case letters, digits and _');
      }
      const adminUrl = opts.adminUrl ?? process.env.DATABASE_URL;
      if (!adminUrl) {
        throw new CliError('no admin database URL', 'pass --admin-url postgres://<admin>@<host>/<db> or set DATABASE_URL (a superuser or CREATEROLE role)');
      }
      const generated: string[] = [];
      const password = (role: 'app' | 'migrator') => {
        const fromEnv = process.env[passwordEnvName(schema, role)];
        if (fromEnv) return fromEnv;
        generated.push(role);
        return generatePassword();
      };
      const appPassword = password('app');
      const migratorPassword = password('migrator');
      let result;
      try {
        result = await provisionSchema(adminUrl, schema, { appPassword, migratorPassword, rolePrefix: opts.rolePrefix });
      } catch (err) {
        const e = err as Error & { code?: string };
        const hint =
          e.code === '42501'
            ? 'the admin role needs CREATEROLE (and CREATE on the database); use the superuser or RDS master user'
            : `check that ${redactUrl(adminUrl)} is reachable and an admin connection`;
        throw new CliError(`provisioning ${schema} failed: ${e.message}`, hint);
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ schema, roles: result.roles, migratorUrl: result.migratorUrl, appUrl: result.appUrl, generated })}\n`);
        return;
      }
      const roles = roleNames(schema, opts.rolePrefix);
      process.stdout.write(
        [
          `schema ${schema} provisioned on ${redactUrl(adminUrl)}`,
          `  roles: ${roles.owner} (NOLOGIN, owns the schema), ${roles.migrator} (migrations), ${roles.app} (the service: its schema only)`,
          `  migrator URL (init container / release phase DATABASE_URL): ${result.migratorUrl}`,
          `  app URL (the service's DATABASE_URL):                        ${result.appUrl}`,
          generated.length
            ? `  generated passwords for ${generated.join(' and ')}: store these URLs now, they are not shown again (or set ${generated.map((r) => passwordEnvName(schema, r as 'app' | 'migrator')).join(', ')} and re-run)`
            : `  passwords from ${passwordEnvName(schema, 'app')} and ${passwordEnvName(schema, 'migrator')}`,
          '',
        ].join('\n'),
      );
    });
}
