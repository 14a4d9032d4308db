import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { apiKeyRefusal } from './domain/api-keys';
import { logger, metrics, tracer } from './powertools';

/**
 * What the read routes under /v1/users/{id}/ share: the JSON answer, the API key check (collect's
 * keys and wording), the user id from the path, and the middy chain.
 */

export type Response = APIGatewayProxyStructuredResultV2;

/** A JSON answer. */
export const reply = (statusCode: number, body: unknown): Response => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * The user id of a GET /v1/users/{id}/<route> request whose x-api-key is one of `apiKeys`, or the
 * answer to give instead: 401 without a key or with a wrong one, 400 without a user id of 1-128 characters.
 */
export async function userRouteRequest(
  event: APIGatewayProxyEventV2,
  apiKeys: () => Promise<string[]>,
  route: string,
): Promise<{ userId: string } | { response: Response }> {
  let presented: string | undefined;
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'x-api-key') presented = value;
  }
  const refused = await apiKeyRefusal(presented, apiKeys);
  if (refused) return { response: reply(401, { message: refused.message }) };
  const userId = event.pathParameters?.id;
  if (userId === undefined || userId === '' || userId.length > 128) {
    const message = `the path needs a user id of 1-128 characters: /v1/users/{id}/${route}`;
    return { response: reply(400, { message }) };
  }
  return { userId };
}

/** The middy chain of a read route: logger, tracer (responses not captured) and metrics, the HTTP error handler last. */
export function userRouteHandler(run: (event: APIGatewayProxyEventV2) => Promise<Response>) {
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
    .handler(run);
}
