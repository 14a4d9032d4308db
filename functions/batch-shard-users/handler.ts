import { taskHandler } from '../../lib/batch/handler';
import { shardUsersTask } from '../../lib/batch/tasks';

/** The batch-scoring state machine's task (state-machines/batch-scoring.asl.yml); the logic is lib/batch/tasks.ts. */
export const handler = taskHandler(shardUsersTask);
