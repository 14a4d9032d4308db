import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The part of s3rver's FilesystemStore (s3rver 3.7) this module replaces and uses. */
export interface FilesystemStoreLike {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: S3ObjectLike): Promise<{ size: number; md5: string }>;
}

interface S3ObjectLike {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: unknown;
}

let sequence = 0;

/**
 * Makes s3rver's object writes atomic, as S3's are. s3rver answers a PUT before the object's bytes
 * are on disk (it ends the file stream without waiting for it) and an object is visible as soon
 * as its file exists, so a reader right after the PUT, or a Lambda its notification starts, could
 * read an empty or partial object. Here the bytes go to a temporary file (which no listing shows:
 * its name does not end as an object's does), are flushed, the metadata is written, and only then
 * is the file renamed into place: an object can be seen only whole.
 */
export function makeObjectWritesAtomic(store: FilesystemStoreLike): void {
  store.putObject = async (object) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    sequence += 1;
    const temporary = `${objectPath}.${process.pid}-${sequence}.partial`;
    const md5 = createHash('md5');
    let size = 0;
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    try {
      await pipeline(
        source,
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            md5.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        createWriteStream(temporary),
      );
      const digest = md5.digest('hex');
      await store.putMetadata(object.bucket, object.key, object.metadata, digest);
      await rename(temporary, objectPath);
      return { size, md5: digest };
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  };
}
