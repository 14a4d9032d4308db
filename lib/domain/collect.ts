import { gunzipSync } from 'node:zlib';
import { clientEventPatterns, type EventType, type FieldError, validateClientEvent } from '../schemas';
import { dateTimeMillis } from '../schemas/formats';
import type { BatchRecord } from './batches';
import { describeJsonError, skipValue, skipWhitespace } from './json-text';
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
  /**
   * The body already decoded as text, when the caller has it (API Gateway hands the body to the
   * Lambda as a string): decoding `body` again is skipped. It must be exactly the UTF-8 decoding
   * of `body`, as requestBody gives it; it is ignored for a gzip body.
   */
  text?: string;
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

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The envelope of an event the fast path accepted (see lib/schemas/text-pattern.ts). */
interface FastEvent {
  eventType: EventType;
  eventId: string;
  userId: string;
  /** occurred_at in milliseconds since the epoch. */
  occurredMs: number;
}

/** The events of a request as found in the body, before validation. */
interface Found {
  /** The parsed events (undefined for an event the fast path accepted, and, NDJSON, for a line that is not JSON). */
  values: unknown[];
  /** Per event: its envelope when the fast path accepted it (valid, and written as JSON.stringify writes it). */
  fast: (FastEvent | undefined)[];
  /** NDJSON: the 1-based line number of each event. */
  lines?: number[];
  /** NDJSON: the text of each event's line. */
  lineTexts?: string[];
  /** NDJSON: the parse error of each line that is not JSON (undefined for the others). */
  parseErrors?: (string | undefined)[];
  /** JSON: the body text, and where each event sits in it ([starts[i], ends[i]) in characters). */
  text?: string;
  starts?: number[];
  ends?: number[];
}

/** Matches events against the registry's schemas in their text; one per module, reused. */
const patterns = clientEventPatterns();

