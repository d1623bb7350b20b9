import type { Command } from 'commander';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET, OPERATOR_CLAIM, ROLES, type Role, signToken } from '@carve/shared-http';
import { CliError } from '../cli-error';
import { DEMO } from '../demo';

/** `carve token`: a dev JWT; without arguments, an admin of the first demo workspace. */
export function registerToken(program: Command): void {
  program
    .command('token')
    .description('print a dev JWT (HS256, CARVE_JWT_SECRET or the local dev secret; with exp, iat, iss and aud)')
    .option('-w, --workspace <id>', 'workspace (tenant) id, the tid claim', DEMO.workspaceId)
    .option('-u, --user <id>', 'user id, the sub claim', DEMO.adminUserId)
    .option('-r, --role <role>', `role: ${ROLES.join(', ')}`, 'admin')
    .option('--ttl <seconds>', 'lifetime in seconds (at most what the verifier accepts: CARVE_JWT_MAX_LIFETIME_SEC, 24 h)', '43200')
    .option('--issuer <iss>', 'the iss claim (default CARVE_JWT_ISSUER, else carve)')
    .option('--audience <aud>', 'the aud claim (default CARVE_JWT_AUDIENCE, else carve-api)')
    .option('--operator', `add the operator claim (${OPERATOR_CLAIM}: true): the gateway then honours x-carve-target`)
    .option('--json', 'print { token, workspaceId, userId, role, operator } as JSON')
    .action((opts: { workspace: string; user: string; role: string; ttl: string; issuer?: string; audience?: string; operator?: boolean; json?: boolean }) => {
      if (!(ROLES as readonly string[]).includes(opts.role)) {
        throw new CliError(`unknown role "${opts.role}"`, `use one of ${ROLES.join(', ')}`);
      }
      const ttlSec = Number(opts.ttl);
      if (!Number.isInteger(ttlSec) || ttlSec <= 0) throw new CliError(`--ttl must be a positive number of seconds, got "${opts.ttl}"`);
      const secret = process.env.CARVE_JWT_SECRET || DEV_JWT_SECRET;
      const claims = { sub: opts.user, tid: opts.workspace, role: opts.role as Role, ...(opts.operator ? { [OPERATOR_CLAIM]: true as const } : {}) };
      const token = signToken(claims, secret, {
        ttlSec,
        issuer: opts.issuer ?? (process.env.CARVE_JWT_ISSUER || DEFAULT_JWT_ISSUER),
        audience: opts.audience ?? (process.env.CARVE_JWT_AUDIENCE || DEFAULT_JWT_AUDIENCE),
      });
      const out = opts.json ? JSON.stringify({ token, workspaceId: opts.workspace, userId: opts.user, role: opts.role, operator: opts.operator === true }) : token;
      process.stdout.write(`${out}\n`);
    });
}
