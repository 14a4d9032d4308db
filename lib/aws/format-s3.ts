import { readFile } from 'node:fs/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/service-error-classification';
import type { SdkError } from '@smithy/types';
import type { FormatManifest } from '../domain/format/records';

/** A raw object opened for reading: its body streams, its metadata is known. */
export interface OpenedObject {
  body: AsyncIterable<Uint8Array>;
  size?: number;
  etag?: string;
  versionId?: string;
}

/** True when S3 says the key (or version) is not there. */
function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey';
}

/**
 * True for an error that may pass if the call is made again later (throttling, a 5xx, a dropped
 * connection), as the SDK's own retry classifies them; the formatter then fails the invocation
 * so that Lambda retries it.
 */
export function isPassingError(error: unknown): boolean {
  const e = error as SdkError;
  if (typeof e !== 'object' || e === null) return false;
  return isThrottlingError(e) || isTransientError(e) || isServerError(e);
}

/** Opens a raw object (the version the event names, when it names one); undefined when it is gone. */
export async function openObject(
  s3: S3Client,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<OpenedObject | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    if (out.Body === undefined) return { body: (async function* () {})() };
    return {
      body: out.Body as AsyncIterable<Uint8Array>,
      size: out.ContentLength,
      etag: out.ETag?.replace(/"/g, ''),
      versionId: out.VersionId,
    };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * The manifest an earlier run wrote for this object, or undefined. Listed first: without
 * s3:ListBucket, S3 answers a GetObject of a missing key with 403, not 404, and the function may
 * list only the manifests' prefix.
 */
export async function readManifest(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<FormatManifest | undefined> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
  if (!listed.Contents?.some((o) => o.Key === key)) return undefined;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await out.Body?.transformToString('utf8');
    return text ? (JSON.parse(text) as FormatManifest) : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Uploads a local file. */
export async function putFile(
  s3: S3Client,
  bucket: string,
  key: string,
  file: string,
  contentType: string,
): Promise<string | undefined> {
  const out = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file), ContentType: contentType }),
  );
  return out?.ETag?.replace(/"/g, '');
}

/** Writes bytes. */
export async function putBytes(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array,
  contentType: string,
): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

/** Writes a JSON document. */
export async function putJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${JSON.stringify(value, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
}

/** Deletes keys one by one (a handful: a replay's stale outputs). */
export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (const key of keys) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Runs `tasks` with at most `limit` at once. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
