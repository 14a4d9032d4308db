import { gzipSync } from 'node:zlib';
import { type CollectInput, type CollectLimits, prepareRequest } from '../../../lib/domain/collect';
import {
  MalformedBodyError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../../../lib/domain/http-body';

const RECEIVED_AT = new Date('2026-11-20T09:30:00.000Z');
const LIMITS: CollectLimits = { maxEvents: 500, maxBytes: 1_048_576, futureSkewSeconds: 300 };

let seq = 0;
function uuid(): string {
  seq += 1;
  return `0b6a5c1e-8f3d-4a9b-9c1d-${String(seq).padStart(12, '0')}`;
}

function click(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: uuid(),
    event_type: 'click',
    schema_version: 1,
    user_id: 'u-1',
    occurred_at: '2026-11-20T09:29:00.000Z',
    article_id: 'a-1',
    tab: 'top',
    position: 0,
    platform: 'ios',
    app_version: '5.12.0',
    ...overrides,
  };
}

function impression(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...click(), event_type: 'impression', platform: 'android', ...overrides };
}

function input(body: string | Buffer, overrides: Partial<CollectInput> = {}): CollectInput {
  return {
    body: typeof body === 'string' ? Buffer.from(body) : body,
    contentType: 'application/json',
    receivedAt: RECEIVED_AT,
    requestId: 'req-1',
    ...overrides,
  };
}

const jsonBody = (events: unknown[]) => JSON.stringify({ events });
const ndjson = (lines: string[]) => input(lines.join('\n'), { contentType: 'application/x-ndjson' });

/** Runs prepareRequest expecting it to throw, and returns the error. */
function rejectionOf(request: CollectInput, limits: CollectLimits = LIMITS): Error {
  try {
    prepareRequest(request, limits);
  } catch (error) {
    return error as Error;
  }
  throw new Error('prepareRequest did not throw');
}

describe('prepareRequest on a JSON body', () => {
  it('accepts valid events, sending clicks to the clicks list and the rest to the events list', () => {
    // Prepare
    const events = [click(), impression(), click({ user_id: 'u-2' })];

    // Act
    const prepared = prepareRequest(input(jsonBody(events)), LIMITS);

    // Assess
    expect(prepared.clicks.map((r) => [r.index, r.eventId, r.userId])).toEqual([
      [0, events[0]?.event_id, 'u-1'],
      [2, events[2]?.event_id, 'u-2'],
    ]);
    expect(prepared.events.map((r) => [r.index, r.eventType])).toEqual([[1, 'impression']]);
    expect(prepared.rejected).toEqual([]);
    expect(prepared.eventCount).toBe(3);
  });

  it('stores each accepted event as one JSON line with received_at and request_id added', () => {
    // Prepare
    const event = impression();

    // Act
    const [record] = prepareRequest(input(jsonBody([event])), LIMITS).events;

    // Assess
    const text = record?.data.toString('utf8') ?? '';
    expect(text.endsWith('\n')).toBe(true);
    expect(text.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(text)).toEqual({
      ...event,
      received_at: '2026-11-20T09:30:00.000Z',
      request_id: 'req-1',
    });
  });

  it('rejects a body that is not valid JSON, naming the parser position', () => {
    // Act
    const error = rejectionOf(input('{"events":[{"event_type":"click",}]}'));

    // Assess
    expect(error).toBeInstanceOf(MalformedBodyError);
    expect(error).toMatchObject({ statusCode: 400 });
    expect(error.message).toMatch(/^body is not valid JSON: .*at position 33/);
  });

  it('keeps the bytes of a malformed body on the error so it can be quarantined', () => {
    // Act
    const error = rejectionOf(input('{"events": [nope]}')) as MalformedBodyError;

    // Assess
    expect(error.body.toString()).toBe('{"events": [nope]}');
  });

  it.each([
    ['an empty body', '', 'request body is empty'],
    ['a blank body', ' \n\t ', 'request body is empty'],
    ['an empty events array', '{"events":[]}', '"events" is empty; send at least one event'],
    ['a missing events field', '{}', 'body has no "events" field; send {"events": [...]}'],
    ['events that are not an array', '{"events":{"a":1}}', '"events" must be an array, got an object'],
    [
      'a bare array',
      '[{}]',
      'body must be a JSON object {"events": [...]}, got an array; wrap the array as {"events": [...]}',
    ],
    ['a JSON string', '"hello"', 'body must be a JSON object {"events": [...]}, got a string'],
    [
      'an unknown top-level field',
      '{"events":[{}],"batch":1}',
      'unexpected top-level field "batch"; the body is {"events": [...]}',
    ],
  ])('rejects %s with a 400 that says so', (_, body, message) => {
    // Act
    const error = rejectionOf(input(body));

    // Assess
    expect(error).toBeInstanceOf(MalformedBodyError);
    expect(error.message).toBe(message);
  });

  it('rejects a body with bytes that are not UTF-8, naming the byte offset', () => {
    // Prepare
    const body = Buffer.concat([
      Buffer.from('{"events":[{"user_id":"'),
      Buffer.from([0xff]),
      Buffer.from('"}]}'),
    ]);

    // Act
    const error = rejectionOf(input(body));

    // Assess
    expect(error).toBeInstanceOf(MalformedBodyError);
    expect(error.message).toBe('body is not valid UTF-8: invalid UTF-8 sequence 0xff at byte offset 23');
  });

  it('accepts a body that starts with a UTF-8 byte order mark', () => {
    // Prepare
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(jsonBody([click()]))]);

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    expect(prepared.clicks).toHaveLength(1);
  });

  it('answers 413 for a 10 MiB body, naming its size and the limit', () => {
    // Prepare
    const body = Buffer.alloc(10 * 1024 * 1024, 0x20);

    // Act
    const error = rejectionOf(input(body));

    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ statusCode: 413 });
    expect(error.message).toBe('request body is 10485760 bytes; the limit is 1048576 bytes');
  });

  it('answers 413 for more events than the limit, naming the count and the limit', () => {
    // Prepare
    const events = Array.from({ length: 501 }, () => click());

    // Act
    const error = rejectionOf(input(jsonBody(events)));

    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error.message).toBe('request has 501 events; the limit is 500 events per request');
  });

  it('accepts exactly the limit of events', () => {
    // Prepare
    const events = Array.from({ length: 5 }, () => click());

    // Act
    const prepared = prepareRequest(input(jsonBody(events)), { ...LIMITS, maxEvents: 5 });

    // Assess
    expect(prepared.clicks).toHaveLength(5);
  });
});

