import type { Command } from 'commander';

/** A command module adds its subcommand (with options and `--help`) to the program. */
export type RegisterCommand = (program: Command) => void;
