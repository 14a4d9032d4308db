import { gunzipSync } from 'node:zlib';
import { type EventType, type FieldError, type StoredEvent, validateClientEvent } from '../schemas';
import type { BatchRecord } from './batches';
import { arrayElementSpans, describeJsonError, type Span } from './json-text';
import { findInvalidUtf8, hexBytes } from './utf8';

/**
 * Decoding and validation of one POST /v1/events request, with no I/O: bytes in, records ready
 * for Firehose/Kinesis and rejections ready for quarantine out. A problem with the request as a
 * whole is thrown as a named error carrying its HTTP status.
 */

/** Limits of one collect request. */
export interface CollectLimits {
  /** Most events in one request. */
  maxEvents: number;
  /** Most bytes of the decoded (gunzipped) body. */
  maxBytes: number;
  /** How far in the future (client clock ahead of ours) occurred_at may be. */
  futureSkewSeconds: number;
  /** Most bytes of one stored event (the smaller of Firehose's and Kinesis's per-record limits). */
  maxRecordBytes?: number;
}

/** Firehose takes at most 1,000 KiB per record, Kinesis 1 MiB: a stored event must fit both. */
export const MAX_RECORD_BYTES = 1000 * 1024;

/** One request as received. */
export interface CollectInput {
  body: Buffer;
  contentType?: string;
  contentEncoding?: string;
  receivedAt: Date;
  requestId: string;
}

/** An accepted event, serialized as one JSON line (with "\n") ready for a stream. */
export interface PreparedRecord extends BatchRecord {
  eventType: EventType;
  data: Buffer;
}

/** A rejected event: where it was, why, and exactly what the client sent. */
export interface Rejection {
  /** 0-based position of the event in the request (NDJSON: among the non-blank lines). */
  index: number;
  /** The event's event_id when it had a string one. */
  event_id?: string;
  /** event_type when it was a string (for metrics). */
  event_type?: string;
  /** 1-based line number (NDJSON only). */
  line?: number;
  errors: FieldError[];
  /** The event's original JSON text (NDJSON: its line). */
  raw: string;
}

/** The outcome of preparing one request. */
export interface PreparedRequest {
  format: BodyFormat;
  /** Size of the decoded body. */
  bytes: number;
  /** Events in the request, accepted or not. */
  eventCount: number;
  /** Accepted click events, for the Kinesis clicks stream. */
  clicks: PreparedRecord[];
  /** Every other accepted event, for the Firehose events stream. */
  events: PreparedRecord[];
  rejected: Rejection[];
}

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
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** One event as found in the body, before validation. */
interface Item {
  /** The parsed value, or the parse error for an NDJSON line that is not JSON. */
  value: unknown;
  parseError?: string;
  line?: number;
  raw: () => string;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function tooManyEvents(count: number, maxEvents: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `request has ${count} events; the limit is ${maxEvents} events per request`,
  );
}

function jsonItems(text: string, bytes: Buffer, maxEvents: number): Item[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new MalformedBodyError(`body is not valid JSON: ${describeJsonError(text, error)}`, bytes);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const hint = Array.isArray(body) ? '; wrap the array as {"events": [...]}' : '';
    throw new MalformedBodyError(
      `body must be a JSON object {"events": [...]}, got ${describe(body)}${hint}`,
      bytes,
    );
  }
  const extra = Object.keys(body).find((key) => key !== 'events');
  if (extra !== undefined) {
    throw new MalformedBodyError(
      `unexpected top-level field ${JSON.stringify(extra)}; the body is {"events": [...]}`,
      bytes,
    );
  }
  const events = (body as { events?: unknown }).events;
  if (events === undefined)
    throw new MalformedBodyError('body has no "events" field; send {"events": [...]}', bytes);
  if (!Array.isArray(events)) {
    throw new MalformedBodyError(`"events" must be an array, got ${describe(events)}`, bytes);
  }
  if (events.length === 0) throw new MalformedBodyError('"events" is empty; send at least one event', bytes);
  if (events.length > maxEvents) throw tooManyEvents(events.length, maxEvents);
  let spans: Span[] | undefined;
  return events.map((value, index) => ({
    value,
    raw: () => {
      spans ??= arrayElementSpans(text, 'events');
      const span = spans[index];
      return span === undefined ? JSON.stringify(value) : text.slice(span[0], span[1]);
    },
  }));
}

