import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, PARENT_PID_ENV } from '@carve/shared-http';
import { resolveDatabase } from '@carve/shared-persistence';
import { CliError } from '../cli-error';
import { DEMO } from '../demo';
import { DEMO_SEED_ENTRY, DEV_DEPLOYABLES } from '../dev/deployables';
import { type ProcessSpec, Supervisor } from '../dev/supervisor';
import { repoRoot, tsEntryArgs } from '../paths';


const say = (line: string) => process.stderr.write(`carve dev: ${line}\n`);

/**
 * `carve dev` (what `npm start` runs): Postgres (embedded unless DATABASE_URL is set),
 * migrations and demo data, then every deployable that exists, each as its own process,
 * the gateway last on :8080. Ctrl-C stops everything it started.
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('run Carve locally: Postgres (embedded unless DATABASE_URL), demo data, monolith, services, gateway on :8080')
    .option('--only <names>', 'comma-separated deployables to run (default: all that exist)')
    .option('--no-seed', 'skip migrations and demo data')
    .option('--raw-logs', 'print the processes\' JSON log lines as they are')
    .action(async (opts: { only?: string; seed: boolean; rawLogs?: boolean }) => {
      const root = repoRoot();
      const only = opts.only?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = only?.filter((n) => !DEV_DEPLOYABLES.some((d) => d.name === n)) ?? [];
      if (unknown.length) {
        throw new CliError(`unknown deployable ${unknown.join(', ')}`, `choose from ${DEV_DEPLOYABLES.map((d) => d.name).join(', ')}`);
      }

      say(process.env.DATABASE_URL ? 'using DATABASE_URL' : 'starting embedded Postgres (.carve/postgres)');
      const db = await resolveDatabase({ log: { info: (m: string) => say(m), warn: (m: string) => say(`warning: ${m}`) } });
      const transport = process.env.KAFKA_BROKERS ? 'kafka' : 'postgres';
      say(`event transport: ${transport}${transport === 'kafka' ? ` (${process.env.KAFKA_BROKERS})` : ' (embedded: outbox tables, no broker needed)'}`);

      const sharedEnv: NodeJS.ProcessEnv = {
        DATABASE_URL: db.url,
        PLATFORM: process.env.PLATFORM ?? 'local',
        CARVE_JWT_SECRET: process.env.CARVE_JWT_SECRET ?? DEV_JWT_SECRET,
        CARVE_TRANSPORT: transport,
        CARVE_ADMIN_TOKEN: process.env.CARVE_ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        // The children stop by themselves if this process is killed without a chance to stop them.
        [PARENT_PID_ENV]: String(process.pid),
      };

      const sup = new Supervisor(process.stdout, opts.rawLogs);
      let shuttingDown = false;
      const shutdown = async (why: string, code: number) => {
        if (shuttingDown) return;
        shuttingDown = true;
        say(`${why}: stopping everything`);
        await sup.stopAll();
        await db.stop();
        process.exit(code);
      };
      process.on('SIGINT', () => void shutdown('interrupted', 0));
      process.on('SIGTERM', () => void shutdown('terminated', 0));

      try {
        if (opts.seed) {
          say('migrating the monolith and loading demo data');
          const code = await sup.runOnce({ name: 'seed', command: process.execPath, args: tsEntryArgs(path.join(root, DEMO_SEED_ENTRY), ['--demo']), env: sharedEnv, cwd: root });
          if (code !== 0) throw new CliError(`demo seed failed (exit ${code})`, 'read the seed lines above; `carve dev --no-seed` starts without it');
        }
        const started: string[] = [];
        for (const d of DEV_DEPLOYABLES) {
          if (only && !only.includes(d.name)) continue;
          if (!existsSync(path.join(root, d.entry))) continue;
          const spec: ProcessSpec = {
            name: d.name,
            command: process.execPath,
            args: tsEntryArgs(path.join(root, d.entry)),
            env: { ...sharedEnv, PORT: String(d.port), ...d.env },
            cwd: root,
            readyUrl: `http://127.0.0.1:${d.port}/readyz`,
            readyTimeoutMs: 90_000,
          };
          say(`starting ${d.name} on :${d.port}`);
          await sup.start(spec);
          started.push(`${d.name.padEnd(18)} http://127.0.0.1:${d.port}${d.adminPort ? `  (admin :${d.adminPort})` : ''}`);
        }
        const front = started.some((s) => s.startsWith('gateway')) ? 8080 : 3000;
        process.stderr.write(
          [
            '',
            'Carve is running:',
            ...started.map((s) => `  ${s}`),
            '',
            'Try:',
            `  curl -H "authorization: Bearer $(npx carve token)" localhost:${front}/api/v1/workspaces/${DEMO.workspaceId}/notes`,
            '',
            'Ctrl-C stops everything.',
            '',
          ].join('\n'),
        );
        const first = await sup.firstExit();
        await shutdown(`${first.name} exited with code ${first.code}`, 1);
      } catch (err) {
        await sup.stopAll();
        await db.stop();
        throw err;
      }
    });
}
