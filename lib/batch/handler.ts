import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { athenaClient, dynamoDbClient, s3Client, snsClient } from '../aws/clients';
import { logger, metrics, tracer } from '../powertools';
import { type BatchDeps, loadBatchConfig } from './tasks';

let shared: BatchDeps | undefined;

/** Settings and clients, created once per container on first use (traced on AWS). */
export function batchDeps(): BatchDeps {
  if (shared) return shared;
  const config = loadBatchConfig();
  shared = {
    config,
    s3: tracer.captureAWSv3Client(s3Client()),
    ddb: tracer.captureAWSv3Client(dynamoDbClient()),
    sns: tracer.captureAWSv3Client(snsClient()),
    athena: config.statsEngine === 'athena' ? tracer.captureAWSv3Client(athenaClient()) : undefined,
    now: () => new Date(),
  };
  return shared;
}

/** A batch task as a Lambda handler: the middy chain (logger, tracer without responses, metrics) around it. */
export function taskHandler<E, R>(
  task: (event: E, deps: BatchDeps) => Promise<R>,
  deps: () => BatchDeps = batchDeps,
) {
  return middy<E, R>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const result = await task(event, deps());
      logger.info('batch task done', { result: result as unknown as Record<string, unknown> });
      return result;
    });
}
