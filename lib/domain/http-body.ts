import { gunzipSync } from 'node:zlib';
import { findInvalidUtf8, hexBytes } from './utf8';

/**
 * The HTTP side of a request body, with no I/O: the content type and encoding it is sent with,
 * gzip inflated under a size cap, API Gateway's base64 hand-over, and UTF-8 checked. What the
 * body holds (events) is decided elsewhere (collect.ts). A problem with the request as a whole is
 * thrown as a named error carrying its HTTP status.
 */

/** A problem with the request as a whole; `statusCode` is the HTTP status to answer with. */
export abstract class CollectRequestError extends Error {
  abstract readonly statusCode: number;
}

/** 413: the body or the event count is over a limit. */
export class PayloadTooLargeError extends CollectRequestError {
  override name = 'PayloadTooLargeError';
  readonly statusCode = 413;
}

/** 415: a Content-Type, charset or Content-Encoding collect does not take. */
export class UnsupportedMediaTypeError extends CollectRequestError {
  override name = 'UnsupportedMediaTypeError';
  readonly statusCode = 415;
}

/** 400: the body cannot be read as events at all; `body` holds the bytes the problem is in, for quarantine. */
export class MalformedBodyError extends CollectRequestError {
  override name = 'MalformedBodyError';
  readonly statusCode = 400;
  constructor(
    message: string,
    readonly body: Buffer,
  ) {
    super(message);
  }
}

export type BodyFormat = 'json' | 'ndjson';

const MEDIA_TYPES: Record<string, BodyFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
};
const ACCEPTED_TYPES = 'application/json or application/x-ndjson';

/** Reads the body format from a Content-Type header; only UTF-8 is accepted as a charset. */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  if (contentType === undefined || contentType.trim() === '') {
    throw new UnsupportedMediaTypeError(`Content-Type header is missing; send ${ACCEPTED_TYPES}`);
  }
  const [mediaType = '', ...params] = contentType.split(';').map((part) => part.trim());
  const format = MEDIA_TYPES[mediaType.toLowerCase()];
  if (format === undefined) {
    throw new UnsupportedMediaTypeError(`Content-Type ${mediaType} is not supported; send ${ACCEPTED_TYPES}`);
  }
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((s) => s.trim());
    const charset = value.replace(/^"|"$/g, '').toLowerCase();
    if (name.toLowerCase() === 'charset' && charset !== 'utf-8' && charset !== 'utf8') {
      throw new UnsupportedMediaTypeError(`charset ${value} is not supported; send UTF-8`);
    }
  }
  return format;
}

/**
 * Decodes the body per Content-Encoding (identity or gzip) and enforces the size limit on the
 * decoded bytes. gzip is inflated with an output cap, so a gzip bomb stops at `maxBytes`.
 */
export function decodeBody(
  body: Buffer,
  contentEncoding: string | undefined,
  maxBytes: number,
): { bytes: Buffer; gzipped: boolean } {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) {
    if (body.length > maxBytes) {
      throw new PayloadTooLargeError(`request body is ${body.length} bytes; the limit is ${maxBytes} bytes`);
    }
    return { bytes: body, gzipped: false };
  }
  if (codings.length > 1 || (codings[0] !== 'gzip' && codings[0] !== 'x-gzip')) {
    throw new UnsupportedMediaTypeError(
      `Content-Encoding ${contentEncoding} is not supported; send gzip or identity`,
    );
  }
  try {
    return { bytes: gunzipSync(body, { maxOutputLength: maxBytes }), gzipped: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PayloadTooLargeError(
        `gzip body (${body.length} bytes) inflates to more than ${maxBytes} bytes; the limit is ${maxBytes} bytes decoded`,
      );
    }
    throw new MalformedBodyError(`body is not valid gzip: ${(error as Error).message}`, body);
  }
}

/** Encodes text as UTF-8 straight into a buffer (one pass, no intermediate string). */
const ENCODER = new TextEncoder();

/**
 * The body of an API Gateway event as bytes and, when it came as text, that text. A body of
 * ASCII characters only (the usual JSON) is encoded in one pass into a buffer of its length,
 * which it fills exactly; any other text is encoded again at its UTF-8 size. The text is only
 * given back when it is well-formed UTF-16: otherwise the encoder replaces lone surrogates and
 * the bytes say something else.
 */
export function requestBody(
  body: string | undefined,
  isBase64Encoded: boolean | undefined,
): { bytes: Buffer; text?: string } {
  const raw = body ?? '';
  if (isBase64Encoded) return { bytes: Buffer.from(raw, 'base64') };
  const ascii = Buffer.allocUnsafe(raw.length);
  const { read, written } = ENCODER.encodeInto(raw, ascii);
  if (read === raw.length && written === raw.length) return { bytes: ascii, text: raw };
  const bytes = Buffer.from(raw, 'utf8');
  return isWellFormed(raw) ? { bytes, text: raw } : { bytes };
}

/** String.prototype.isWellFormed (ES2024; Node 20 and later): true when the string has no lone surrogate. */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Decodes bytes as UTF-8 text, naming the offset of the first invalid sequence; drops a leading BOM. */
export function decodeUtf8(bytes: Buffer, gzipped: boolean): string {
  const problem = findInvalidUtf8(bytes);
  if (problem !== undefined) {
    const what = problem.truncated ? 'truncated UTF-8 sequence' : 'invalid UTF-8 sequence';
    const where = gzipped ? ' of the gunzipped body' : '';
    throw new MalformedBodyError(
      `body is not valid UTF-8: ${what} ${hexBytes(problem.bytes)} at byte offset ${problem.offset}${where}`,
      bytes,
    );
  }
  return withoutBom(bytes.toString('utf8'));
}

/** The text without a leading byte order mark. */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A request body as it came: bytes, the text when API Gateway handed it over as text, and its headers. */
export interface BodyInput {
  body: Buffer;
  text?: string;
  contentType?: string;
  contentEncoding?: string;
}

/**
 * Reads a body as text in one of the formats collect takes: the format from Content-Type, bytes
 * decoded per Content-Encoding within `maxBytes`, then UTF-8. Throws UnsupportedMediaTypeError (415),
 * PayloadTooLargeError (413) or MalformedBodyError (400, also for an empty body).
 */
export function readBody(
  input: BodyInput,
  maxBytes: number,
): { format: BodyFormat; bytes: Buffer; text: string } {
  const format = bodyFormat(input.contentType);
  if (input.body.length === 0) throw new MalformedBodyError('request body is empty', input.body);
  const { bytes, gzipped } = decodeBody(input.body, input.contentEncoding, maxBytes);
  const text = input.text !== undefined && !gzipped ? withoutBom(input.text) : decodeUtf8(bytes, gzipped);
  if (text.trim() === '') throw new MalformedBodyError('request body is empty', bytes);
  return { format, bytes, text };
}
