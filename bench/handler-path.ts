/**
 * What bench/collect.ts bundles with the deployed esbuild settings: collect() itself (the handler
 * minus its middy chain), with stub clients that take every record at once or with real ones, and
 * the validation plus serialization part of it (requestBody + prepareRequest, the ratio the collect
 * issue first set a target for).
 */
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { type CollectDeps, collect } from '../functions/collect/collect';
import type { CollectConfig } from '../functions/collect/config';
import { firehoseClient, kinesisClient, s3Client } from '../lib/aws/clients';
import { type CollectLimits, prepareRequest } from '../lib/domain/collect';
import { requestBody } from '../lib/domain/http-body';

export { collect };

/** One POST /v1/events as the Lambda receives it (API Gateway HTTP API, payload 2.0). */
export interface ApiRequest {
  body: string;
  isBase64Encoded: boolean;
  contentEncoding?: string;
  requestId: string;
}

/** Clients that answer at once that every record was taken, as a service with no latency would. */
const stubClients = {
  firehose: {
    send: async (command: { input: { Records?: unknown[] } }) => ({
      FailedPutCount: 0,
      RequestResponses: (command.input.Records ?? []).map((_, i) => ({ RecordId: `r${i}` })),
    }),
  } as unknown as FirehoseClient,
  kinesis: {
    send: async (command: { input: { Records?: unknown[] } }) => ({
      FailedRecordCount: 0,
      Records: (command.input.Records ?? []).map((_, i) => ({
        SequenceNumber: `${i}`,
        ShardId: 'shardId-0',
      })),
    }),
  } as unknown as KinesisClient,
  s3: { send: async () => ({}) } as unknown as S3Client,
};

/** collect's dependencies: stub clients, or the real ones of this environment (e.g. the local stack's). */
export function benchDeps(config: CollectConfig, clients: 'stub' | 'real'): CollectDeps {
  const real = () => ({
    firehose: firehoseClient(process.env, { maxAttempts: 1 }),
    kinesis: kinesisClient(process.env, { maxAttempts: 1 }),
    s3: s3Client(),
  });
  return {
    config,
    ...(clients === 'stub' ? stubClients : real()),
    apiKeys: async () => [config.apiKeys],
    now: () => new Date(),
  };
}

/** The API Gateway event of a request, with the API key. */
export function apiEvent(request: ApiRequest, apiKey: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /v1/events',
    rawPath: '/v1/events',
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      ...(request.contentEncoding ? { 'content-encoding': request.contentEncoding } : {}),
    },
    requestContext: { requestId: request.requestId, http: { sourceIp: '127.0.0.1', userAgent: 'bench' } },
    body: request.body,
    isBase64Encoded: request.isBase64Encoded,
  } as unknown as APIGatewayProxyEventV2;
}

/** A Lambda context with 15 s left, its request id the request's. */
export function lambdaContext(requestId: string): Context {
  return { awsRequestId: requestId, getRemainingTimeInMillis: () => 15_000 } as unknown as Context;
}

/**
 * Validation plus serialization of one request: from `event.body` as API Gateway hands it over to
 * the records ready for the streams and the rejections ready for quarantine. Answers how many
 * events the request had.
 */
export function validateAndSerialize(request: ApiRequest, limits: CollectLimits, receivedAt: Date): number {
  const { bytes: body, text } = requestBody(request.body, request.isBase64Encoded);
  return prepareRequest(
    {
      body,
      text,
      contentType: 'application/json',
      contentEncoding: request.contentEncoding,
      receivedAt,
      requestId: request.requestId,
    },
    limits,
  ).eventCount;
}