describe('prepareRequest on each event', () => {
  it('rejects only the invalid events and keeps their original JSON text', () => {
    // Prepare
    const good = click();
    const body = `{"events": [${JSON.stringify(good)},  {"event_type" : "click" , "position": 1.50}  ]}`;

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    expect(prepared.clicks.map((r) => r.index)).toEqual([0]);
    expect(prepared.rejected).toHaveLength(1);
    expect(prepared.rejected[0]).toMatchObject({
      index: 1,
      raw: '{"event_type" : "click" , "position": 1.50}',
    });
    expect(prepared.rejected[0]).not.toHaveProperty('event_id');
  });

  it('rejects a field of the wrong type, naming the field', () => {
    // Prepare
    const event = click({ position: '2' });

    // Act
    const { rejected } = prepareRequest(input(jsonBody([event])), LIMITS);

    // Assess
    expect(rejected).toEqual([
      {
        index: 0,
        event_id: event.event_id,
        event_type: 'click',
        errors: [{ path: '/position', message: expect.stringContaining('must be an integer') }],
        raw: JSON.stringify(event),
      },
    ]);
  });

  it('rejects an event with a missing field, naming the field', () => {
    // Prepare
    const event = impression();
    delete event.article_id;

    // Act
    const { rejected } = prepareRequest(input(jsonBody([event])), LIMITS);

    // Assess
    expect(rejected[0]?.errors).toEqual([
      { path: '/article_id', message: expect.stringContaining('required') },
    ]);
  });

  it('rejects an unknown event type, listing the known ones', () => {
    // Act
    const { rejected } = prepareRequest(input(jsonBody([click({ event_type: 'scroll' })])), LIMITS);

    // Assess
    expect(rejected[0]?.errors).toEqual([
      {
        path: '/event_type',
        message: expect.stringMatching(/unknown event type "scroll".*click, impression/),
      },
    ]);
  });

  it('rejects an unknown schema version, listing the known ones', () => {
    // Act
    const { rejected } = prepareRequest(input(jsonBody([click({ schema_version: 7 })])), LIMITS);

    // Assess
    expect(rejected[0]?.errors).toEqual([
      { path: '/schema_version', message: expect.stringMatching(/unknown version 7 of click/) },
    ]);
  });

  it('rejects an event that is not an object', () => {
    // Act
    const { rejected } = prepareRequest(input('{"events":[42]}'), LIMITS);

    // Assess
    expect(rejected).toEqual([
      {
        index: 0,
        errors: [{ path: '', message: expect.stringContaining('must be a JSON object') }],
        raw: '42',
      },
    ]);
  });

  it('rejects later copies of an event_id already accepted in the same request', () => {
    // Prepare
    const first = click();
    const events = [first, impression(), { ...first }, { ...first }];

    // Act
    const prepared = prepareRequest(input(jsonBody(events)), LIMITS);

    // Assess
    expect(prepared.clicks.map((r) => r.index)).toEqual([0]);
    expect(prepared.rejected.map((r) => [r.index, r.event_id, r.errors])).toEqual([
      [2, first.event_id, [{ path: '/event_id', message: 'duplicate event_id; first seen at index 0' }]],
      [3, first.event_id, [{ path: '/event_id', message: 'duplicate event_id; first seen at index 0' }]],
    ]);
  });

  it('accepts a valid copy of an event_id whose first copy was rejected', () => {
    // Prepare
    const valid = click();
    const events = [{ ...valid, position: -1 }, valid];

    // Act
    const prepared = prepareRequest(input(jsonBody(events)), LIMITS);

    // Assess
    expect(prepared.clicks.map((r) => r.index)).toEqual([1]);
    expect(prepared.rejected.map((r) => r.index)).toEqual([0]);
  });

  it('rejects an event that occurred more than the allowed skew in the future', () => {
    // Prepare
    const ahead = click({ occurred_at: '2026-11-20T09:35:01.000Z' });
    const atLimit = click({ occurred_at: '2026-11-20T09:35:00.000+00:00' });

    // Act
    const prepared = prepareRequest(input(jsonBody([ahead, atLimit])), LIMITS);

    // Assess
    expect(prepared.clicks.map((r) => r.index)).toEqual([1]);
    expect(prepared.rejected[0]?.errors).toEqual([
      { path: '/occurred_at', message: 'occurred_at is 301 s in the future (limit 300 s)' },
    ]);
  });

  it('compares occurred_at across time zone offsets', () => {
    // Prepare: 18:40 in Tokyo is 09:40 UTC, ten minutes after the request was received.
    const event = click({ occurred_at: '2026-11-20T18:40:00+09:00' });

    // Act
    const { rejected } = prepareRequest(input(jsonBody([event])), LIMITS);

    // Assess
    expect(rejected[0]?.errors[0]?.message).toBe('occurred_at is 600 s in the future (limit 300 s)');
  });

  it('rejects an event whose stored form is over the per-record limit', () => {
    // Prepare
    const event = click();

    // Act
    const { rejected, clicks } = prepareRequest(input(jsonBody([event])), { ...LIMITS, maxRecordBytes: 200 });

    // Assess
    expect(clicks).toEqual([]);
    expect(rejected[0]?.errors).toEqual([
      {
        path: '',
        message: expect.stringMatching(/^event is \d+ bytes once stored; the per-record limit is 200 bytes$/),
      },
    ]);
  });
});

