import type { Command } from 'commander';
import { registerKafka } from './kafka';
import { registerToken } from './token';

/** Each command module exports a `register(program)` function; add new ones here. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerKafka, registerToken];
