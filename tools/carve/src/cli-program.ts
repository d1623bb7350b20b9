/**
 * The bare `carve` program (name, version, help, exit codes), before any sub-command is added.
 * Kept free of the commands' imports so that `carve --version` and the cached help load nothing
 * else (see ./lazy.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { EXIT } from './cli-error';

export const EXIT_HELP = `
Exit codes:
  ${EXIT.ok}  done
  ${EXIT.failed}  failed (the message says why; \`next:\` says what to do)
  ${EXIT.usage}  usage: unknown command or option, bad value
  ${EXIT.refused}  refused: the move is not allowed now (stage transition, cutover checks, seed into a context its service owns)
  ${EXIT.drift}  drift: verify found differences between the monolith and the service
  ${EXIT.unreachable}  unreachable: the database or the gateway's admin API did not answer
  ${EXIT.overrides}  overrides: a whole-context move would move workspaces held at a stage of their own (see --include-overrides)

Commands that change state take --json (one JSON object on stdout; messages stay on stderr).
`;

/**
 * The CLI's version: the nearest package.json above this file named @carve/cli
 * (tools/carve/package.json in the repository, the runtime package.json of a build).
 */
export function cliVersion(): string {
  for (let dir = __dirname; ; ) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@carve/cli' && pkg.version) return pkg.version;
    } catch {
      // none here
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

export function newProgram(): Command {
  return new Command('carve')
    .description('Carve: take a legacy monolith apart without downtime')
    .version(cliVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true })
    .exitOverride()
    .addHelpText('after', EXIT_HELP);
}
