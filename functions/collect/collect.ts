import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { putToFirehose } from '../../lib/aws/firehose';
import { putToKinesis } from '../../lib/aws/kinesis';
import { putQuarantine } from '../../lib/aws/quarantine';
import type { RetryOptions, WriteResult } from '../../lib/aws/retry';
import { apiKeyRefusal } from '../../lib/domain/api-keys';
import { type PreparedRequest, prepareRequest } from '../../lib/domain/collect';
import { collectAnswer, malformedBodyAnswer } from '../../lib/domain/collect-answer';
import {
  malformedBodyLine,
  type QuarantineContext,
  type QuarantineLine,
  quarantineKey,
  rejectionLines,
} from '../../lib/domain/collect-quarantine';
import { CollectRequestError, MalformedBodyError, requestBody } from '../../lib/domain/http-body';
import { logger, metrics } from '../../lib/powertools';
import { EVENT_TYPES } from '../../lib/schemas';
import type { CollectConfig } from './config';

/** What collect needs from the outside world; the handler wires the real ones, tests their own. */
export interface CollectDeps {
  config: CollectConfig;
  firehose: FirehoseClient;
  kinesis: KinesisClient;
  s3: S3Client;
  /** The accepted API keys (cached by the loader). */
  apiKeys: () => Promise<string[]>;
  /** The time a request is received. */
  now: () => Date;
  /** Retry tuning for the stream writes; the deadline comes from the Lambda's remaining time. */
  retry?: Omit<RetryOptions, 'deadline'>;
  /** Milliseconds kept back from the Lambda's remaining time to answer after the last write. */
  deadlineMarginMs?: number;
}

type Response = APIGatewayProxyStructuredResultV2;

const NOTHING_WRITTEN: WriteResult = { written: [], failed: [] };

function reply(statusCode: number, body: object, headers: Record<string, string> = {}): Response {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

function lowerCaseHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}

/** Counts per event_type dimension; a type outside the registry counts as "unknown" to bound cardinality. */
function emitPerType(name: string, types: readonly (string | undefined)[]): void {
  const counts = new Map<string, number>();
  for (const type of types) {
    const key = type !== undefined && (EVENT_TYPES as readonly string[]).includes(type) ? type : 'unknown';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const [eventType, count] of counts) {
    const single = metrics.singleMetric();
    single.addDimension('event_type', eventType);
    single.addMetric(name, MetricUnit.Count, count);
  }
}

/**
 * POST /v1/events: authenticate, decode and validate, then write clicks to Kinesis and the rest
 * to Firehose (concurrently) and rejected events to quarantine. Answers 202 with what was
 * accepted and rejected, or 503 listing the events to resend when some could not be stored.
 */
export async function collect(
  event: APIGatewayProxyEventV2,
  context: Context,
  deps: CollectDeps,
): Promise<Response> {
  // The Lambda request id is unique per invocation everywhere (serverless-offline gives every HTTP request
  // the same API Gateway request id), names the request's quarantine object, and matches the function logs.
  const requestId = context.awsRequestId;
  const receivedAt = deps.now();
  logger.appendKeys({ request_id: requestId, api_request_id: event.requestContext?.requestId });
  // One request-level metric per invocation, so every invocation publishes (per-type counts go out as single metrics).
  metrics.addMetric('Requests', MetricUnit.Count, 1);
  const headers = lowerCaseHeaders(event.headers);

  const refused = await apiKeyRefusal(headers['x-api-key'], deps.apiKeys);
  if (refused) {
    logger.warn(refused.log);
    return reply(401, { message: refused.message, request_id: requestId });
  }

  const clock = deps.retry?.now ?? Date.now;
  const deadline = clock() + context.getRemainingTimeInMillis() - (deps.deadlineMarginMs ?? 1_500);
  const quarantine: QuarantineContext = {
    requestId,
    receivedAt,
    source: {
      ip: event.requestContext?.http?.sourceIp ?? null,
      user_agent: headers['user-agent'] ?? event.requestContext?.http?.userAgent ?? null,
    },
  };
  const writeQuarantine = async (lines: QuarantineLine[]): Promise<string | undefined> => {
    const key = quarantineKey(requestId, receivedAt);
    try {
      await putQuarantine(deps.s3, deps.config.dataBucket, key, lines, {
        abortSignal: AbortSignal.timeout(Math.max(1, deadline - clock())),
      });
      return undefined;
    } catch (error) {
      logger.error('quarantine write failed', { key, lines: lines.length, error: error as Error });
      metrics.addMetric('QuarantineFailed', MetricUnit.Count, lines.length);
      return `${(error as Error).name}: ${(error as Error).message}`;
    }
  };

  const { bytes: body, text } = requestBody(event.body, event.isBase64Encoded);
  let prepared: PreparedRequest;
  try {
    prepared = prepareRequest(
      {
        body,
        text,
        contentType: headers['content-type'],
        contentEncoding: headers['content-encoding'],
        receivedAt,
        requestId,
      },
      deps.config.limits,
    );
  } catch (error) {
    if (!(error instanceof CollectRequestError)) throw error;
    logger.warn('request rejected', { status: error.statusCode, reason: error.message, bytes: body.length });
    if (error instanceof MalformedBodyError) {
      const problem = await writeQuarantine([malformedBodyLine(error.body, error.message, quarantine)]);
      const answer = malformedBodyAnswer(error.message, problem, requestId);
      return reply(answer.status, answer.body, answer.headers);
    }
    return reply(error.statusCode, { message: error.message, request_id: requestId });
  }

  const retry = { ...deps.retry, deadline };
  const [events, clicks, quarantineProblem] = await Promise.all([
    prepared.events.length > 0
      ? putToFirehose(deps.firehose, deps.config.eventsDeliveryStream, prepared.events, retry)
      : NOTHING_WRITTEN,
    prepared.clicks.length > 0
      ? putToKinesis(deps.kinesis, deps.config.clicksStream, prepared.clicks, retry)
      : NOTHING_WRITTEN,
    prepared.rejected.length > 0 ? writeQuarantine(rejectionLines(prepared.rejected, quarantine)) : undefined,
  ]);

  const answer = collectAnswer(prepared, { events, clicks, quarantineProblem }, requestId);
  emitPerType('Accepted', answer.types.accepted);
  emitPerType('Rejected', answer.types.rejected);
  emitPerType('Failed', answer.types.failed);
  logger.info('collected', {
    format: prepared.format,
    bytes: prepared.bytes,
    events: prepared.eventCount,
    accepted: answer.body.accepted,
    rejected: answer.body.rejected.length,
    failed: answer.body.failed?.length ?? 0,
  });
  if (answer.status === 503) {
    logger.warn('events not stored after retries', {
      failed: answer.body.failed?.length,
      codes: answer.failureCodes,
    });
  }
  return reply(answer.status, answer.body, answer.headers);
}
