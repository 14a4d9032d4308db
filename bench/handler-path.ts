/**
 * The collect handler's work on one request from the moment it has the body to the SDK calls
 * (handleRequest), and the validation plus serialization part of it (validateAndSerialize),
 * for bench/collect.ts, which bundles this file with the deployed esbuild settings. It follows
 * functions/collect/collect.ts step for step (keep the two in step): the body as API Gateway
 * hands it over, decoded and validated by prepareRequest, then the writers cut the batches and
 * build the PutRecordBatch / PutRecords inputs, and the rejected events become the gzip
 * quarantine object. The clients answer at once that everything was taken and the time is read
 * at the last SDK call, so the figure stops where the SDK starts. The API key check (one cached lookup per request), logging, metrics and
 * the response come before or after and are left out.
 */
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { putToFirehose } from '../lib/aws/firehose';
import { putToKinesis } from '../lib/aws/kinesis';
import { putQuarantine } from '../lib/aws/quarantine';
import { type CollectLimits, type PreparedRequest, prepareRequest } from '../lib/domain/collect';
import { type QuarantineContext, quarantineKey, rejectionLines } from '../lib/domain/collect-quarantine';
import { requestBody } from '../lib/domain/http-body';

/** One POST /v1/events as the Lambda receives it (API Gateway HTTP API, payload 2.0). */
export interface ApiRequest {
  body: string;
  isBase64Encoded: boolean;
  contentEncoding?: string;
  requestId: string;
}

// Clients that take every record at once and note when they were called: what is measured ends
// where the last SDK call of the request begins.
let lastSend = 0;
function sent<T>(response: T): Promise<T> {
  lastSend = performance.now();
  return Promise.resolve(response);
}
const firehose = {
  send: () => sent({ FailedPutCount: 0, RequestResponses: [] }),
} as unknown as FirehoseClient;
const kinesis = { send: () => sent({ FailedRecordCount: 0, Records: [] }) } as unknown as KinesisClient;
const s3 = { send: () => sent({}) } as unknown as S3Client;

/**
 * Validation plus serialization of one request, the figure the collect issue sets a target for:
 * from `event.body` as API Gateway hands it over to the records ready for the streams and the
 * rejections ready for quarantine (functions/collect/collect.ts up to prepareRequest). Answers
 * how many events the request had.
 */
export function validateAndSerialize(request: ApiRequest, limits: CollectLimits, receivedAt: Date): number {
  return prepare(request, limits, receivedAt).eventCount;
}

/** requestBody + prepareRequest on one request, as collect.ts calls them. */
function prepare(request: ApiRequest, limits: CollectLimits, receivedAt: Date): PreparedRequest {
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
  );
}

/**
 * Runs the handler's path for one request. Answers how many events it had, how many were
 * rejected, and how long it took from the start to the last SDK call (ms; what comes after the
 * calls, reading their answers, is not part of the figure).
 */
export async function handleRequest(
  request: ApiRequest,
  limits: CollectLimits,
  receivedAt: Date,
): Promise<{ events: number; rejected: number; ms: number }> {
  const start = performance.now();
  const prepared = prepare(request, limits, receivedAt);
  const deadline = Date.now() + 10_000;
  const quarantine: QuarantineContext = {
    requestId: request.requestId,
    receivedAt,
    source: { ip: '127.0.0.1', user_agent: 'bench' },
  };
  await Promise.all([
    prepared.events.length > 0
      ? putToFirehose(firehose, 'bench-events', prepared.events, { deadline })
      : undefined,
    prepared.clicks.length > 0
      ? putToKinesis(kinesis, 'bench-clicks', prepared.clicks, { deadline })
      : undefined,
    prepared.rejected.length > 0
      ? putQuarantine(
          s3,
          'bench-data',
          quarantineKey(request.requestId, receivedAt),
          rejectionLines(prepared.rejected, quarantine),
          { abortSignal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) },
        )
      : undefined,
  ]);
  return { events: prepared.eventCount, rejected: prepared.rejected.length, ms: lastSend - start };
}
