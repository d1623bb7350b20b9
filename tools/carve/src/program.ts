import { Command } from 'commander';
import { commands } from './commands';

/** The `carve` program: every sub-command lives in ./commands, one file each. */
export function buildProgram(): Command {
  const program = new Command('carve')
    .description('Carve: take a legacy monolith apart without downtime')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  for (const register of commands) register(program);
  return program;
}
