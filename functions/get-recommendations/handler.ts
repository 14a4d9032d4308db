import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { loadApiKeys } from '../../lib/aws/api-keys';
import { dynamoDbClient } from '../../lib/aws/clients';
import { recommendationFromItem } from '../../lib/batch/tasks';
import { optionalEnv, requireEnv } from '../../lib/config';
import { isValidApiKey } from '../../lib/domain/api-keys';
import { recommendationsAnswer } from '../../lib/domain/batch/recommendations';
import { logger, metrics, tracer } from '../../lib/powertools';

/** Settings of GET /v1/users/{id}/recommendations, read once at start-up. */
export interface GetRecommendationsConfig {
  recommendationsTable: string;
  apiKeysParameter: string;
  apiKeys: string;
}

export function loadGetRecommendationsConfig(env: NodeJS.ProcessEnv = process.env): GetRecommendationsConfig {
  return {
    recommendationsTable: requireEnv('RECOMMENDATIONS_TABLE', env),
    apiKeysParameter: optionalEnv('API_KEYS_PARAMETER', '', env),
    apiKeys: optionalEnv('API_KEYS', '', env),
  };
}

export interface GetRecommendationsDeps {
  config: GetRecommendationsConfig;
  dynamodb: DynamoDBClient;
  apiKeys: () => Promise<string[]>;
}

type Response = APIGatewayProxyStructuredResultV2;

const reply = (statusCode: number, body: unknown): Response => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** GET /v1/users/{id}/recommendations: the latest batch run's list (404 unknown user; popular marked). */
export async function getRecommendations(
  event: APIGatewayProxyEventV2,
  deps: GetRecommendationsDeps,
): Promise<Response> {
  let presented: string | undefined;
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'x-api-key') presented = value;
  }
  if (!presented) return reply(401, { message: 'missing x-api-key header' });
  if (!isValidApiKey(presented, await deps.apiKeys())) return reply(401, { message: 'invalid API key' });
  const userId = event.pathParameters?.id;
  if (userId === undefined || userId === '' || userId.length > 128) {
    return reply(400, {
      message: 'the path needs a user id of 1-128 characters: /v1/users/{id}/recommendations',
    });
  }
  const out = await deps.dynamodb.send(
    new GetItemCommand({ TableName: deps.config.recommendationsTable, Key: { user_id: { S: userId } } }),
  );
  const answer = recommendationsAnswer(out.Item ? recommendationFromItem(out.Item) : undefined);
  return reply(answer.statusCode, answer.body);
}

export function createHandler(deps: GetRecommendationsDeps) {
  return middy<APIGatewayProxyEventV2, Response>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics))
    .use(
      httpErrorHandler({
        logger: (error: unknown) => logger.error('unexpected error', error as Error),
        fallbackMessage: JSON.stringify({ message: 'internal error' }),
      }),
    )
    .handler((event) => getRecommendations(event, deps));
}

/** The Lambda entry point: settings and clients created on first use (the module stays importable in tests). */
let created: ReturnType<typeof createHandler> | undefined;
export const handler = (event: APIGatewayProxyEventV2, context: import('aws-lambda').Context) => {
  if (!created) {
    const config = loadGetRecommendationsConfig();
    created = createHandler({
      config,
      dynamodb: tracer.captureAWSv3Client(dynamoDbClient()),
      apiKeys: () => loadApiKeys({ parameterName: config.apiKeysParameter, inlineKeys: config.apiKeys }),
    });
  }
  return created(event, context);
};
