import type { Command } from 'commander';
import { registerCarving } from './carving';
import { registerDb } from './db';
import { registerDeploy } from './deploy';
import { registerDev } from './dev';
import { registerEvents } from './events';
import { registerGateway } from './gateway';
import { registerKafka } from './kafka';
import { registerMove } from './move';
import { registerOperator } from './operator';
import { registerRelay } from './relay';
import { registerSeed } from './seed';
import { registerToken } from './token';

/** Each command module exports a `register(program)` function; add new ones here. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerDev, registerKafka, registerSeed, registerToken, registerRelay, registerEvents, registerGateway, registerOperator, registerDeploy, registerDb, registerCarving, registerMove];
