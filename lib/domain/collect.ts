import {
  clientEventPatterns,
  type EventType,
  type FieldError,
  type PatternMatch,
  validateClientEvent,
} from '../schemas';
import { dateTimeMillis } from '../schemas/formats';
import type { BatchRecord } from './batches';
import {
  type BodyFormat,
  type BodyInput,
  MalformedBodyError,
  PayloadTooLargeError,
  readBody,
} from './http-body';
import { describeJsonError, skipValue, skipWhitespace } from './json-text';

/**
 * The event decisions of one POST /v1/events request, with no I/O: a body read by http-body.ts in,
 * records ready for Firehose/Kinesis and rejections ready for quarantine out. A problem with the
 * request as a whole is thrown as a named error carrying its HTTP status (http-body.ts).
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

/**
 * One request as received. `text` is the body already decoded as text, when the caller has it (API
 * Gateway hands the body to the Lambda as a string): decoding `body` again is skipped. It must be
 * exactly the UTF-8 decoding of `body`, as requestBody gives it; it is ignored for a gzip body.
 */
export interface CollectInput extends BodyInput {
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
  /**
   * The event's JSON text as the client wrote it (NDJSON: its line); as JSON.stringify writes it
   * only for a body of an unusual shape (e.g. a repeated "events" key), which is read whole.
   */
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

/** Matches events against the registry's schemas in their text; one per module, reused. */
const patterns = clientEventPatterns();

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

function stringField(value: unknown, field: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = (value as Record<string, unknown>)[field];
  return typeof v === 'string' ? v : undefined;
}

/** What a rejection names its event by, when the event has them as strings. */
interface EventIds {
  eventId?: string;
  eventType?: string;
}

function idsOf(value: unknown): EventIds {
  return { eventId: stringField(value, 'event_id'), eventType: stringField(value, 'event_type') };
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
 * The outcome of one request, built as its events are decided in order: accepted records (their
 * bytes written at the end, into one buffer) and rejections.
 */
class Decisions {
  readonly result: PreparedRequest;
  private readonly accepted: PreparedRecord[] = [];
  private readonly sizes: number[] = [];
  /** Per accepted record: its stored text, or '' when its bytes are copied from the body at copyFrom. */
  private readonly serialized: string[] = [];
  private readonly copyFrom: number[] = [];
  private readonly ids: AcceptedIds;
  private readonly receivedMs: number;
  private readonly maxRecordBytes: number;
  /** What JSON.stringify writes after an event's own members, closing brace and newline included. */
  readonly suffixText: string;
  readonly suffix: Buffer;

  constructor(
    format: BodyFormat,
    bytes: number,
    capacity: number,
    input: CollectInput,
    private readonly limits: CollectLimits,
  ) {
    this.result = { format, bytes, eventCount: 0, clicks: [], events: [], rejected: [] };
    this.ids = new AcceptedIds(this.accepted, capacity);
    this.receivedMs = input.receivedAt.getTime();
    this.maxRecordBytes = limits.maxRecordBytes ?? MAX_RECORD_BYTES;
    this.suffixText = `,"received_at":${JSON.stringify(input.receivedAt.toISOString())},"request_id":${JSON.stringify(input.requestId)}}\n`;
    this.suffix = Buffer.from(this.suffixText, 'utf8');
  }

  /**
   * Takes the valid event at `index` unless it occurred too far in the future, repeats an
   * accepted event_id, or is over the per-record limit once stored; answers the error then. Its
   * stored form is `stored`, or (stored === '') its body bytes from copyFrom, `size` bytes with
   * the suffix.
   */
  take(
    index: number,
    eventType: EventType,
    eventId: string,
    userId: string,
    occurredMs: number,
    stored: string,
    size: number,
    copyFrom: number,
  ): FieldError | undefined {
    const aheadSeconds = (occurredMs - this.receivedMs) / 1000;
    if (aheadSeconds > this.limits.futureSkewSeconds) {
      const message = `occurred_at is ${Math.floor(aheadSeconds)} s in the future (limit ${this.limits.futureSkewSeconds} s)`;
      return { path: '/occurred_at', message };
    }
    const digest = AcceptedIds.digest(eventId);
    const first = this.ids.find(eventId, digest);
    if (first >= 0) return { path: '/event_id', message: `duplicate event_id; first seen at index ${first}` };
    if (size > this.maxRecordBytes) {
      return {
        path: '',
        message: `event is ${size} bytes once stored; the per-record limit is ${this.maxRecordBytes} bytes`,
      };
    }
    const record: PreparedRecord = { index, eventId, eventType, userId, data: NO_DATA };
    this.ids.add(digest, this.accepted.length);
    this.accepted.push(record);
    this.sizes.push(size);
    this.serialized.push(stored);
    this.copyFrom.push(copyFrom);
    (eventType === 'click' ? this.result.clicks : this.result.events).push(record);
    return undefined;
  }

  /** Takes an event the slow path parsed: validates it, then as take(); a problem becomes a rejection. */
  takeParsed(index: number, value: unknown, raw: string, line?: number): void {
    const validation = validateClientEvent(value);
    if (!validation.ok) {
      this.reject(index, validation.errors, raw, idsOf(value), line);
      return;
    }
    const event = validation.event;
    const stored = `${JSON.stringify(event).slice(0, -1)}${this.suffixText}`;
    const problem = this.take(
      index,
      event.event_type,
      event.event_id,
      event.user_id,
      dateTimeMillis(event.occurred_at),
      stored,
      Buffer.byteLength(stored, 'utf8'),
      -1,
    );
    if (problem !== undefined) this.reject(index, [problem], raw, idsOf(value), line);
  }

  /**
   * Takes an event the fast path matched: characters [start, match.end) of `text`, which are also
   * its bytes in the body when `copyBytes`; a problem becomes a rejection.
   */
  takeMatched(
    index: number,
    text: string,
    start: number,
    match: PatternMatch,
    copyBytes: boolean,
    line?: number,
  ): void {
    const { end, eventId, occurredMs } = match;
    const eventType = match.type as EventType;
    let stored = '';
    let size: number;
    if (copyBytes) {
      size = end - start - 1 + this.suffix.length;
    } else {
      stored = `${text.slice(start, end - 1)}${this.suffixText}`;
      size = Buffer.byteLength(stored, 'utf8');
    }
    const problem = this.take(index, eventType, eventId, match.userId, occurredMs, stored, size, start);
    if (problem !== undefined)
      this.reject(index, [problem], text.slice(start, end), { eventId, eventType }, line);
  }

  /** Records a rejection of the event at `index`, with its text as the client wrote it. */
  reject(index: number, errors: FieldError[], raw: string, ids: EventIds, line?: number): void {
    const rejected: Rejection = { index, errors, raw };
    const { eventId, eventType } = ids;
    if (eventId !== undefined) rejected.event_id = eventId;
    if (eventType !== undefined) rejected.event_type = eventType;
    if (line !== undefined) rejected.line = line;
    this.result.rejected.push(rejected);
  }

  /**
   * Writes every accepted record into one buffer (each record gets its own view) and answers the
   * outcome. The events for Firehose come first and the clicks after them, each in request order,
   * so each stream's records lie end to end (packRecords then packs them without copying).
   */
  finish(eventCount: number, body: Buffer): PreparedRequest {
    const { accepted, sizes, serialized, copyFrom, suffix } = this;
    let total = 0;
    let clicksAt = 0;
    for (let k = 0; k < accepted.length; k++) {
      const size = sizes[k] as number;
      total += size;
      if ((accepted[k] as PreparedRecord).eventType !== 'click') clicksAt += size;
    }
    const out = Buffer.allocUnsafe(total);
    let eventsAt = 0;
    for (let k = 0; k < accepted.length; k++) {
      const record = accepted[k] as PreparedRecord;
      const size = sizes[k] as number;
      const stored = serialized[k] as string;
      const at = record.eventType === 'click' ? clicksAt : eventsAt;
      if (stored === '') {
        // The event's bytes up to (not including) its closing brace, then the suffix.
        const from = copyFrom[k] as number;
        body.copy(out, at, from, from + size - suffix.length);
        suffix.copy(out, at + size - suffix.length);
      } else {
        out.write(stored, at, size, 'utf8');
      }
      record.data = out.subarray(at, at + size);
      if (record.eventType === 'click') clicksAt += size;
      else eventsAt += size;
    }
    this.result.eventCount = eventCount;
    return this.result;
  }
}

/** A JSON body parsed whole (the slow path): its events, or a MalformedBodyError / PayloadTooLargeError. */
function jsonEvents(text: string, bytes: Buffer, maxEvents: number): unknown[] {
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
  return events;
}

const OPENING = /[ \t\n\r]*\{[ \t\n\r]*"events"[ \t\n\r]*:[ \t\n\r]*\[[ \t\n\r]*/y;
const CLOSING = /\][ \t\n\r]*\}[ \t\n\r]*$/y;

/**
 * The common case of a JSON body, read without parsing it whole: `{"events": [...]}` with 1 to
 * maxEvents events. Each event is first matched against the schemas in its text (the fast path);
 * one that does not match is found by its delimiters and parsed alone. Answers the event count,
 * or -1 for anything else (invalid JSON, another shape, too many events): the caller then throws
 * `decisions` away and reads the body whole, which says what is wrong. Every character of the
 * body is checked, by the shape, by a pattern or by JSON.parse of an event, so a body read here
 * is valid JSON.
 */
function decideJsonText(text: string, copyBytes: boolean, maxEvents: number, decisions: Decisions): number {
  OPENING.lastIndex = 0;
  if (!OPENING.test(text)) return -1;
  let at = OPENING.lastIndex;
  if (text.charCodeAt(at) === 0x5d) return -1;
  let index = 0;
  for (; ; index++) {
    if (index === maxEvents) return -1;
    const match = patterns.match(text, at);
    let end: number;
    if (match !== undefined) {
      end = match.end;
      decisions.takeMatched(index, text, at, match, copyBytes);
    } else {
      end = skipValue(text, at);
      if (end < 0) return -1;
      const raw = text.slice(at, end);
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return -1;
      }
      decisions.takeParsed(index, value, raw);
    }
    at = skipWhitespace(text, end);
    const c = text.charCodeAt(at);
    if (c === 0x2c) at = skipWhitespace(text, at + 1);
    else if (c === 0x5d) break;
    else return -1;
  }
  CLOSING.lastIndex = at;
  return CLOSING.test(text) ? index + 1 : -1;
}

/** Decides every line of an NDJSON body (blank lines skipped); answers the event count. */
function decideNdjson(text: string, bytes: Buffer, maxEvents: number, decisions: Decisions): number {
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
  lineTexts.forEach((raw, index) => {
    const line = lines[index] as number;
    const match = patterns.match(raw, 0);
    if (match?.end === raw.length) {
      decisions.takeMatched(index, raw, 0, match, false, line);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      const message = `line ${line} is not valid JSON: ${describeJsonError(raw, error)}`;
      decisions.reject(index, [{ path: '', message }], raw, {}, line);
      return;
    }
    decisions.takeParsed(index, value, raw, line);
  });
  return lines.length;
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
  const { format, bytes, text } = readBody(input, limits.maxBytes);
  const decide = () => new Decisions(format, bytes.length, limits.maxEvents, input, limits);
  let decisions = decide();
  if (format === 'ndjson') {
    return decisions.finish(decideNdjson(text, bytes, limits.maxEvents, decisions), bytes);
  }
  // Character offsets of the text are byte offsets of `bytes` when every character is ASCII.
  const count = decideJsonText(text, bytes.length === text.length, limits.maxEvents, decisions);
  if (count >= 0) return decisions.finish(count, bytes);
  // Not the common shape: read the body whole; its errors name what is wrong. A rejected event's
  // text is then as JSON.stringify writes it.
  const events = jsonEvents(text, bytes, limits.maxEvents);
  decisions = decide();
  events.forEach((value, index) => {
    decisions.takeParsed(index, value, JSON.stringify(value) ?? String(value));
  });
  return decisions.finish(events.length, bytes);
}
