import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** One logger, metrics and tracer for every handler; service name and namespace come from the environment. */
export const logger = new Logger();
export const metrics = new Metrics();
export const tracer = new Tracer({
  enabled: process.env.LOGBASE_LOCAL !== 'true' && !!process.env.AWS_EXECUTION_ENV,
});
