import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, PARENT_PID_ENV } from '@carve/shared-http';
import { resolveDatabase } from '@carve/shared-persistence';
import { CliError } from '../cli-error';
import { DEMO } from '../demo';
import { ADMIN_PORT_NAME, DEMO_SEED_ENTRY, DEV_DEPLOYABLES, type DevDeployable, devPorts } from '../dev/deployables';
import { type ProcessSpec, Supervisor, type SupervisorEvent } from '../dev/supervisor';
import { repoRoot, tsEntryArgs } from '../paths';

const say = (line: string) => process.stderr.write(`carve dev: ${line}\n`);

function describe(e: SupervisorEvent): string {
  switch (e.kind) {
    case 'exited':
      return `${e.name} exited (${e.signal ? `signal ${e.signal}` : `code ${e.code}`}); restarting it in ${(e.restartInMs / 1000).toFixed(1)} s (restart #${e.restarts}), the others keep serving`;
    case 'restarted':
      return `${e.name} is back (pid ${e.pid}, restart #${e.restarts})`;
    case 'restart-failed':
      return `${e.name} did not come back: ${e.error}`;
  }
}

/**
 * The gateway's route table with the upstreams on the ports of this run: the dev table itself on
 * the default ports (so edits to it hot-reload), else a copy under .carve/ with the ports replaced.
 */
function routesFileFor(root: string, gateway: DevDeployable, ports: Map<string, number>): { file: string; cleanup: () => void } {
  const file = gateway.env?.CARVE_ROUTES_FILE ?? 'apps/gateway/routes/dev.yaml';
  const moved = DEV_DEPLOYABLES.filter((d) => d !== gateway && ports.get(d.name) !== d.port);
  if (moved.length === 0) return { file, cleanup: () => undefined };
  let text = readFileSync(path.join(root, file), 'utf8');
  for (const d of moved) text = text.replaceAll(`127.0.0.1:${d.port}`, `127.0.0.1:${ports.get(d.name)}`);
  const copy = path.join(root, '.carve', `dev-routes-${ports.get(gateway.name)}.yaml`);
  mkdirSync(path.dirname(copy), { recursive: true });
  writeFileSync(copy, `# Written by \`carve dev\` from ${file} for the ports in CARVE_DEV_PORTS; removed when it stops.\n${text}`);
  return { file: copy, cleanup: () => rmSync(copy, { force: true }) };
}

/** The newest modification time (ms) of the files under `dir` (0 when there is none). */
function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Whether the web console the gateway serves at /console (dist/apps/console, `nx build console`)
 * is missing or older than its sources. Not when CARVE_CONSOLE_DIR names another build.
 */
function consoleNeedsBuild(root: string): boolean {
  if (process.env.CARVE_CONSOLE_DIR) return false;
  const built = path.join(root, 'dist/apps/console/index.html');
  if (!existsSync(built)) return true;
  const app = path.join(root, 'apps/console');
  const sources = Math.max(newestMtime(path.join(app, 'src')), ...['index.html', 'vite.config.ts'].map((f) => (existsSync(path.join(app, f)) ? statSync(path.join(app, f)).mtimeMs : 0)));
  return sources > statSync(built).mtimeMs;
}

/**
 * `carve dev` (what `npm start` runs): Postgres (embedded unless DATABASE_URL is set),
 * migrations and demo data, then every deployable that exists, each as its own process, the
 * gateway last on :8080, the monolith with reverse sync on (what a cutover needs). A child that
 * dies is restarted with backoff while the others keep serving (the gateway falls back to the
 * monolith meanwhile). SIGINT or SIGTERM (Ctrl-C, npm's stop, a process manager) stops
 * everything it started; the children stop by themselves if it is killed outright.
 */