/** The envelope the fast path just read, when it accepted the event that ends at `end`. */
function fastEvent(end: number): FastEvent | undefined {
  if (end < 0) return undefined;
  return {
    eventType: patterns.eventType as EventType,
    eventId: patterns.eventId,
    userId: patterns.userId,
    // The pattern has just checked this date-time: dateTimeMillis answers from its last reading.
    occurredMs: dateTimeMillis(patterns.occurredAt),
  };
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

function jsonEvents(text: string, bytes: Buffer, maxEvents: number): Found {
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
  return { values: events, fast: [] };
}

const OPENING = /[ \t\n\r]*\{[ \t\n\r]*"events"[ \t\n\r]*:[ \t\n\r]*\[[ \t\n\r]*/y;
const CLOSING = /\][ \t\n\r]*\}[ \t\n\r]*$/y;

/**
 * The common case of a JSON body, read without parsing it whole: `{"events": [...]}` with 1 to
 * maxEvents events. Each event is first matched against the schemas in its text (the fast path);
 * one that does not match is found by its delimiters and parsed alone. Answers undefined for
 * anything else (invalid JSON, another shape, too many events): jsonEvents then reads the body
 * and says what is wrong. Every character of the body is checked, by the shape, by a pattern or
 * by JSON.parse of an event, so a body answered here is valid JSON.
 */
function fastJsonEvents(text: string, maxEvents: number): Found | undefined {
  OPENING.lastIndex = 0;
  if (!OPENING.test(text)) return undefined;
  let at = OPENING.lastIndex;
  if (text.charCodeAt(at) === 0x5d) return undefined;
  const values: unknown[] = [];
  const fast: (FastEvent | undefined)[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (;;) {
    if (starts.length === maxEvents) return undefined;
    let end = patterns.match(text, at);
    const matched = fastEvent(end);
    let value: unknown;
    if (matched === undefined) {
      end = skipValue(text, at);
      if (end < 0) return undefined;
      try {
        value = JSON.parse(text.slice(at, end));
      } catch {
        return undefined;
      }
    }
    values.push(value);
    fast.push(matched);
    starts.push(at);
    ends.push(end);
    at = skipWhitespace(text, end);
    const c = text.charCodeAt(at);
    if (c === 0x2c) at = skipWhitespace(text, at + 1);
    else if (c === 0x5d) break;
    else return undefined;
  }
  CLOSING.lastIndex = at;
  return CLOSING.test(text) ? { values, fast, text, starts, ends } : undefined;
}

function ndjsonEvents(text: string, bytes: Buffer, maxEvents: number): Found {
  const lines: number[] = [];
  const lineTexts: string[] = [];
  const physical = text.split('\n');
  for (let i = 0; i < physical.length; i++) {
    const raw = (physical[i] as string).replace(/\r$/, '');
    if (raw.trim() !== '') {
      lines.push(i + 1);
      lineTexts.push(raw);
    }
  }
  if (lines.length === 0) throw new MalformedBodyError('body has no events: every line is blank', bytes);
  if (lines.length > maxEvents) throw tooManyEvents(lines.length, maxEvents);
  const values: unknown[] = [];
  const fast: (FastEvent | undefined)[] = [];
  const parseErrors: (string | undefined)[] = [];
  for (const raw of lineTexts) {
    const matched = fastEvent(patterns.match(raw, 0) === raw.length ? raw.length : -1);
    fast.push(matched);
    if (matched !== undefined) {
      values.push(undefined);
      parseErrors.push(undefined);
      continue;
    }
    try {
      values.push(JSON.parse(raw));
      parseErrors.push(undefined);
    } catch (error) {
      values.push(undefined);
      parseErrors.push(describeJsonError(raw, error));
    }
  }
  return { values, fast, lines, lineTexts, parseErrors };
}

/** The original text of event `index`: its line (NDJSON) or its span of the body (JSON). */
function rawText(found: Found, index: number): string {
  const line = found.lineTexts?.[index];
  if (line !== undefined) return line;
  const { text, starts, ends } = found;
  if (text !== undefined && starts !== undefined && ends !== undefined) {
    return text.slice(starts[index] as number, ends[index] as number);
  }
  return JSON.stringify(found.values[index]);
}

function stringField(value: unknown, field: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[field];
  return typeof v === 'string' ? v : undefined;
}

function rejection(found: Found, index: number, errors: FieldError[]): Rejection {
  const value = found.values[index];
  const rejected: Rejection = { index, errors, raw: rawText(found, index) };
  const matched = found.fast[index];
  const eventId = matched?.eventId ?? stringField(value, 'event_id');
  const eventType = matched?.eventType ?? stringField(value, 'event_type');
  if (eventId !== undefined) rejected.event_id = eventId;
  if (eventType !== undefined) rejected.event_type = eventType;
  const line = found.lines?.[index];
  if (line !== undefined) rejected.line = line;
  return rejected;
}

const NO_DATA = Buffer.alloc(0);

/**
 * The event_ids accepted so far in one request, for the duplicate check: an open-addressing table
 * keyed by a digest of the id (a number is cheaper to hash and compare than a 36-character
 * string); a slot holds 1 + the position of the accepted record in `accepted`.
 */
class AcceptedIds {
  private readonly slots: Int32Array;
  private readonly digests: Int32Array;
  private readonly mask: number;

  constructor(
    private readonly accepted: readonly PreparedRecord[],
    capacity: number,
  ) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.digests = new Int32Array(size);
    this.mask = size - 1;
  }

  /** A number from the last characters of an id (random hex in a UUID): equal ids give equal digests. */
  static digest(id: string): number {
    let digest = id.length;
    for (let i = Math.max(0, id.length - 7); i < id.length; i++)
      digest = (digest * 31 + id.charCodeAt(i)) | 0;
    return digest;
  }

  /** The request index of the accepted event with this id (digest as given by `digest`), or -1. */
  find(id: string, digest: number): number {
    for (let slot = digest & this.mask; this.slots[slot] !== 0; slot = (slot + 1) & this.mask) {
      if (this.digests[slot] === digest) {
        const record = this.accepted[(this.slots[slot] as number) - 1] as PreparedRecord;
        if (record.eventId === id) return record.index;
      }
    }
    return -1;
  }

  /** Records that the accepted record at `position` in `accepted` has an id with this digest. */
  add(digest: number, position: number): void {
    let slot = digest & this.mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = position + 1;
    this.digests[slot] = digest;
  }
}

/**
 * Decodes, parses and validates one request. Accepted events get received_at and request_id
 * and are serialized (clicks apart from the rest); each bad event becomes a Rejection without
 * affecting the others. Throws PayloadTooLargeError (413), UnsupportedMediaTypeError (415) or
 * MalformedBodyError (400) when the request as a whole cannot be taken.
 *
 * Within one request, a repeated event_id is rejected when an earlier copy was accepted, so
 * dropping the copy loses nothing.
 *
 * A stored event is `JSON.stringify({ ...event, received_at, request_id })` plus "\n". An event
 * the fast path accepted is written exactly so by the client (see lib/schemas/text-pattern.ts):
 * its text is copied from the body instead of serialized again, which gives the same bytes. All
 * the records of a request share one buffer.
 */
export function prepareRequest(input: CollectInput, limits: CollectLimits): PreparedRequest {
  const format = bodyFormat(input.contentType);
  if (input.body.length === 0) throw new MalformedBodyError('request body is empty', input.body);
  const { bytes, gzipped } = decodeBody(input.body, input.contentEncoding, limits.maxBytes);
  const text = input.text !== undefined && !gzipped ? withoutBom(input.text) : decodeUtf8(bytes, gzipped);
  if (text.trim() === '') throw new MalformedBodyError('request body is empty', bytes);
  const found =
    format === 'json'
      ? (fastJsonEvents(text, limits.maxEvents) ?? jsonEvents(text, bytes, limits.maxEvents))
      : ndjsonEvents(text, bytes, limits.maxEvents);
  const { values, fast, parseErrors, starts, ends } = found;
  // Character offsets of the body text are byte offsets of `bytes` when every character is ASCII.
  const copyBytes = found.text !== undefined && bytes.length === text.length;

  const receivedMs = input.receivedAt.getTime();
  const maxRecordBytes = limits.maxRecordBytes ?? MAX_RECORD_BYTES;
  // What JSON.stringify writes after the event's own members, closing brace and newline included.
  const suffixText = `,"received_at":${JSON.stringify(input.receivedAt.toISOString())},"request_id":${JSON.stringify(input.requestId)}}\n`;
  const suffix = Buffer.from(suffixText, 'utf8');
  const result: PreparedRequest = {
    format,
    bytes: bytes.length,
    eventCount: values.length,
    clicks: [],
    events: [],
    rejected: [],
  };

  // First pass: decide on each event; an accepted one is either copied from the body (serialized[k] === '') or written from a string.
  const accepted: PreparedRecord[] = [];
  const sizes: number[] = [];
  const serialized: string[] = [];
  const acceptedIds = new AcceptedIds(accepted, values.length);
  for (let index = 0; index < values.length; index++) {
    let eventType: EventType;
    let eventId: string;
    let userId: string;
    let occurredMs: number;
    let stored = '';
    let size: number;
    const matched = fast[index];
    if (matched !== undefined) {
      ({ eventType, eventId, userId, occurredMs } = matched);
      const start = starts?.[index] as number;
      const end = ends?.[index] as number;
      if (copyBytes) {
        size = end - start - 1 + suffix.length;
      } else {
        const own = found.lineTexts?.[index] ?? text.slice(start, end);
        stored = `${own.slice(0, -1)}${suffixText}`;
        size = Buffer.byteLength(stored, 'utf8');
      }
    } else {
      const parseError = parseErrors?.[index];
      if (parseError !== undefined) {
        const message = `line ${found.lines?.[index]} is not valid JSON: ${parseError}`;
        result.rejected.push(rejection(found, index, [{ path: '', message }]));
        continue;
      }
      const validation = validateClientEvent(values[index]);
      if (!validation.ok) {
        result.rejected.push(rejection(found, index, validation.errors));
        continue;
      }
      const event = validation.event;
      ({ event_type: eventType, event_id: eventId, user_id: userId } = event);
      occurredMs = dateTimeMillis(event.occurred_at);
      stored = `${JSON.stringify(event).slice(0, -1)}${suffixText}`;
      size = Buffer.byteLength(stored, 'utf8');
    }
    const aheadSeconds = (occurredMs - receivedMs) / 1000;
    if (aheadSeconds > limits.futureSkewSeconds) {
      const message = `occurred_at is ${Math.floor(aheadSeconds)} s in the future (limit ${limits.futureSkewSeconds} s)`;
      result.rejected.push(rejection(found, index, [{ path: '/occurred_at', message }]));
      continue;
    }
    const digest = AcceptedIds.digest(eventId);
    const first = acceptedIds.find(eventId, digest);
    if (first >= 0) {
      const message = `duplicate event_id; first seen at index ${first}`;
      result.rejected.push(rejection(found, index, [{ path: '/event_id', message }]));
      continue;
    }
    if (size > maxRecordBytes) {
      const message = `event is ${size} bytes once stored; the per-record limit is ${maxRecordBytes} bytes`;
      result.rejected.push(rejection(found, index, [{ path: '', message }]));
      continue;
    }
    const record: PreparedRecord = { index, eventId, eventType, userId, data: NO_DATA };
    acceptedIds.add(digest, accepted.length);
    accepted.push(record);
    sizes.push(size);
    serialized.push(stored);
    (eventType === 'click' ? result.clicks : result.events).push(record);
  }

  // Second pass: write every accepted record into one buffer; each record gets its own view.
  let total = 0;
  for (const size of sizes) total += size;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let k = 0; k < accepted.length; k++) {
    const record = accepted[k] as PreparedRecord;
    const size = sizes[k] as number;
    const stored = serialized[k] as string;
    if (stored === '') {
      // The event's bytes up to (not including) its closing brace, then the suffix.
      bytes.copy(out, at, starts?.[record.index] as number, (ends?.[record.index] as number) - 1);
      out.set(suffix, at + size - suffix.length);
    } else {
      out.write(stored, at, size, 'utf8');
    }
    record.data = out.subarray(at, at + size);
    at += size;
  }
  return result;
}
