import { join } from 'node:path';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { s3Client } from '../../lib/aws/clients';
import { HourMerger } from '../../lib/compact/merge';
import { logger, metrics, tracer } from '../../lib/powertools';
import { type CompactLakeDeps, runScheduledCompaction } from './compact';
import { loadCompactConfig } from './config';

export function createHandler(deps: CompactLakeDeps) {
  return middy<unknown, unknown>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async () => {
      const summary = await runScheduledCompaction(deps);
      return { ...summary.totals, record: summary.record };
    });
}

const config = loadCompactConfig();
let merger: Promise<HourMerger> | undefined;

/** EventBridge schedule (params.compactSchedule): compacts the hours closed since the last runs. */
export const handler = createHandler({
  config,
  s3: tracer.captureAWSv3Client(s3Client()),
  merger: () => {
    merger ??= HourMerger.open({
      tempDirectory: join(config.workDir, 'duckdb-spill'),
      memoryLimit: config.duckDbMemoryLimit,
    });
    return merger;
  },
  now: () => new Date(),
});
