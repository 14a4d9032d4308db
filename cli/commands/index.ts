import type { Command } from 'commander';
import { registerDev } from './dev';
import { registerQuery } from './query';
import { registerReport } from './report';
import { registerSchemas } from './schemas';
import { registerSend } from './send';

/** A command module adds its subcommand (with options and `--help`) to the program. */
export type RegisterCommand = (program: Command) => void;

/** Every `logbase` subcommand. Add a new command module here. */
export const commands: RegisterCommand[] = [registerSchemas, registerSend, registerDev];
commands.push(registerReport);
commands.push(registerQuery);
