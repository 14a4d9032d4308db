import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { loadApiKeys } from '../../lib/aws/api-keys';
import { firehoseClient, kinesisClient, s3Client } from '../../lib/aws/clients';
import { logger, metrics, tracer } from '../../lib/powertools';
import { type CollectDeps, collect } from './collect';
import { type CollectConfig, loadCollectConfig } from './config';

/** The real dependencies for a configuration: traced SDK clients and the configured API key source. */
export function collectDeps(config: CollectConfig): CollectDeps {
  return {
    config,
    // One retry layer for the stream writes: writeWithRetry (lib/aws/retry.ts), so the clients make one attempt.
    firehose: tracer.captureAWSv3Client(firehoseClient(process.env, { maxAttempts: 1 })),
    kinesis: tracer.captureAWSv3Client(kinesisClient(process.env, { maxAttempts: 1 })),
    s3: tracer.captureAWSv3Client(s3Client()),
    apiKeys: () => loadApiKeys({ parameterName: config.apiKeysParameter, inlineKeys: config.apiKeys }),
    now: () => new Date(),
  };
}

/** The middy chain around collect: logger, tracer and metrics first, the HTTP error handler last. */
export function createHandler(deps: CollectDeps) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(
      httpErrorHandler({
        logger: (error: unknown) => logger.error('unexpected error', error as Error),
        fallbackMessage: JSON.stringify({ message: 'internal error' }),
      }),
    )
    .handler((event, context) => collect(event, context, deps));
}

// Settings and SDK clients are created once per container, at start-up.
const deps = collectDeps(loadCollectConfig());

/** POST /v1/events (API Gateway HTTP API, payload 2.0). */
export const handler = createHandler(deps);
