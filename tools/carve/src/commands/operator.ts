/**
 * `carve operator create <name> --role operator|viewer | list | revoke <name>`: the named
 * operators of the gateway's admin API, kept in the control plane (`carve.operators`, hashed).
 * It talks to the control plane directly (DATABASE_URL, else the embedded Postgres), not to the
 * admin API: whoever may write to the control plane may issue operators. `create` prints the
 * token once; it cannot be shown again (revoke and create anew to replace it). Creation and
 * revocation are audited with the actor --actor, else CARVE_ACTOR, else the user name.
 */
import os from 'node:os';
import type { Command } from 'commander';
import { ControlPlaneClient, OPERATOR_ROLES, OperatorError, OperatorStore } from '@carve/shared-control-plane';
import { resolveDatabase } from '@carve/shared-persistence';
import { CliError } from '../cli-error';

interface Common {
  actor?: string;
  databaseUrl?: string;
  json?: boolean;
}

function safeUser(): string {
  try {
    return os.userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

const actorOf = (o: Common) => o.actor ?? process.env.CARVE_ACTOR ?? safeUser();

async function withOperators<T>(o: Common, fn: (store: OperatorStore) => Promise<T>): Promise<T> {
  const url = o.databaseUrl ?? process.env.DATABASE_URL;
  const db = url ? { url, stop: async () => undefined } : await resolveDatabase();
  let cp: ControlPlaneClient | undefined;
  try {
    try {
      cp = await ControlPlaneClient.connect({ url: db.url, applicationName: 'carve-operator' });
    } catch (err) {
      throw new CliError(`cannot reach the control plane: ${(err as Error).message}`, 'is DATABASE_URL right and the database up? (`carve dev` starts the embedded one)');
    }
    return await fn(new OperatorStore(cp.pool));
  } catch (err) {
    if (err instanceof OperatorError) {
      const hint =
        err.code === 'operator_exists' ? 'see `carve operator list`; `carve operator revoke <name>` first to replace its token'
        : err.code === 'operator_not_found' ? 'see `carve operator list`'
        : err.code === 'invalid_role' ? `use --role ${OPERATOR_ROLES.join(' or ')}`
        : undefined;
      throw new CliError(err.message, hint);
    }
    throw err;
  } finally {
    await cp?.close();
    await db.stop();
  }
}

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

export function registerOperator(program: Command): void {
  const operator = program
    .command('operator')
    .description("named operators of the gateway's admin API (tokens stored hashed in the control plane; DATABASE_URL)");

  const common = (c: Command) =>
    c
      .option('--database-url <url>', 'the control plane (default: DATABASE_URL, else the embedded Postgres)')
      .option('--actor <name>', 'who does it, for the audit (default: CARVE_ACTOR, else your user name)')
      .option('--json', 'print JSON');

  common(
    operator
      .command('create <name>')
      .description('issue a token for a new operator; the token is printed once')
      .requiredOption('--role <role>', `${OPERATOR_ROLES.join(' | ')} (viewer may only read)`)
      .option('--reason <reason>', 'why (kept in the audit)'),
  ).action(async (name: string, opts: Common & { role: string; reason?: string }) => {
    const { operator: op, token } = await withOperators(opts, (store) => store.create({ name, role: opts.role, actor: actorOf(opts), reason: opts.reason }));
    if (opts.json) return out(JSON.stringify({ ...op, token }));
    out(token);
    process.stderr.write(
      `operator ${op.name} (${op.role}) created. The token above is shown only now: keep it in a secret store.\n` +
        `Use it as CARVE_ADMIN_TOKEN for \`carve routes\`, or as Authorization: Bearer <token> on the admin API.\n`,
    );
  });

  common(operator.command('list').description('every operator: name, role, who created it and when, last use')).action(async (opts: Common) => {
    const list = await withOperators(opts, (store) => store.list());
    if (opts.json) return out(JSON.stringify({ operators: list }, null, 2));
    const rows = list.map((o) => [o.name, o.role, o.createdBy, o.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), o.lastUsedAt ? o.lastUsedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-']);
    const header = ['NAME', 'ROLE', 'CREATED BY', 'CREATED', 'LAST USED'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
    out([line(header), ...rows.map(line)].join('\n'));
    if (rows.length === 0) out('(none; the gateway still accepts its CARVE_ADMIN_TOKEN as operator "bootstrap")');
  });

  common(
    operator
      .command('revoke <name>')
      .description("revoke an operator's token: the admin API refuses it from the next request")
      .option('--reason <reason>', 'why (kept in the audit)'),
  ).action(async (name: string, opts: Common & { reason?: string }) => {
    const gone = await withOperators(opts, (store) => store.revoke(name, actorOf(opts), opts.reason));
    if (opts.json) return out(JSON.stringify({ revoked: gone }));
    out(`operator ${gone.name} (${gone.role}) revoked`);
  });
}
