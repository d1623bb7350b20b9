import { CommanderError } from 'commander';
import { EXIT } from './cli-error';
import { cliVersion, newProgram } from './cli-program';
import { readManifest, registerAll, registerOne } from './lazy';

function fail(err: unknown): never {
  if (err instanceof CommanderError) {
    // Commander printed it already (help, version, or the usage error and the help after it).
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage);
  }
  const e = err as Error & { hint?: string; exitCode?: unknown };
  process.stderr.write(`carve: ${e.message}\n`);
  if (e.hint) process.stderr.write(`  next: ${e.hint}\n`);
  process.exit(typeof e.exitCode === 'number' ? e.exitCode : EXIT.failed);
}

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${cliVersion()}\n`);
  process.exit(EXIT.ok);
}
const manifest = readManifest();
if (manifest?.help && args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
  process.stdout.write(manifest.help);
  process.exit(EXIT.ok);
}

const program = newProgram();
if (!manifest || !args[0] || !registerOne(program, manifest, args[0])) registerAll(program);
program.parseAsync(process.argv).catch(fail);
