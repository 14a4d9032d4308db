import type { Command } from 'commander';
import { registerSchemas } from './schemas';

/** A command module adds its subcommand (with options and `--help`) to the program. */
export type RegisterCommand = (program: Command) => void;

/** Every `logbase` subcommand. Add a new command module here. */
export const commands: RegisterCommand[] = [registerSchemas];