describe('prepareRequest on an NDJSON body', () => {
  it('reads one event per line and ignores blank lines', () => {
    // Prepare
    const request = ndjson([JSON.stringify(click()), '', '   ', `${JSON.stringify(impression())}\r`, '']);

    // Act
    const prepared = prepareRequest(request, LIMITS);

    // Assess
    expect(prepared.format).toBe('ndjson');
    expect(prepared.eventCount).toBe(2);
    expect(prepared.clicks.map((r) => r.index)).toEqual([0]);
    expect(prepared.events.map((r) => r.index)).toEqual([1]);
  });

  it('rejects only a line that is not JSON, naming its line number', () => {
    // Prepare
    const request = ndjson([JSON.stringify(click()), '', '{"event_id": oops}', JSON.stringify(click())]);

    // Act
    const prepared = prepareRequest(request, LIMITS);

    // Assess
    expect(prepared.clicks.map((r) => r.index)).toEqual([0, 2]);
    expect(prepared.rejected).toEqual([
      {
        index: 1,
        line: 3,
        errors: [{ path: '', message: expect.stringMatching(/^line 3 is not valid JSON: .*position 13/) }],
        raw: '{"event_id": oops}',
      },
    ]);
  });

  it('keeps the line number on a line that is JSON but not a valid event', () => {
    // Prepare
    const request = ndjson(['', JSON.stringify(click({ tab: '' }))]);

    // Act
    const { rejected } = prepareRequest(request, LIMITS);

    // Assess
    expect(rejected[0]).toMatchObject({ index: 0, line: 2, errors: [{ path: '/tab' }] });
  });

  it('answers 413 for more lines than the event limit', () => {
    // Prepare
    const request = ndjson(Array.from({ length: 4 }, () => JSON.stringify(click())));

    // Act
    const error = rejectionOf(request, { ...LIMITS, maxEvents: 3 });

    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error.message).toBe('request has 4 events; the limit is 3 events per request');
  });

  it('rejects a body of blank lines with a 400', () => {
    // Act
    const error = rejectionOf(ndjson(['', '  ', '\r', '']));

    // Assess
    expect(error).toBeInstanceOf(MalformedBodyError);
    expect(error.message).toBe('request body is empty');
  });
});

