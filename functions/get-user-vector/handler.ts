import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { loadApiKeys } from '../../lib/aws/api-keys';
import { dynamoDbClient } from '../../lib/aws/clients';
import { getUserItem } from '../../lib/aws/user-vectors';
import { optionalEnv, requireEnv } from '../../lib/config';
import { isValidApiKey } from '../../lib/domain/api-keys';
import { decodeVector } from '../../lib/domain/vectors';
import { logger, metrics, tracer } from '../../lib/powertools';

/** Settings of GET /v1/users/{id}/vector, read once at start-up. */
export interface GetUserVectorConfig {
  userVectorsTable: string;
  apiKeysParameter: string;
  apiKeys: string;
}

export function loadGetUserVectorConfig(env: NodeJS.ProcessEnv = process.env): GetUserVectorConfig {
  return {
    userVectorsTable: requireEnv('USER_VECTORS_TABLE', env),
    apiKeysParameter: optionalEnv('API_KEYS_PARAMETER', '', env),
    apiKeys: optionalEnv('API_KEYS', '', env),
  };
}

export interface GetUserVectorDeps {
  config: GetUserVectorConfig;
  dynamodb: DynamoDBClient;
  apiKeys: () => Promise<string[]>;
}

type Response = APIGatewayProxyStructuredResultV2;

const reply = (statusCode: number, body: Record<string, unknown>): Response => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** GET /v1/users/{id}/vector: the user's vector (as numbers), its history length and last update. */
export async function getUserVector(
  event: APIGatewayProxyEventV2,
  deps: GetUserVectorDeps,
): Promise<Response> {
  let presented: string | undefined;
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'x-api-key') presented = value;
  }
  if (presented === undefined || presented === '') return reply(401, { message: 'missing x-api-key header' });
  if (!isValidApiKey(presented, await deps.apiKeys())) return reply(401, { message: 'invalid API key' });

  const userId = event.pathParameters?.id;
  if (userId === undefined || userId === '' || userId.length > 128) {
    return reply(400, { message: 'the path needs a user id of 1-128 characters: /v1/users/{id}/vector' });
  }
  const user = await getUserItem(deps.dynamodb, deps.config.userVectorsTable, userId);
  if (!user) {
    metrics.addMetric('UserVectorNotFound', MetricUnit.Count, 1);
    return reply(404, {
      message: `no vector for user ${JSON.stringify(userId)}: none of their clicks has been applied`,
    });
  }
  return reply(200, {
    user_id: user.userId,
    vector: Array.from(decodeVector(user.vector)),
    history_length: user.historyLength,
    pending: user.pending,
    updated_at: user.updatedAt,
    version: user.version,
  });
}

export function createHandler(deps: GetUserVectorDeps) {
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
    .handler((event) => getUserVector(event, deps));
}

const config = loadGetUserVectorConfig();
const deps: GetUserVectorDeps = {
  config,
  dynamodb: tracer.captureAWSv3Client(dynamoDbClient()),
  apiKeys: () => loadApiKeys({ parameterName: config.apiKeysParameter, inlineKeys: config.apiKeys }),
};

/** GET /v1/users/{id}/vector (API Gateway HTTP API, payload 2.0). */
export const handler = createHandler(deps);
