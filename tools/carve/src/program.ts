import { Command } from 'commander';
import { commands } from './commands';
import { newProgram } from './cli-program';

/** The `carve` program with every sub-command (each lives in ./commands, one file each). */
export function buildProgram(): Command {
  const program = newProgram();
  for (const register of commands) register(program);
  return program;
}
