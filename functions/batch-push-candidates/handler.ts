import { taskHandler } from '../../lib/batch/handler';
import { pushCandidatesTask } from '../../lib/batch/push';

/** The batch-scoring state machine's task (state-machines/batch-scoring.asl.yml); the logic is lib/batch/push.ts. */
export const handler = taskHandler(pushCandidatesTask);
