import { registerArticles } from './articles';
import { registerBackfill } from './backfill';
import { registerCompact } from './compact';
import { registerDatasets } from './datasets';
import { registerDev } from './dev';
import { registerQuery } from './query';
import { registerRedrive } from './redrive';
import { registerRedriveSources } from './redrive-sources';
import type { RegisterCommand } from './register';
import { registerReplay } from './replay';
import { registerReport } from './report';
import { registerRun } from './run';
import { registerSchemas } from './schemas';
import { registerSend } from './send';
import { registerStatus } from './status';

// Command modules import RegisterCommand from './register', not from here (no import cycle).
export type { RegisterCommand } from './register';

/** Every `logbase` subcommand. Add a new command module here. */
export const commands: RegisterCommand[] = [registerSchemas, registerSend, registerDev, registerArticles];
commands.push(registerReport);
commands.push(registerQuery);
commands.push(registerRun);
commands.push(registerReplay);
commands.push(registerBackfill);
commands.push(registerRedrive);
commands.push(registerRedriveSources);
commands.push(registerCompact);
commands.push(registerStatus);
commands.push(registerDatasets);