describe('prepareRequest on a gzip body', () => {
  it('inflates a gzip NDJSON body', () => {
    // Prepare
    const body = gzipSync([JSON.stringify(click()), JSON.stringify(impression())].join('\n'));

    // Act
    const prepared = prepareRequest(
      input(body, { contentType: 'application/x-ndjson', contentEncoding: 'gzip' }),
      LIMITS,
    );

    // Assess
    expect(prepared.clicks).toHaveLength(1);
    expect(prepared.events).toHaveLength(1);
    expect(prepared.bytes).toBeGreaterThan(body.length);
  });

  it('stops inflating a gzip bomb at the byte limit and answers 413', () => {
    // Prepare: 64 MiB of spaces compress to about 64 KiB.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));

    // Act
    const error = rejectionOf(input(bomb, { contentEncoding: 'gzip' }));

    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error.message).toBe(
      `gzip body (${bomb.length} bytes) inflates to more than 1048576 bytes; the limit is 1048576 bytes decoded`,
    );
  });

  it('rejects bytes that are not gzip with a 400', () => {
    // Act
    const error = rejectionOf(input('{"events":[]}', { contentEncoding: 'gzip' }));

    // Assess
    expect(error).toBeInstanceOf(MalformedBodyError);
    expect(error.message).toBe('body is not valid gzip: incorrect header check');
  });

  it('names the offset in the gunzipped body when its bytes are not UTF-8', () => {
    // Prepare
    const body = gzipSync(
      Buffer.concat([Buffer.from('{"events":['), Buffer.from([0xc3, 0x28]), Buffer.from(']}')]),
    );

    // Act
    const error = rejectionOf(input(body, { contentEncoding: 'gzip' }));

    // Assess
    expect(error.message).toBe(
      'body is not valid UTF-8: invalid UTF-8 sequence 0xc3 0x28 at byte offset 11 of the gunzipped body',
    );
  });
});

describe('prepareRequest on headers', () => {
  it.each([
    ['application/json; charset=UTF-8', 'json'],
    ['Application/JSON', 'json'],
    ['application/x-ndjson; charset="utf-8"', 'ndjson'],
  ])('accepts Content-Type %s', (contentType, format) => {
    // Prepare
    const body = format === 'json' ? jsonBody([click()]) : JSON.stringify(click());

    // Act
    const prepared = prepareRequest(input(body, { contentType }), LIMITS);

    // Assess
    expect(prepared.format).toBe(format);
  });

  it.each([
    [undefined, 'Content-Type header is missing; send application/json or application/x-ndjson'],
    ['text/plain', 'Content-Type text/plain is not supported; send application/json or application/x-ndjson'],
    ['application/json; charset=iso-8859-1', 'charset iso-8859-1 is not supported; send UTF-8'],
  ])('answers 415 for Content-Type %s', (contentType, message) => {
    // Act
    const error = rejectionOf(input(jsonBody([click()]), { contentType }));

    // Assess
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(error).toMatchObject({ statusCode: 415, message });
  });

  it('answers 415 for a Content-Encoding other than gzip', () => {
    // Act
    const error = rejectionOf(input(jsonBody([click()]), { contentEncoding: 'br' }));

    // Assess
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect(error.message).toBe('Content-Encoding br is not supported; send gzip or identity');
  });

  it('treats Content-Encoding identity as no encoding', () => {
    // Act
    const prepared = prepareRequest(input(jsonBody([click()]), { contentEncoding: 'identity' }), LIMITS);

    // Assess
    expect(prepared.clicks).toHaveLength(1);
  });
});

