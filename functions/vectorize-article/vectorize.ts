import { isUtf8 } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, S3Event } from 'aws-lambda';
import {
  type ArticleWriteResult,
  putArticleQuarantine,
  type UnprocessedRetryOptions,
  writeArticleVectors,
} from '../../lib/aws/article-vectors';
import { apiKeyRefusal } from '../../lib/domain/api-keys';
import {
  type ArticleDecisions,
  type ArticleQuarantineLine,
  type ArticleSource,
  articleQuarantineKey,
  articleQuarantineLines,
  decideArticles,
  jsonDocuments,
  jsonLineDocuments,
  type RawDocument,
} from '../../lib/domain/articles';
import { articlesAnswer } from '../../lib/domain/articles-answer';
import {
  CollectRequestError,
  decodeUtf8,
  MalformedBodyError,
  readBody,
  requestBody,
} from '../../lib/domain/http-body';
import type { Vectorizer } from '../../lib/domain/vectorizer';
import { logger, metrics } from '../../lib/powertools';
import type { VectorizeConfig } from './config';

/** What vectorize-article needs from the outside world; the handler wires the real ones, tests their own. */
export interface VectorizeDeps {
  config: VectorizeConfig;
  dynamodb: DynamoDBClient;
  s3: S3Client;
  vectorizer: Vectorizer;
  /** The accepted API keys (cached by the loader). */
  apiKeys: () => Promise<string[]>;
  /** The time a request or object is received. */
  now: () => Date;
  /** Retries of UnprocessedItems (clock, sleep and random injectable); the deadline comes from the Lambda's remaining time. */
  retry?: Omit<UnprocessedRetryOptions, 'deadline'>;
  /** Milliseconds kept back from the Lambda's remaining time to answer after the last write. */
  deadlineMarginMs?: number;
}

/** The retry options of one invocation: the injected ones, with a deadline before the Lambda's timeout. */
function retryWithin(context: Context, deps: VectorizeDeps): UnprocessedRetryOptions {
  const clock = deps.retry?.now ?? Date.now;
  return {
    ...deps.retry,
    deadline: clock() + context.getRemainingTimeInMillis() - (deps.deadlineMarginMs ?? 1_500),
  };
}

type Response = APIGatewayProxyStructuredResultV2;

/** What one object under articles/ came to. */
export interface ObjectSummary {
  key: string;
  documents: number;
  written: number;
  rejected: number;
  quarantineKey?: string;
}

/** Raised when an object's articles could not all be stored: the invocation fails and is retried (a replay replaces, never duplicates). */
export class ArticlesNotStoredError extends Error {
  override name = 'ArticlesNotStoredError';
}

function reply(
  statusCode: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Response {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

function lowerCaseHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {}))
    if (value !== undefined) out[name.toLowerCase()] = value;
  return out;
}

/** True for an S3 notification (the `articles/` wiring), false for an HTTP API request. */
export function isS3Event(event: unknown): event is S3Event {
  const records = (event as { Records?: { eventSource?: string }[] } | null)?.Records;
  return Array.isArray(records) && records.every((r) => r.eventSource === 'aws:s3');
}

/** Stores the decided items and quarantines the rejections, concurrently. */
async function store(
  decisions: ArticleDecisions,
  source: ArticleSource,
  quarantineName: string,
  receivedAt: Date,
  deps: VectorizeDeps,
  retry: UnprocessedRetryOptions,
): Promise<{ write: ArticleWriteResult; quarantineKey?: string; quarantineProblem?: string }> {
  const key = articleQuarantineKey(quarantineName, receivedAt);
  const [write, quarantineProblem] = await Promise.all([
    decisions.items.length > 0
      ? writeArticleVectors(deps.dynamodb, deps.config.articleVectorsTable, decisions.items, retry)
      : { written: [], failed: [] },
    decisions.rejected.length > 0
      ? quarantine(deps, key, articleQuarantineLines(decisions.rejected, source, receivedAt))
      : undefined,
  ]);
  metrics.addMetric('ArticlesWritten', MetricUnit.Count, write.written.length);
  metrics.addMetric('ArticlesRejected', MetricUnit.Count, decisions.rejected.length);
  metrics.addMetric('ArticlesFailed', MetricUnit.Count, write.failed.length);
  return {
    write,
    ...(decisions.rejected.length > 0 ? { quarantineKey: key } : {}),
    ...(quarantineProblem === undefined ? {} : { quarantineProblem }),
  };
}

