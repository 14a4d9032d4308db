import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { loadApiKeys } from '../../lib/aws/api-keys';
import { dynamoDbClient } from '../../lib/aws/clients';
import { getUserItem } from '../../lib/aws/user-vectors';
import { optionalEnv, requireEnv } from '../../lib/config';
import { decodeVector } from '../../lib/domain/vectors';
import { metrics, tracer } from '../../lib/powertools';
import { type Response, reply, userRouteHandler, userRouteRequest } from '../../lib/user-route';

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

/** GET /v1/users/{id}/vector: the user's vector (as numbers), its history length and last update. */
export async function getUserVector(
  event: APIGatewayProxyEventV2,
  deps: GetUserVectorDeps,
): Promise<Response> {
  const request = await userRouteRequest(event, deps.apiKeys, 'vector');
  if ('response' in request) return request.response;
  const { userId } = request;
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
  return userRouteHandler((event) => getUserVector(event, deps));
}

const config = loadGetUserVectorConfig();
const deps: GetUserVectorDeps = {
  config,
  dynamodb: tracer.captureAWSv3Client(dynamoDbClient()),
  apiKeys: () => loadApiKeys({ parameterName: config.apiKeysParameter, inlineKeys: config.apiKeys }),
};

/** GET /v1/users/{id}/vector (API Gateway HTTP API, payload 2.0). */
export const handler = createHandler(deps);
