import type { Command } from 'commander';
import { DEV_JWT_SECRET, ROLES, type Role, signToken } from '@carve/shared-http';
import { CliError } from '../cli-error';
import { DEMO } from '../demo';

/** `carve token`: a dev JWT; without arguments, an admin of the first demo workspace. */
export function registerToken(program: Command): void {
  program
    .command('token')
    .description('print a dev JWT (HS256, CARVE_JWT_SECRET or the local dev secret)')
    .option('-w, --workspace <id>', 'workspace (tenant) id, the tid claim', DEMO.workspaceId)
    .option('-u, --user <id>', 'user id, the sub claim', DEMO.adminUserId)
    .option('-r, --role <role>', `role: ${ROLES.join(', ')}`, 'admin')
    .option('--ttl <seconds>', 'lifetime in seconds', '43200')
    .option('--json', 'print { token, workspaceId, userId, role } as JSON')
    .action((opts: { workspace: string; user: string; role: string; ttl: string; json?: boolean }) => {
      if (!(ROLES as readonly string[]).includes(opts.role)) {
        throw new CliError(`unknown role "${opts.role}"`, `use one of ${ROLES.join(', ')}`);
      }
      const ttlSec = Number(opts.ttl);
      if (!Number.isInteger(ttlSec) || ttlSec <= 0) throw new CliError(`--ttl must be a positive number of seconds, got "${opts.ttl}"`);
      const secret = process.env.CARVE_JWT_SECRET || DEV_JWT_SECRET;
      const token = signToken({ sub: opts.user, tid: opts.workspace, role: opts.role as Role }, secret, { ttlSec });
      const out = opts.json ? JSON.stringify({ token, workspaceId: opts.workspace, userId: opts.user, role: opts.role }) : token;
      process.stdout.write(`${out}\n`);
    });
}
