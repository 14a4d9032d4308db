import { Transform, type TransformCallback } from 'node:stream';

/** A request body in `aws-chunked` framing could not be decoded. */
export class AwsChunkedDecodeError extends Error {
  override name = 'AwsChunkedDecodeError';
}

/**
 * True when a request body is framed as `aws-chunked` (what AWS SDK v3 sends for streamed bodies with a
 * trailing checksum, and what SigV4 streaming uploads use). s3rver would store the framing as object bytes.
 */
export function isAwsChunked(headers: Record<string, string | string[] | undefined>): boolean {
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  const encoding = String(headers['content-encoding'] ?? '');
  return sha.startsWith('STREAMING-') || encoding.split(',').some((e) => e.trim() === 'aws-chunked');
}

/**
 * Decodes `aws-chunked` framing (`<hex size>[;chunk-signature=..]\r\n<bytes>\r\n ... 0\r\n<trailers>\r\n`)
 * into the plain payload. Signatures and trailing checksums are not verified.
 */
export class AwsChunkedDecoder extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private state: 'header' | 'data' | 'data-end' | 'trailer' = 'header';

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    try {
      this.drain();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== 'trailer') {
      callback(new AwsChunkedDecodeError(`aws-chunked body ended inside a chunk (state ${this.state})`));
    } else {
      callback();
    }
  }

  private drain(): void {
    for (;;) {
      if (this.state === 'trailer') {
        this.pending = Buffer.alloc(0);
        return;
      }
      if (this.state === 'header') {
        const eol = this.pending.indexOf('\r\n');
        if (eol < 0) {
          if (this.pending.length > 4096)
            throw new AwsChunkedDecodeError('aws-chunked chunk header is too long');
          return;
        }
        const header = this.pending.subarray(0, eol).toString('latin1');
        const size = Number.parseInt(header.split(';')[0] ?? '', 16);
        if (!Number.isFinite(size) || size < 0)
          throw new AwsChunkedDecodeError(`bad aws-chunked header "${header}"`);
        this.pending = this.pending.subarray(eol + 2);
        this.remaining = size;
        this.state = size === 0 ? 'trailer' : 'data';
        continue;
      }
      if (this.state === 'data') {
        if (this.pending.length === 0) return;
        const take = Math.min(this.remaining, this.pending.length);
        this.push(this.pending.subarray(0, take));
        this.pending = this.pending.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      // data-end: the CRLF after a chunk's bytes
      if (this.pending.length < 2) return;
      if (this.pending[0] !== 0x0d || this.pending[1] !== 0x0a) {
        throw new AwsChunkedDecodeError('aws-chunked chunk is not followed by CRLF');
      }
      this.pending = this.pending.subarray(2);
      this.state = 'header';
    }
  }
}
