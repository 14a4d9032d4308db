/**
 * S3 and DynamoDB adapters of the batch chain (injected clients; the logic is in lib/domain/batch/).
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ListedObject } from '../domain/freshness';
import { BATCH_WRITE_MAX_ITEMS, type UnprocessedRetryOptions } from './article-vectors';
import { backoffDelay } from './retry';

export type Item = Record<string, AttributeValue>;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every key under a prefix (ListObjectsV2, all pages), sorted. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!answer.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return answer.Body.transformToByteArray();
}

export async function putBytes(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | string,
  contentType: string,
): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

/** Every item of a table, or of one parallel-scan segment (all pages). */
export async function scanItems(
  ddb: DynamoDBClient,
  request: { table: string; attributes: readonly string[]; segment?: number; totalSegments?: number },
): Promise<Item[]> {
  const names = Object.fromEntries(request.attributes.map((a, i) => [`#a${i}`, a]));
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({
        TableName: request.table,
        ProjectionExpression: Object.keys(names).join(', '),
        ExpressionAttributeNames: names,
        ExclusiveStartKey: start,
        Segment: request.segment,
        TotalSegments: request.totalSegments,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** What a batch write did: keys written, and the ones that were not, with why. */
export interface BatchWriteResult {
  written: number;
  failed: { key: string; reason: string }[];
}

/**
 * Puts items, 25 per BatchWriteItem call, one call at a time; UnprocessedItems are sent again with
 * capped exponential backoff and full jitter (sleep, clock and random injected) until written or out
 * of attempts, then reported as failed. Whole calls are retried by the SDK client; one that still
 * throws fails its items with the error's name and message.
 */
export async function putAll(
  ddb: DynamoDBClient,
  table: string,
  items: readonly Item[],
  keyName: string,
  options: UnprocessedRetryOptions = {},
): Promise<BatchWriteResult> {
  const maxAttempts = options.maxAttempts ?? 6;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const keyOf = (r: WriteRequest) => r.PutRequest?.Item?.[keyName]?.S ?? '';
  const result: BatchWriteResult = { written: 0, failed: [] };
  for (let i = 0; i < items.length; i += BATCH_WRITE_MAX_ITEMS) {
    let pending: WriteRequest[] = items
      .slice(i, i + BATCH_WRITE_MAX_ITEMS)
      .map((Item) => ({ PutRequest: { Item } }));
    const size = pending.length;
    for (let attempt = 1; ; attempt++) {
      let unprocessed: WriteRequest[];
      try {
        const answer = await ddb.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        unprocessed = answer.UnprocessedItems?.[table] ?? [];
      } catch (error) {
        const { name, message } = error instanceof Error ? error : new Error(String(error));
        result.failed.push(...pending.map((r) => ({ key: keyOf(r), reason: `${name}: ${message}` })));
        break;
      }
      if (unprocessed.length === 0) break;
      const delay = backoffDelay(attempt, options.baseDelayMs ?? 50, options.maxDelayMs ?? 2_000, random);
      const outOfTime = options.deadline !== undefined && now() + delay >= options.deadline;
      if (attempt >= maxAttempts || outOfTime) {
        const why = outOfTime ? 'no time left to retry' : `after ${attempt} attempts`;
        result.failed.push(
          ...unprocessed.map((r) => ({
            key: keyOf(r),
            reason: `UnprocessedItems: DynamoDB did not write it (${why})`,
          })),
        );
        break;
      }
      pending = unprocessed;
      await sleep(delay);
    }
    result.written += size;
  }
  result.written -= result.failed.length;
  return result;
}

/**
 * Every object under a prefix with when it was last written and its size (ListObjectsV2, all pages),
 * sorted by key. The one S3 listing of the batch tasks, `logbase status` and the freshness figures.
 */
export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      if (o.Key) objects.push({ key: o.Key, lastModified: o.LastModified ?? new Date(0), size: o.Size });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
