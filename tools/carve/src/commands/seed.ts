import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../cli-error';
import { DEMO_SEED_ENTRY } from '../dev/deployables';
import { repoRoot, tsEntryArgs } from '../paths';

const whole = (name: string) => (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new CliError(`--${name} needs a whole number, got "${v}"`);
  return n;
};

/**
 * `carve seed`: realistic bulk data in the monolith's schema (COPY, one transaction, progress
 * bars). Runs the monolith's own seed process, so the CLI never imports the app.
 */
export function registerSeed(program: Command): void {
  program
    .command('seed')
    .description('load realistic bulk data into the monolith (DATABASE_URL, else embedded Postgres)')
    .option('--workspaces <n>', 'workspaces to create', whole('workspaces'), 10)
    .option('--notes <n>', 'notes in total (skewed across workspaces)', whole('notes'), 10_000)
    .option('--features <n>', 'features in total (default: notes / 50)', whole('features'))
    .option('--releases <n>', 'releases in total (default: 4 per workspace)', whole('releases'))
    .option('--seed <n>', 'content PRNG seed', whole('seed'))
    .option('--demo', 'load the small deterministic demo data set instead')
    .action(async (opts: { workspaces: number; notes: number; features?: number; releases?: number; seed?: number; demo?: boolean }) => {
      if (!opts.demo && opts.workspaces < 1) throw new CliError('--workspaces must be at least 1');
      const args = opts.demo
        ? ['--demo']
        : [
            '--workspaces', String(opts.workspaces), '--notes', String(opts.notes),
            ...(opts.features !== undefined ? ['--features', String(opts.features)] : []),
            ...(opts.releases !== undefined ? ['--releases', String(opts.releases)] : []),
            ...(opts.seed !== undefined ? ['--seed', String(opts.seed)] : []),
          ];
      const root = repoRoot();
      const child = spawn(process.execPath, tsEntryArgs(path.join(root, DEMO_SEED_ENTRY), args), { cwd: root, stdio: 'inherit' });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      if (code !== 0) throw new CliError(`seeding failed (exit ${code})`, 'read the lines above; is DATABASE_URL reachable? `carve dev` starts embedded Postgres');
    });
}
