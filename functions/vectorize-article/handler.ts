import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, S3Event } from 'aws-lambda';
import { loadApiKeys } from '../../lib/aws/api-keys';
import { dynamoDbClient, s3Client } from '../../lib/aws/clients';
import { defaultVectorizer } from '../../lib/domain/vectorizer';
import { logger, metrics, tracer } from '../../lib/powertools';
import { loadVectorizeConfig, type VectorizeConfig } from './config';
import {
  isS3Event,
  type ObjectSummary,
  type VectorizeDeps,
  vectorizeObjects,
  vectorizeRequest,
} from './vectorize';

/** The real dependencies for a configuration: traced SDK clients, the hashing vectorizer, the API key source. */
export function vectorizeDeps(config: VectorizeConfig): VectorizeDeps {
  return {
    config,
    dynamodb: tracer.captureAWSv3Client(dynamoDbClient()),
    s3: tracer.captureAWSv3Client(s3Client()),
    vectorizer: defaultVectorizer,
    apiKeys: () => loadApiKeys({ parameterName: config.apiKeysParameter, inlineKeys: config.apiKeys }),
    now: () => new Date(),
  };
}

type Event = APIGatewayProxyEventV2 | S3Event;
type Result = APIGatewayProxyStructuredResultV2 | ObjectSummary[];

/**
 * The middy chain: logger, tracer (no response capture: a 202 can list 500 rejections) and
 * metrics. An HTTP request gets a 500 for an unexpected error, as collect's error handler
 * answers; an S3 invocation fails, so Lambda retries it.
 */
export function createHandler(deps: VectorizeDeps) {
  return middy<Event, Result>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event, context) => {
      if (isS3Event(event)) return vectorizeObjects(event, context, deps);
      try {
        return await vectorizeRequest(event, context, deps);
      } catch (error) {
        logger.error('unexpected error', error as Error);
        return {
          statusCode: 500,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'internal error', request_id: context.awsRequestId }),
        };
      }
    });
}

// Settings and SDK clients are created once per container, at start-up.
const deps = vectorizeDeps(loadVectorizeConfig());

/** POST /v1/articles (API Gateway HTTP API, payload 2.0) and objects created under articles/ (S3). */
export const handler = createHandler(deps);
