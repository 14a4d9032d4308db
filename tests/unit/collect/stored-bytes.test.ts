import { gzipSync } from 'node:zlib';
import { TrafficGenerator } from '../../../cli/traffic';
import {
  type CollectInput,
  type CollectLimits,
  type PreparedRequest,
  prepareRequest,
} from '../../../lib/domain/collect';
import { requestBody } from '../../../lib/domain/http-body';
import { storedEventPatterns } from '../../../lib/schemas';

const RECEIVED_AT = new Date('2026-11-26T09:00:00.000Z');
const LIMITS: CollectLimits = { maxEvents: 500, maxBytes: 1_048_576, futureSkewSeconds: 10 * 365 * 86_400 };

/** Generated events (a few broken on purpose), as parsed objects. */
function events(count: number, seed = 'stored-bytes'): Record<string, unknown>[] {
  const generator = new TrafficGenerator({ seed, invalidShare: 0.05 });
  return Array.from({ length: count }, () => generator.next().event as Record<string, unknown>);
}

function input(body: string | Buffer, overrides: Partial<CollectInput> = {}): CollectInput {
  return {
    body: typeof body === 'string' ? Buffer.from(body) : body,
    contentType: 'application/json',
    receivedAt: RECEIVED_AT,
    requestId: 'req-"1"\u2028',
    ...overrides,
  };
}

/** What collect stores for the event at `index` of `parsed`, by definition. */
function expectedLine(parsed: unknown[], index: number, requestId = 'req-"1"\u2028'): string {
  const event = parsed[index] as Record<string, unknown>;
  return `${JSON.stringify({ ...event, received_at: RECEIVED_AT.toISOString(), request_id: requestId })}\n`;
}

/** Every accepted record, in request order, as [index, stored text]. */
function stored(prepared: PreparedRequest): [number, string][] {
  return [...prepared.events, ...prepared.clicks]
    .sort((a, b) => a.index - b.index)
    .map((r) => [r.index, Buffer.from(r.data).toString('utf8')]);
}

/** The stored text each accepted event must have: JSON.stringify of the parsed event plus collect's fields. */
function expectedFor(prepared: PreparedRequest, parsed: unknown[]): [number, string][] {
  return stored(prepared).map(([index]) => [index, expectedLine(parsed, index)]);
}

describe('prepareRequest stored bytes', () => {
  it("stores lines in the registry's stored field order, so every one takes the formatter's fast path", () => {
    // Prepare
    const generator = new TrafficGenerator({ seed: 'stored-order', invalidShare: 0 });
    const body = JSON.stringify({ events: Array.from({ length: 500 }, () => generator.next().event) });
    const patterns = storedEventPatterns();

    // Act
    const lines = stored(prepareRequest(input(body, { requestId: 'req-1' }), LIMITS)).map(([, text]) =>
      text.slice(0, -1),
    );

    // Assess
    expect(lines).toHaveLength(500);
    expect(lines.filter((line) => patterns.match(line, 0)?.end !== line.length)).toEqual([]);
  });

  it('stores each event of a compact body exactly as JSON.stringify writes it, with the added fields', () => {
    // Prepare
    const body = JSON.stringify({ events: events(500) });

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    expect(stored(prepared).length).toBeGreaterThan(450);
    expect(stored(prepared)).toEqual(expectedFor(prepared, JSON.parse(body).events));
  });

  it('stores the same bytes when the body is pretty-printed', () => {
    // Prepare
    const list = events(120);
    const compact = prepareRequest(input(JSON.stringify({ events: list })), LIMITS);

    // Act
    const pretty = prepareRequest(input(JSON.stringify({ events: list }, null, 2)), LIMITS);

    // Assess
    expect(stored(pretty)).toEqual(stored(compact));
  });

  it.each([
    ['escapes in strings', { user_id: '"user_id":"u\\u0041\\"\\\\\\/\\n"' }],
    ['a non-ASCII user_id', { user_id: '"user_id":"ユーザー😀é"' }],
    ['an integer written as 3.0', { position: '"position":3.0' }],
    ['an integer written as 3e0', { position: '"position":3e0' }],
    ['a negative zero position', { position: '"position":-0' }],
    ['a field written twice', { tab: '"tab":"first","tab":"second"' }],
    ['spaces around a member', { tab: ' "tab" : "top" ' }],
  ])('stores canonical JSON when the client wrote %s', (_, members: Record<string, string>) => {
    // Prepare
    const written = { user_id: '"user_id":"u-1"', tab: '"tab":"top"', position: '"position":3', ...members };
    const event = [
      '{"event_id":"0b6a5c1e-8f3d-4a9b-9c1d-000000000001","event_type":"impression","schema_version":1,',
      `${written.user_id},"occurred_at":"2026-11-26T08:59:00.000Z","article_id":"a-1",${written.tab},`,
      `${written.position},"platform":"web","app_version":"5.12.0"}`,
    ].join('');
    const click =
      '{"event_id":"0b6a5c1e-8f3d-4a9b-9c1d-000000000002","event_type":"click","schema_version":1,"user_id":"u-1",' +
      '"occurred_at":"2026-11-26T08:59:00.000Z","article_id":"a-1","tab":"top","position":0,"platform":"ios","app_version":"5.12.0"}';
    const body = `{"events":[${event},${click}]}`;

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    expect(prepared.rejected).toEqual([]);
    expect(stored(prepared)).toEqual(expectedFor(prepared, JSON.parse(body).events));
  });

  it('stores the same bytes for a body with a byte order mark, as NDJSON and as gzip', () => {
    // Prepare
    const list = events(80, 'formats');
    const json = JSON.stringify({ events: list });
    const expected = stored(prepareRequest(input(json), LIMITS));

    // Act
    const withBom = prepareRequest(
      input(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)])),
      LIMITS,
    );
    const ndjson = prepareRequest(
      input(list.map((e) => JSON.stringify(e)).join('\n'), { contentType: 'application/x-ndjson' }),
      LIMITS,
    );
    const gzipped = prepareRequest(input(gzipSync(json), { contentEncoding: 'gzip' }), LIMITS);

    // Assess
    expect(stored(withBom)).toEqual(expected);
    expect(stored(ndjson)).toEqual(expected);
    expect(stored(gzipped)).toEqual(expected);
  });

  it('keeps the exact text of rejected events found after non-ASCII text', () => {
    // Prepare
    const body = `{"events":[{"user_id":"ユーザー😀"} , {"event_type":"click", "position": 1.50}]}`;

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    expect(prepared.rejected.map((r) => r.raw)).toEqual([
      '{"user_id":"ユーザー😀"}',
      '{"event_type":"click", "position": 1.50}',
    ]);
  });

  it('gives each record its own bytes, even though they share one buffer', () => {
    // Prepare
    const body = JSON.stringify({ events: events(50, 'views') });

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    const records = [...prepared.events, ...prepared.clicks];
    for (const record of records) {
      expect(Buffer.isBuffer(record.data)).toBe(true);
      expect(JSON.parse(record.data.toString('utf8')).event_id).toBe(record.eventId);
    }
  });
});