describe('prepareRequest on the fast and the slow path', () => {
  const stored = (event: Record<string, unknown>) =>
    `${JSON.stringify({ ...event, received_at: '2026-11-20T09:30:00.000Z', request_id: 'req-1' })}\n`;
  const texts = (records: { data: Buffer }[]) => records.map((r) => r.data.toString('utf8'));

  it('stores the same lines whether the client wrote events compactly, pretty-printed or with escapes', () => {
    // Prepare
    const events = [impression(), impression({ user_id: 'u-日本' }), impression({ tab: 'spört' })];
    const compact = jsonBody(events);
    const pretty = JSON.stringify({ events }, null, 2);
    const escaped = compact.replace('"tab":"top"', '"tab":"\\u0074op"');

    // Act
    const results = [compact, pretty, escaped].map((body) =>
      texts(prepareRequest(input(body), LIMITS).events),
    );

    // Assess
    const expected = events.map(stored);
    expect(results).toEqual([expected, expected, expected]);
  });

  it('keeps the client field order of an event written in another order', () => {
    // Prepare
    const event = Object.fromEntries(Object.entries(impression()).reverse());

    // Act
    const prepared = prepareRequest(input(jsonBody([event])), LIMITS);

    // Assess
    expect(texts(prepared.events)).toEqual([stored(event)]);
  });

  it('handles fast, slow and rejected events side by side, keeping each rejected one as written', () => {
    // Prepare
    const fast = click();
    const slow = impression();
    const slowText = JSON.stringify(slow, null, 1);
    const invalidText = JSON.stringify(impression({ position: -1 }));
    const body = ` { "events" : [ ${JSON.stringify(fast)} ,\n${slowText},${invalidText} ] } \n`;

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    expect(texts(prepared.clicks)).toEqual([stored(fast)]);
    expect(texts(prepared.events)).toEqual([stored(slow)]);
    expect(prepared.rejected.map((r) => [r.index, r.raw, r.errors[0]?.path])).toEqual([
      [2, invalidText, '/position'],
    ]);
  });

  it('reads the events of the last "events" key when the body repeats it, as JSON.parse does', () => {
    // Prepare
    const first = click();
    const last = impression();
    const body = `{"events":[${JSON.stringify(first)}],"events":[${JSON.stringify(last)}]}`;

    // Act
    const prepared = prepareRequest(input(body), LIMITS);

    // Assess
    expect(prepared.clicks).toEqual([]);
    expect(texts(prepared.events)).toEqual([stored(last)]);
  });

  it('answers 400 naming the position when the body breaks after valid events', () => {
    // Prepare
    const body = `{"events":[${JSON.stringify(click())},${JSON.stringify(click())}]`;

    // Act
    const error = rejectionOf(input(body));

    // Assess
    expect(error).toBeInstanceOf(MalformedBodyError);
    expect(error.message).toMatch(/^body is not valid JSON: .*position/);
  });
});

describe('prepareRequest record layout', () => {
  it('lays the events for Firehose end to end, then the clicks, so a packed record needs no copy', () => {
    // Prepare
    const events = [impression(), click(), impression(), click(), impression()];

    // Act
    const prepared = prepareRequest(input(jsonBody(events)), LIMITS);

    // Assess
    for (const list of [prepared.events, prepared.clicks]) {
      for (let i = 1; i < list.length; i++) {
        const previous = list[i - 1]?.data as Buffer;
        expect(list[i]?.data.buffer).toBe(previous.buffer);
        expect(list[i]?.data.byteOffset).toBe(previous.byteOffset + previous.byteLength);
      }
    }
    expect(prepared.events.map((r) => r.index)).toEqual([0, 2, 4]);
  });
});