function ndjsonItems(text: string, bytes: Buffer, maxEvents: number): Item[] {
  const lines: { line: number; text: string }[] = [];
  const physical = text.split('\n');
  for (let i = 0; i < physical.length; i++) {
    const raw = (physical[i] as string).replace(/\r$/, '');
    if (raw.trim() !== '') lines.push({ line: i + 1, text: raw });
  }
  if (lines.length === 0) throw new MalformedBodyError('body has no events: every line is blank', bytes);
  if (lines.length > maxEvents) throw tooManyEvents(lines.length, maxEvents);
  return lines.map(({ line, text: raw }) => {
    try {
      return { value: JSON.parse(raw), line, raw: () => raw };
    } catch (error) {
      return { value: undefined, parseError: describeJsonError(raw, error), line, raw: () => raw };
    }
  });
}

function stringField(value: unknown, field: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[field];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Decodes, parses and validates one request. Accepted events get received_at and request_id
 * and are serialized (clicks apart from the rest); each bad event becomes a Rejection without
 * affecting the others. Throws PayloadTooLargeError (413), UnsupportedMediaTypeError (415) or
 * MalformedBodyError (400) when the request as a whole cannot be taken.
 *
 * Within one request, a repeated event_id is rejected when an earlier copy was accepted, so
 * dropping the copy loses nothing.
 */
export function prepareRequest(input: CollectInput, limits: CollectLimits): PreparedRequest {
  const format = bodyFormat(input.contentType);
  if (input.body.length === 0) throw new MalformedBodyError('request body is empty', input.body);
  const { bytes, gzipped } = decodeBody(input.body, input.contentEncoding, limits.maxBytes);
  const text = decodeUtf8(bytes, gzipped);
  if (text.trim() === '') throw new MalformedBodyError('request body is empty', bytes);
  const items =
    format === 'json' ? jsonItems(text, bytes, limits.maxEvents) : ndjsonItems(text, bytes, limits.maxEvents);

  const receivedAt = input.receivedAt.toISOString();
  const receivedMs = input.receivedAt.getTime();
  const maxRecordBytes = limits.maxRecordBytes ?? MAX_RECORD_BYTES;
  const firstAccepted = new Map<string, number>();
  const result: PreparedRequest = {
    format,
    bytes: bytes.length,
    eventCount: items.length,
    clicks: [],
    events: [],
    rejected: [],
  };

  items.forEach((item, index) => {
    const reject = (errors: FieldError[]) => {
      const rejection: Rejection = { index, errors, raw: item.raw() };
      const eventId = stringField(item.value, 'event_id');
      const eventType = stringField(item.value, 'event_type');
      if (eventId !== undefined) rejection.event_id = eventId;
      if (eventType !== undefined) rejection.event_type = eventType;
      if (item.line !== undefined) rejection.line = item.line;
      result.rejected.push(rejection);
    };
    if (item.parseError !== undefined) {
      reject([{ path: '', message: `line ${item.line} is not valid JSON: ${item.parseError}` }]);
      return;
    }
    const validation = validateClientEvent(item.value);
    if (!validation.ok) {
      reject(validation.errors);
      return;
    }
    const event = validation.event;
    const aheadSeconds = (Date.parse(event.occurred_at) - receivedMs) / 1000;
    if (aheadSeconds > limits.futureSkewSeconds) {
      const message = `occurred_at is ${Math.floor(aheadSeconds)} s in the future (limit ${limits.futureSkewSeconds} s)`;
      reject([{ path: '/occurred_at', message }]);
      return;
    }
    const first = firstAccepted.get(event.event_id);
    if (first !== undefined) {
      reject([{ path: '/event_id', message: `duplicate event_id; first seen at index ${first}` }]);
      return;
    }
    const stored: StoredEvent = { ...event, received_at: receivedAt, request_id: input.requestId };
    const data = Buffer.from(`${JSON.stringify(stored)}\n`);
    if (data.length > maxRecordBytes) {
      reject([
        {
          path: '',
          message: `event is ${data.length} bytes once stored; the per-record limit is ${maxRecordBytes} bytes`,
        },
      ]);
      return;
    }
    firstAccepted.set(event.event_id, index);
    const record: PreparedRecord = {
      index,
      eventId: event.event_id,
      eventType: event.event_type,
      userId: event.user_id,
      data,
    };
    (event.event_type === 'click' ? result.clicks : result.events).push(record);
  });
  return result;
}