describe('prepareRequest duplicate check', () => {
  it('tells apart event_ids that end alike and still finds the copy of each', () => {
    // Prepare: the two ids differ only at the start, where the duplicate check's digest does not look.
    const base = {
      event_type: 'impression',
      schema_version: 1,
      user_id: 'u-1',
      occurred_at: '2026-11-26T08:59:00.000Z',
      article_id: 'a-1',
      tab: 'top',
      position: 0,
      platform: 'ios',
      app_version: '5.12.0',
    };
    const a = { event_id: '00000000-0000-4000-8000-0000000000aa', ...base };
    const b = { event_id: 'ffffffff-0000-4000-8000-0000000000aa', ...base };
    const body = JSON.stringify({ events: [a, b, b, a] });

    // Act
    const prepared = prepareRequest(input(body), { ...LIMITS });

    // Assess
    expect(prepared.events.map((r) => r.index)).toEqual([0, 1]);
    expect(prepared.rejected.map((r) => [r.index, r.errors[0]?.message])).toEqual([
      [2, 'duplicate event_id; first seen at index 1'],
      [3, 'duplicate event_id; first seen at index 0'],
    ]);
  });
});

describe('requestBody', () => {
  it('hands back ASCII text with the same bytes UTF-8 would give', () => {
    // Act
    const { bytes, text } = requestBody('{"events":[]}', false);

    // Assess
    expect(bytes.equals(Buffer.from('{"events":[]}', 'utf8'))).toBe(true);
    expect(text).toBe('{"events":[]}');
  });

  it('encodes non-ASCII text as UTF-8', () => {
    // Act
    const { bytes, text } = requestBody('{"u":"é😀"}', false);

    // Assess
    expect(bytes.equals(Buffer.from('{"u":"é😀"}', 'utf8'))).toBe(true);
    expect(text).toBe('{"u":"é😀"}');
  });

  it('gives no text for a string with a lone surrogate, whose bytes say U+FFFD instead', () => {
    // Act
    const { bytes, text } = requestBody('{"u":"\ud800"}', false);

    // Assess
    expect(bytes.toString('utf8')).toBe('{"u":"\ufffd"}');
    expect(text).toBeUndefined();
  });

  it('decodes a base64 body and gives no text', () => {
    // Act
    const { bytes, text } = requestBody(Buffer.from([0x1f, 0x8b, 0x08]).toString('base64'), true);

    // Assess
    expect([...bytes]).toEqual([0x1f, 0x8b, 0x08]);
    expect(text).toBeUndefined();
  });

  it('leads prepareRequest to the same result as the bytes alone', () => {
    // Prepare
    const body = `\ufeff${JSON.stringify({ events: events(60, 'text') })}`;
    const { bytes, text } = requestBody(body, false);

    // Act
    const fromText = prepareRequest(input(bytes, { text }), LIMITS);
    const fromBytes = prepareRequest(input(bytes), LIMITS);

    // Assess
    expect(stored(fromText)).toEqual(stored(fromBytes));
    expect(fromText.rejected).toEqual(fromBytes.rejected);
  });
});
