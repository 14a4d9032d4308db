import { gzipSync } from 'node:zlib';
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ArticleQuarantineLine, ArticleVectorItem } from '../domain/articles';

/** BatchWriteItem takes at most 25 requests per call. */
export const BATCH_WRITE_MAX_ITEMS = 25;

/**
 * Retries of the items a BatchWriteItem call answered as UnprocessedItems (the SDK cannot see
 * them: the call succeeded). Whole calls that fail are retried by the SDK client itself.
 */
export interface UnprocessedRetryOptions {
  /** Calls per item at most, the first included (default 6). */
  maxAttempts?: number;
  /** Full-jitter backoff: a random wait in [0, min(maxDelayMs, baseDelayMs * 2^(retry - 1))). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Epoch ms after which no retry is waited for (default: none). */
  deadline?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** What a write did: the article ids stored, and the ones that were not, with why. */
export interface ArticleWriteResult {
  written: string[];
  failed: { article_id: string; reason: string }[];
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The DynamoDB attribute values of an item (attributes as lib/domain/vectors.ts defines them). */
export function marshalArticle(item: ArticleVectorItem): WriteRequest {
  return {
    PutRequest: {
      Item: {
        article_id: { S: item.article_id },
        vector: { B: item.vector },
        model: { S: item.model },
        category: { S: item.category },
        published_at: { S: item.published_at },
        title: { S: item.title },
        updated_at: { S: item.updated_at },
      },
    },
  };
}

/**
 * Puts items into ArticleVectors, 25 per BatchWriteItem call, `concurrency` calls at a time (a
 * put replaces the item of the same article_id: a re-sent article never duplicates). Items the
 * service leaves unprocessed (throttling) are sent again with capped exponential backoff and
 * full jitter until written or out of attempts; those are then reported as failed. A call that
 * throws (after the SDK's own retries) fails its items with the error's name and message.
 */
export async function writeArticleVectors(
  client: DynamoDBClient,
  table: string,
  items: readonly ArticleVectorItem[],
  options: UnprocessedRetryOptions & { concurrency?: number } = {},
): Promise<ArticleWriteResult> {
  const chunks: ArticleVectorItem[][] = [];
  for (let i = 0; i < items.length; i += BATCH_WRITE_MAX_ITEMS)
    chunks.push(items.slice(i, i + BATCH_WRITE_MAX_ITEMS));
  const result: ArticleWriteResult = { written: [], failed: [] };
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++] as ArticleVectorItem[];
      const one = await writeChunk(client, table, chunk, options);
      result.written.push(...one.written);
      result.failed.push(...one.failed);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, chunks.length)) }, worker),
  );
  return result;
}

async function writeChunk(
  client: DynamoDBClient,
  table: string,
  chunk: readonly ArticleVectorItem[],
  options: UnprocessedRetryOptions,
): Promise<ArticleWriteResult> {
  const maxAttempts = options.maxAttempts ?? 6;
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 2_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const idOf = (request: WriteRequest) => request.PutRequest?.Item?.article_id?.S ?? '';

  let pending: WriteRequest[] = chunk.map(marshalArticle);
  const written = new Set(chunk.map((i) => i.article_id));
  for (let attempt = 1; ; attempt++) {
    let unprocessed: WriteRequest[];
    try {
      const answer = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      unprocessed = answer.UnprocessedItems?.[table] ?? [];
    } catch (error) {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      for (const request of pending) written.delete(idOf(request));
      return {
        written: [...written],
        failed: pending.map((r) => ({ article_id: idOf(r), reason: `${name}: ${message}` })),
      };
    }
    if (unprocessed.length === 0) return { written: [...written], failed: [] };
    const delay = Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
    const outOfTime = options.deadline !== undefined && now() + delay >= options.deadline;
    if (attempt >= maxAttempts || outOfTime) {
      for (const request of unprocessed) written.delete(idOf(request));
      const why = outOfTime ? 'no time left to retry' : `after ${attempt} attempts`;
      return {
        written: [...written],
        failed: unprocessed.map((r) => ({
          article_id: idOf(r),
          reason: `UnprocessedItems: DynamoDB did not write it (${why})`,
        })),
      };
    }
    pending = unprocessed;
    await sleep(delay);
  }
}

/** zlib settings of quarantine objects, as collect's (small objects of similar lines). */
const GZIP_OPTIONS = { windowBits: 12, memLevel: 4, level: 1 };

/** Writes quarantined articles as one gzip JSON-lines object at `key`. */
export async function putArticleQuarantine(
  client: S3Client,
  bucket: string,
  key: string,
  lines: readonly ArticleQuarantineLine[],
  options: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join(''), GZIP_OPTIONS),
      ContentType: 'application/gzip',
    }),
    options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal },
  );
}
