import { Command } from 'commander';
import { commands } from './commands';

/** Builds the `logbase` program: every command registers itself from cli/commands. */
export function buildProgram(): Command {
  const program = new Command('logbase')
    .description('logbase: collect, land, format and score product logs on AWS serverless')
    .version(require('../package.json').version)
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  for (const register of commands) register(program);
  return program;
}

/** Entry point of bin/logbase.cjs. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
