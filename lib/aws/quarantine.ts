import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type QuarantineLine, toJsonLines } from '../domain/collect-quarantine';

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
      Body: gzipSync(toJsonLines(lines)),
      ContentType: 'application/gzip',
    }),
    { abortSignal: options.abortSignal },
  );
}
