import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type QuarantineLine, toJsonLines } from '../domain/collect-quarantine';

/**
 * zlib settings for quarantine objects: a 4 KiB window, a small hash table and the fastest level.
 * The objects are a few KiB of similar lines, so they compress nearly as well as with the
 * defaults (about 7% larger), at a third of the cost, most of which was setting up the default
 * 256 KiB of deflate state and searching for matches. Still plain gzip.
 */
const GZIP_OPTIONS = { windowBits: 12, memLevel: 4, level: 1 };

/** Writes quarantine lines as one gzip JSON-lines object at `key` (see quarantineKey). */
export async function putQuarantine(
  client: S3Client,
  bucket: string,
  key: string,
  lines: readonly QuarantineLine[],
  options: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  await client.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: gzipSync(toJsonLines(lines), GZIP_OPTIONS),
      ContentType: 'application/gzip',
    }),
    { abortSignal: options.abortSignal },
  );
}