async function quarantine(
  deps: VectorizeDeps,
  key: string,
  lines: ArticleQuarantineLine[],
): Promise<string | undefined> {
  try {
    await putArticleQuarantine(deps.s3, deps.config.dataBucket, key, lines);
    return undefined;
  } catch (error) {
    logger.error('quarantine write failed', { key, lines: lines.length, error: error as Error });
    metrics.addMetric('QuarantineFailed', MetricUnit.Count, lines.length);
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** The quarantine line of an input rejected as a whole (not gzip, not UTF-8, not JSON): its bytes and the reason. */
function wholeInputLine(
  bytes: Buffer,
  reason: string,
  source: ArticleSource,
  receivedAt: Date,
): ArticleQuarantineLine {
  const utf8 = isUtf8(bytes);
  return {
    received_at: receivedAt.toISOString(),
    index: null,
    article_id: null,
    errors: [{ path: '', message: reason }],
    raw: utf8 ? bytes.toString('utf8') : bytes.toString('base64'),
    ...(utf8 ? {} : { raw_encoding: 'base64' }),
    source,
  };
}

/**
 * POST /v1/articles: authenticate as collect does, read `{"articles": [...]}` or JSON lines
 * (gzip optional), vectorize the valid documents into ArticleVectors and quarantine the rest.
 * 202 `{accepted, rejected, request_id}`; 503 adds `failed` (send those again).
 */
export async function vectorizeRequest(
  event: APIGatewayProxyEventV2,
  context: Context,
  deps: VectorizeDeps,
): Promise<Response> {
  const requestId = context.awsRequestId;
  const receivedAt = deps.now();
  logger.appendKeys({ request_id: requestId, api_request_id: event.requestContext?.requestId });
  const headers = lowerCaseHeaders(event.headers);
  const refused = await apiKeyRefusal(headers['x-api-key'], deps.apiKeys);
  if (refused) {
    logger.warn(refused.log);
    return reply(401, { message: refused.message, request_id: requestId });
  }
  const source: ArticleSource = {
    kind: 'http',
    request_id: requestId,
    ip: event.requestContext?.http?.sourceIp ?? null,
    user_agent: headers['user-agent'] ?? event.requestContext?.http?.userAgent ?? null,
  };

  const { bytes: body, text: givenText } = requestBody(event.body, event.isBase64Encoded);
  let documents: RawDocument[];
  try {
    const { format, bytes, text } = readBody(
      {
        body,
        ...(givenText === undefined ? {} : { text: givenText }),
        ...(headers['content-type'] === undefined ? {} : { contentType: headers['content-type'] }),
        ...(headers['content-encoding'] === undefined
          ? {}
          : { contentEncoding: headers['content-encoding'] }),
      },
      deps.config.maxBytes,
    );
    documents =
      format === 'json'
        ? jsonDocuments(text, bytes, deps.config.maxDocuments)
        : jsonLineDocuments(text, deps.config.maxDocuments);
  } catch (error) {
    if (!(error instanceof CollectRequestError)) throw error;
    logger.warn('request rejected', { status: error.statusCode, reason: error.message, bytes: body.length });
    if (error instanceof MalformedBodyError) {
      const key = articleQuarantineKey(requestId, receivedAt);
      const problem = await quarantine(deps, key, [
        wholeInputLine(error.body, error.message, source, receivedAt),
      ]);
      if (problem !== undefined) {
        const message = `the request could not be recorded (${problem}); send it again`;
        return reply(503, { message, request_id: requestId }, { 'retry-after': '1' });
      }
    }
    return reply(error.statusCode, { message: error.message, request_id: requestId });
  }

  const decisions = decideArticles(documents, deps.vectorizer, receivedAt);
  const stored = await store(decisions, source, requestId, receivedAt, deps, retryWithin(context, deps));
  const answer = articlesAnswer(
    decisions,
    {
      failed: stored.write.failed,
      ...(stored.quarantineProblem === undefined ? {} : { quarantineProblem: stored.quarantineProblem }),
    },
    requestId,
  );
  logger.info('articles', {
    documents: decisions.documents,
    accepted: answer.body.accepted,
    written: stored.write.written.length,
    rejected: answer.body.rejected.length,
    failed: answer.body.failed?.length ?? 0,
  });
  return reply(answer.status, answer.body, answer.headers);
}

/** Reads an object's bytes into documents: gzip by its magic bytes, UTF-8, JSON lines. */
function objectDocuments(bytes: Buffer): RawDocument[] {
  let data = bytes;
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (gzipped) {
    try {
      data = gunzipSync(bytes);
    } catch (error) {
      throw new MalformedBodyError(`object is not valid gzip: ${(error as Error).message}`, bytes);
    }
  }
  return jsonLineDocuments(decodeUtf8(data, gzipped));
}

/**
 * An object created under articles/: JSON lines of articles (gzip or not). Valid ones are
 * vectorized into ArticleVectors, bad ones kept under quarantine/articles/ with their line and
 * reason (one quarantine object per input object, so a replay overwrites it). Throws
 * ArticlesNotStoredError when some could not be stored, so the invocation is retried.
 */
export async function vectorizeObjects(
  event: S3Event,
  context: Context,
  deps: VectorizeDeps,
): Promise<ObjectSummary[]> {
  const retry = retryWithin(context, deps);
  const summaries: ObjectSummary[] = [];
  for (const record of event.Records) {
    const bucket = record.s3.bucket.name;
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    const receivedAt = record.eventTime ? new Date(record.eventTime) : deps.now();
    const source: ArticleSource = {
      kind: 's3',
      bucket,
      key,
      ...(record.s3.object.versionId ? { version_id: record.s3.object.versionId } : {}),
    };
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
    let documents: RawDocument[];
    try {
      documents = objectDocuments(bytes);
    } catch (error) {
      if (!(error instanceof MalformedBodyError)) throw error;
      const quarantineKey = articleQuarantineKey(key, receivedAt);
      const problem = await quarantine(deps, quarantineKey, [
        wholeInputLine(bytes, error.message, source, receivedAt),
      ]);
      if (problem !== undefined) throw new ArticlesNotStoredError(`s3://${bucket}/${key}: ${problem}`);
      logger.warn('object rejected', { key, reason: error.message });
      summaries.push({ key, documents: 0, written: 0, rejected: 1, quarantineKey });
      continue;
    }
    const decisions = decideArticles(documents, deps.vectorizer, deps.now());
    const stored = await store(decisions, source, key, receivedAt, deps, retry);
    const summary: ObjectSummary = {
      key,
      documents: decisions.documents,
      written: stored.write.written.length,
      rejected: decisions.rejected.length,
      ...(stored.quarantineKey === undefined ? {} : { quarantineKey: stored.quarantineKey }),
    };
    logger.info('articles object', { ...summary, failed: stored.write.failed.length });
    if (stored.write.failed.length > 0 || stored.quarantineProblem !== undefined) {
      const first = stored.write.failed[0]?.reason ?? stored.quarantineProblem;
      throw new ArticlesNotStoredError(
        `s3://${bucket}/${key}: ${stored.write.failed.length} articles not stored, quarantine ${stored.quarantineProblem ?? 'ok'} (${first})`,
      );
    }
    summaries.push(summary);
  }
  return summaries;
}
