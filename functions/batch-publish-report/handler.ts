import { taskHandler } from '../../lib/batch/handler';
import { publishReportTask } from '../../lib/batch/report';

/** The batch-scoring state machine's PublishReport task (state-machines/batch-scoring.asl.yml); the logic is lib/batch/report.ts. */
export const handler = taskHandler(publishReportTask);
