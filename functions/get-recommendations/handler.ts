import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { loadApiKeys } from '../../lib/aws/api-keys';
import { dynamoDbClient } from '../../lib/aws/clients';
import { recommendationFromItem } from '../../lib/batch/tasks';
import { optionalEnv, requireEnv } from '../../lib/config';
import { recommendationsAnswer } from '../../lib/domain/batch/recommendations';
import { tracer } from '../../lib/powertools';
import { type Response, reply, userRouteHandler, userRouteRequest } from '../../lib/user-route';

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

/** GET /v1/users/{id}/recommendations: the latest batch run's list (404 unknown user; popular marked). */
export async function getRecommendations(
  event: APIGatewayProxyEventV2,
  deps: GetRecommendationsDeps,
): Promise<Response> {
  const request = await userRouteRequest(event, deps.apiKeys, 'recommendations');
  if ('response' in request) return request.response;
  const { userId } = request;
  const out = await deps.dynamodb.send(
    new GetItemCommand({ TableName: deps.config.recommendationsTable, Key: { user_id: { S: userId } } }),
  );
  const answer = recommendationsAnswer(out.Item ? recommendationFromItem(out.Item) : undefined);
  return reply(answer.statusCode, answer.body);
}

export function createHandler(deps: GetRecommendationsDeps) {
  return userRouteHandler((event) => getRecommendations(event, deps));
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
