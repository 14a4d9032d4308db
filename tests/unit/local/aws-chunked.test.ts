import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { AwsChunkedDecodeError, AwsChunkedDecoder, isAwsChunked } from '../../../local/s3/aws-chunked';

/** The body the AWS SDK sends for a streamed PutObject with a CRC32 trailer. */
const framed = (parts: string[]) =>
  `${parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('')}0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n`;

/** Feeds `body` through the decoder in pieces of `size` bytes. */
function decode(body: string, size: number): Promise<string> {
  const bytes = Buffer.from(body);
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return text(Readable.from(pieces).pipe(new AwsChunkedDecoder()));
}

describe('AwsChunkedDecoder', () => {
  it.each([1, 2, 3, 7, 1000])('gives back the payload whatever the piece size (%i bytes)', async (size) => {
    expect(await decode(framed(['hello ', 'chunked ', 'wörld']), size)).toBe('hello chunked wörld');
  });

  it('ignores chunk signatures', async () => {
    const signed = '5;chunk-signature=abc\r\nhello\r\n0;chunk-signature=def\r\n\r\n';
    expect(await decode(signed, 4)).toBe('hello');
  });

  it.each([
    ['a body that ends inside a chunk', '5\r\nhel'],
    ['a bad chunk header', 'zz\r\nhello\r\n'],
    ['a chunk not followed by CRLF', '5\r\nhelloXX0\r\n\r\n'],
  ])('fails with AwsChunkedDecodeError on %s', async (_what, body) => {
    await expect(decode(body, 3)).rejects.toBeInstanceOf(AwsChunkedDecodeError);
  });
});

describe('isAwsChunked', () => {
  it('recognises streaming SigV4 payloads and aws-chunked content encoding', () => {
    expect(isAwsChunked({ 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' })).toBe(true);
    expect(isAwsChunked({ 'content-encoding': 'gzip, aws-chunked' })).toBe(true);
    expect(isAwsChunked({ 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-encoding': 'gzip' })).toBe(
      false,
    );
  });
});