export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('run Carve locally: Postgres (embedded unless DATABASE_URL), demo data, monolith, services, gateway on :8080 (ports: CARVE_DEV_PORTS=name=port,...)')
    .option('--only <names>', 'comma-separated deployables to run (default: all that exist)')
    .option('--no-seed', 'skip migrations and demo data')
    .option('--raw-logs', 'print the processes\' JSON log lines as they are')
    .action(async (opts: { only?: string; seed: boolean; rawLogs?: boolean }) => {
      const root = repoRoot();
      const only = opts.only?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = only?.filter((n) => !DEV_DEPLOYABLES.some((d) => d.name === n)) ?? [];
      if (unknown.length) {
        throw new CliError(`unknown deployable ${unknown.join(', ')}`, `choose from ${DEV_DEPLOYABLES.map((d) => d.name).join(', ')}`, 2);
      }
      let ports: Map<string, number>;
      try {
        ports = devPorts();
      } catch (err) {
        throw new CliError((err as Error).message, 'e.g. CARVE_DEV_PORTS=gateway=18080,gateway-admin=19090', 2);
      }

      const sup = new Supervisor({ raw: opts.rawLogs, onEvent: (e) => say(describe(e)) });
      let db: { url: string; stop(): Promise<void> } | undefined;
      let routes: { file: string; cleanup: () => void } | undefined;
      let shuttingDown = false;
      const shutdown = async (why: string, code: number) => {
        if (shuttingDown) return;
        shuttingDown = true;
        say(`${why}: stopping everything`);
        await sup.stopAll();
        routes?.cleanup();
        await db?.stop();
        say('stopped');
        process.exit(code);
      };
      // A terminal's Ctrl-C reaches both npm (which forwards it) and this process: one stop.
      process.on('SIGINT', () => void shutdown('interrupted', 0));
      process.on('SIGTERM', () => void shutdown('terminated', 0));
      process.on('SIGHUP', () => void shutdown('hung up', 0));

      try {
        say(process.env.DATABASE_URL ? 'using DATABASE_URL' : `starting embedded Postgres (${process.env.CARVE_PG_DATA ?? '.carve/postgres'})`);
        db = await resolveDatabase({ log: { info: (m: string) => say(m), warn: (m: string) => say(`warning: ${m}`) } });
        if (shuttingDown) return;
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

        if (opts.seed) {
          say('migrating the monolith and loading demo data');
          const code = await sup.runOnce({ name: 'seed', command: process.execPath, args: tsEntryArgs(path.join(root, DEMO_SEED_ENTRY), ['--demo']), env: sharedEnv, cwd: root });
          if (shuttingDown) return;
          if (code !== 0) throw new CliError(`demo seed failed (exit ${code})`, 'read the seed lines above; `carve dev --no-seed` starts without it');
        }
        // The monolith and the services start side by side; the gateway last, once they answer.
        const chosen = DEV_DEPLOYABLES.filter((d) => (!only || only.includes(d.name)) && existsSync(path.join(root, d.entry)));
        const gateway = chosen.find((d) => d.name === 'gateway');
        const specFor = (d: DevDeployable): ProcessSpec => {
          const port = ports.get(d.name)!;
          const env: NodeJS.ProcessEnv = { ...sharedEnv, PORT: String(port), ...d.env };
          // Behind the gateway, its access log is the one line per request (it names the side that
          // answered); the others log only what fails.
          if (gateway && d !== gateway && process.env.CARVE_ACCESS_LOG === undefined) env.CARVE_ACCESS_LOG = 'false';
          if (d.adminPort) {
            env.CARVE_ADMIN_PORT = String(ports.get(ADMIN_PORT_NAME));
            routes = routesFileFor(root, d, ports);
            env.CARVE_ROUTES_FILE = routes.file;
          }
          return { name: d.name, command: process.execPath, args: tsEntryArgs(path.join(root, d.entry)), env, cwd: root, readyUrl: `http://127.0.0.1:${port}/readyz`, readyTimeoutMs: 90_000 };
        };
        const backends = chosen.filter((d) => d !== gateway);
        for (const d of backends) say(`starting ${d.name} on :${ports.get(d.name)}`);
        await Promise.all(backends.map((d) => sup.start(specFor(d))));
        if (shuttingDown) return;
        if (gateway && existsSync(path.join(root, 'apps/console')) && consoleNeedsBuild(root)) {
          // The gateway's admin server serves the web console at /console: built once (Vite), again when its sources changed.
          say('building the web console (dist/apps/console)');
          const code = await sup.runOnce({ name: 'console-build', command: process.execPath, args: [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', path.join(root, 'apps/console')], env: sharedEnv, cwd: root });
          if (shuttingDown) return;
          if (code !== 0) say(`warning: the web console did not build (exit ${code}); the gateway serves everything else (\`npx nx build console\` says why)`);
        }
        if (gateway) {
          say(`starting gateway on :${ports.get(gateway.name)}`);
          await sup.start(specFor(gateway));
          if (shuttingDown) return;
        }
        const started = chosen.map((d) => `${d.name.padEnd(18)} http://127.0.0.1:${ports.get(d.name)}${d.adminPort ? `  (admin :${ports.get(ADMIN_PORT_NAME)})` : ''}`);
        const front = ports.get(gateway ? gateway.name : chosen[0]?.name ?? 'gateway');
        process.stderr.write(
          [
            '',
            'Carve is running:',
            ...started.map((s) => `  ${s}`),
            '',
            'Try:',
            `  curl -H "authorization: Bearer $(npx carve token)" localhost:${front}/api/v1/workspaces/${DEMO.workspaceId}/notes`,
            ...(gateway ? [`  the console: http://127.0.0.1:${ports.get(ADMIN_PORT_NAME)}/console (an operator's token: \`npx carve operator create <name> --role operator\`)`] : []),
            '',
            'A process that dies is restarted. Ctrl-C stops everything.',
            '',
          ].join('\n'),
        );
        say(`pids ${JSON.stringify({ carve: process.pid, ...sup.pids() })}`);
        // Runs until a signal: shutdown() exits the process.
        setInterval(() => undefined, 1 << 30);
        await new Promise<never>(() => undefined);
      } catch (err) {
        if (shuttingDown) return;
        shuttingDown = true;
        await sup.stopAll();
        routes?.cleanup();
        await db?.stop();
        throw err;
      }
    });
}
