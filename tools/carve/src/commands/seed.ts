import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import { Client } from 'pg';
import { resolveDatabase } from '@carve/shared-persistence';
import { CliError, EXIT } from '../cli-error';
import { DEMO_SEED_ENTRY } from '../dev/deployables';
import { repoRoot, tsEntryArgs } from '../paths';

const whole = (name: string) => (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--${name} needs a whole number, got "${v}"`);
  return n;
};

interface CarvedContext {
  context: string;
  stage: string;
}

/** Contexts the control plane knows as being carved: a stage recorded or a backfill started. */
async function carvedContexts(url: string): Promise<CarvedContext[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new CliError(`cannot reach the database: ${(err as Error).message}`, 'is DATABASE_URL right and the database up? (`npx carve dev` starts the embedded one)', EXIT.unreachable);
  }
  try {
    const { rows } = await client.query<CarvedContext>(
      `SELECT context, stage FROM carve.context_stages WHERE stage <> 'created'
       UNION SELECT DISTINCT context, 'backfilled' FROM carve.backfill_checkpoints WHERE context NOT IN (SELECT context FROM carve.context_stages WHERE stage <> 'created')
       ORDER BY 1`,
    );
    return rows;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '3F000') return []; // no control plane yet: nothing is carved
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const SERVICE_OWNS = new Set(['writes-switched', 'complete']);

/** The seed process's exit code when the monolith's write fence refused it (apps/legacy-monolith/src/seed/main.ts). */
const SEED_EXIT_FENCED = 3;

/**
 * `carve seed`: realistic bulk data in the monolith's schema (COPY, one transaction, progress
 * bars). Runs the monolith's own seed process, so the CLI never imports the app.
 *
 * Into a context being carved (a backfill started, or a later stage) the seed also writes each
 * row's `created` event to the monolith's outbox, as the monolith's own writes do, so forward
 * sync brings the rows to the service and verify stays clean. When a context's service owns its
 * writes (writes-switched, complete), the monolith is not where its data is written: refused,
 * nothing written. The monolith's write fence refuses it too, in the seed's transaction (a
 * handover between the check and the seed): the seed process exits 3 and this is refused the same way.
 */
export function registerSeed(program: Command): void {
  program
    .command('seed')
    .description('load realistic bulk data into the monolith (DATABASE_URL, else embedded Postgres); with events when a context is being carved')
    .option('--workspaces <n>', 'workspaces to create', whole('workspaces'), 10)
    .option('--notes <n>', 'notes in total (skewed across workspaces)', whole('notes'), 10_000)
    .option('--features <n>', 'features in total (default: notes / 50)', whole('features'))
    .option('--releases <n>', 'releases in total (default: 4 per workspace)', whole('releases'))
    .option('--seed <n>', 'content PRNG seed', whole('seed'))
    .option('--demo', 'load the small deterministic demo data set instead')
    .option('--json', 'print the summary as one JSON line (stdout)')
    .action(async (opts: { workspaces: number; notes: number; features?: number; releases?: number; seed?: number; demo?: boolean; json?: boolean }) => {
      if (!opts.demo && opts.workspaces < 1) throw new CliError('--workspaces must be at least 1', undefined, EXIT.usage);
      const db = await resolveDatabase();
      try {
        const carved = await carvedContexts(db.url);
        const owned = carved.filter((c) => SERVICE_OWNS.has(c.stage));
        if (owned.length) {
          const c = owned[0];
          throw new CliError(
            `refused: ${owned.map((o) => `${o.context} (stage ${o.stage})`).join(', ')} ${owned.length > 1 ? 'have' : 'has'} its writes owned by the service, so the monolith is not where that data is written; nothing was written`,
            `seed before \`npx carve cutover ${c.context} --writes\`, or \`npx carve rollback ${c.context}\` first; to add data now, write through the gateway`,
            EXIT.refused,
          );
        }
        if (carved.length && opts.demo) {
          throw new CliError(
            `refused: --demo writes no events, and ${carved.map((c) => c.context).join(', ')} ${carved.length > 1 ? 'are' : 'is'} being carved; nothing was written`,
            '`npx carve seed --workspaces N --notes N` writes the rows with their events',
            EXIT.refused,
          );
        }
        const events = carved.length > 0;
        if (events) process.stderr.write(`carve seed: ${carved.map((c) => `${c.context} (${c.stage})`).join(', ')} being carved: writing each row's created event to legacy.outbox too (forward sync brings them over)\n`);
        const args = opts.demo
          ? ['--demo']
          : [
              '--workspaces', String(opts.workspaces), '--notes', String(opts.notes),
              ...(opts.features !== undefined ? ['--features', String(opts.features)] : []),
              ...(opts.releases !== undefined ? ['--releases', String(opts.releases)] : []),
              ...(opts.seed !== undefined ? ['--seed', String(opts.seed)] : []),
              ...(events ? ['--events'] : []),
            ];
        const root = repoRoot();
        const child = spawn(process.execPath, tsEntryArgs(path.join(root, DEMO_SEED_ENTRY), args), {
          cwd: root,
          env: { ...process.env, DATABASE_URL: db.url },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let summary = '';
        child.stdout!.on('data', (d) => (summary += d));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        if (code === SEED_EXIT_FENCED) {
          // A handover moved the writes between the stage check above and the seed's transaction.
          throw new CliError(
            "refused: the monolith's write fence refused the seed (the line above names the context); nothing was written",
            '`npx carve status` shows who owns the writes and any handover in progress; seed before `npx carve cutover <context> --writes`, or after `npx carve rollback <context>`',
            EXIT.refused,
          );
        }
        if (code !== 0) throw new CliError(`seeding failed (exit ${code})`, 'read the lines above; is DATABASE_URL reachable? `npx carve dev` starts embedded Postgres');
        const last = summary.trim().split('\n').pop() ?? '{}';
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...JSON.parse(last), events, carved })}\n`);
        else process.stdout.write(`${last}\n`);
      } finally {
        await db.stop();
      }
    });
}
