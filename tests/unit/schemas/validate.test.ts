import { EVENT_TYPES, validateClientEvent, validateStoredEvent } from '../../../lib/schemas';
import { validEvent, validStoredEvent } from './fixtures';

/** Validates and returns the errors, failing the test if the event was accepted. */
function errorsOf(input: unknown) {
  const result = validateClientEvent(input);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return result.errors;
}

describe('validateClientEvent', () => {
  it.each(EVENT_TYPES)('accepts a valid %s event and returns it typed', (type) => {
    // Prepare
    const event = validEvent(type);

    // Act
    const result = validateClientEvent(event);

    // Assess
    expect(result).toEqual({ ok: true, event });
  });

  it('accepts an event without its optional fields', () => {
    const adImpression = validEvent('ad_impression');
    delete adImpression.campaign_id;
    const action = validEvent('action');
    delete action.properties;
    delete action.article_id;

    expect(validateClientEvent(adImpression).ok).toBe(true);
    expect(validateClientEvent(action).ok).toBe(true);
  });

  it('says a field has the wrong type and shows the value received', () => {
    const event = { ...validEvent('click'), position: '3' };

    expect(errorsOf(event)).toEqual([{ path: '/position', message: 'must be an integer >= 0, got "3"' }]);
  });

  it('rejects a negative position', () => {
    const event = { ...validEvent('impression'), position: -1 };

    expect(errorsOf(event)).toEqual([{ path: '/position', message: 'must be an integer >= 0, got -1' }]);
  });

  it('rejects a fractional position', () => {
    const event = { ...validEvent('click'), position: 2.5 };

    expect(errorsOf(event)).toEqual([{ path: '/position', message: 'must be an integer >= 0, got 2.5' }]);
  });

  it('says a missing field is required', () => {
    const event = validEvent('click');
    delete event.article_id;

    expect(errorsOf(event)).toEqual([{ path: '/article_id', message: 'is required' }]);
  });

  it('rejects an unknown field and says how to add one', () => {
    const event = { ...validEvent('click'), foo: 'bar' };

    expect(errorsOf(event)).toEqual([
      { path: '/foo', message: 'unknown field; add it to the schema (optional) or publish a new version' },
    ]);
  });

  it('tells a client that received_at and request_id are set by collect', () => {
    const event = { ...validEvent('click'), received_at: '2025-03-01T03:30:01Z', request_id: 'r' };

    expect(errorsOf(event)).toEqual([
      { path: '/received_at', message: 'is set by collect; clients must not send it' },
      { path: '/request_id', message: 'is set by collect; clients must not send it' },
    ]);
  });

  it('rejects an event_id that is not a UUID', () => {
    const event = { ...validEvent('click'), event_id: 'evt-123' };

    expect(errorsOf(event)).toEqual([
      {
        path: '/event_id',
        message: 'must be a UUID like "0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90", got "evt-123"',
      },
    ]);
  });

  it.each([
    ['without an offset', '2025-03-01T12:30:00'],
    ['with a space instead of T', '2025-03-01 12:30:00Z'],
    ['on a day that does not exist', '2025-02-29T12:30:00Z'],
    ['as epoch milliseconds text', '1740832200000'],
  ])('rejects an occurred_at %s', (_, occurredAt) => {
    const event = { ...validEvent('action'), occurred_at: occurredAt };

    expect(errorsOf(event)).toEqual([
      {
        path: '/occurred_at',
        message: `must be an RFC 3339 date-time with offset, like "2025-03-01T12:30:00.000Z", got "${occurredAt}"`,
      },
    ]);
  });

  it('names the allowed values of platform', () => {
    const event = { ...validEvent('click'), platform: 'windows' };

    expect(errorsOf(event)).toEqual([
      { path: '/platform', message: 'must be one of "ios", "android", "web", got "windows"' },
    ]);
  });

  it('rejects a nested object inside action properties, pointing at the property', () => {
    const event = { ...validEvent('action'), properties: { channel: 'line', ctx: { screen: 'top' } } };

    expect(errorsOf(event)).toEqual([
      { path: '/properties/ctx', message: 'must be a string, a number or a boolean, got an object' },
    ]);
  });

  it('rejects action properties that are not an object', () => {
    const event = { ...validEvent('action'), properties: ['share'] };

    expect(errorsOf(event)).toEqual([
      {
        path: '/properties',
        message: 'must be an object of name -> a string, a number or a boolean, got an array',
      },
    ]);
  });

  it('rejects an action property with an unusable name', () => {
    const event = { ...validEvent('action'), properties: { 'has space': 1 } };

    expect(errorsOf(event)).toEqual([
      { path: '/properties/has space', message: 'name must match ^[A-Za-z0-9_.:-]{1,64}$' },
    ]);
  });

  it('says how long a too-long action property value may be', () => {
    const event = { ...validEvent('action'), properties: { note: 'x'.repeat(2000) } };

    expect(errorsOf(event)).toEqual([
      { path: '/properties/note', message: 'must be at most 1024 characters, got 2000' },
    ]);
  });

  it('limits the number of action properties', () => {
    const properties = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`p${i}`, i]));
    const event = { ...validEvent('action'), properties };

    expect(errorsOf(event)).toEqual([
      { path: '/properties', message: 'must have at most 50 entries, got 51' },
    ]);
  });

  it('says how long a too-long string may be', () => {
    const event = { ...validEvent('click'), user_id: 'u'.repeat(129) };

    expect(errorsOf(event)).toEqual([
      { path: '/user_id', message: 'must be at most 128 characters, got 129' },
    ]);
  });

  it('rejects an empty identifier', () => {
    const event = { ...validEvent('click'), article_id: '' };

    expect(errorsOf(event)).toEqual([{ path: '/article_id', message: 'must not be empty' }]);
  });

  it('lists the known types when event_type is unknown', () => {
    const event = { ...validEvent('click'), event_type: 'scroll' };

    expect(errorsOf(event)).toEqual([
      {
        path: '/event_type',
        message: 'unknown event type "scroll"; known types: click, impression, ad_impression, action',
      },
    ]);
  });

  it('says event_type is required and lists the known types', () => {
    const event = validEvent('click');
    delete event.event_type;

    expect(errorsOf(event)).toEqual([
      { path: '/event_type', message: 'is required; known types: click, impression, ad_impression, action' },
    ]);
  });

  it('lists the known versions of the type when schema_version is unknown', () => {
    const event = { ...validEvent('click'), schema_version: 7 };

    expect(errorsOf(event)).toEqual([
      { path: '/schema_version', message: 'unknown version 7 of click; known versions: 1' },
    ]);
  });

  it('rejects a schema_version sent as a string, naming the known versions', () => {
    const event = { ...validEvent('impression'), schema_version: '1' };

    expect(errorsOf(event)).toEqual([
      { path: '/schema_version', message: 'must be an integer, got "1"; known versions of impression: 1' },
    ]);
  });

  it.each([
    ['a string', '{"event_type":"click"}', 'must be a JSON object, got "{\\"event_type\\":\\"click\\"}"'],
    ['null', null, 'must be a JSON object, got null'],
    ['an array', [{}], 'must be a JSON object, got an array'],
    ['a number', 42, 'must be a JSON object, got 42'],
  ])('reports %s at the root path', (_, input, message) => {
    expect(errorsOf(input)).toEqual([{ path: '', message }]);
  });

  it('reports every problem of one event, in schema order, then unknown fields', () => {
    const event: Record<string, unknown> = {
      ...validEvent('ad_impression'),
      position: -2,
      platform: 'tv',
      extra: 1,
    };
    delete event.ad_id;

    expect(errorsOf(event)).toEqual([
      { path: '/ad_id', message: 'is required' },
      { path: '/position', message: 'must be an integer >= 0, got -2' },
      { path: '/platform', message: 'must be one of "ios", "android", "web", got "tv"' },
      { path: '/extra', message: 'unknown field; add it to the schema (optional) or publish a new version' },
    ]);
  });

  it('caps the errors of one event at 10 and says how many more there were', () => {
    // 8 missing required click fields + 15 unknown fields = 23 problems: 9 shown, 14 summarised.
    const event: Record<string, unknown> = { event_type: 'click', schema_version: 1 };
    for (let i = 0; i < 15; i++) event[`x${i}`] = i;

    const errors = errorsOf(event);

    expect(errors).toHaveLength(10);
    expect(errors.at(-1)).toEqual({ path: '', message: '14 more problems not shown' });
  });

  it('escapes "/" and "~" in JSON pointer paths', () => {
    const event = { ...validEvent('click'), 'a/b~c': 1 };

    expect(errorsOf(event).map((e) => e.path)).toEqual(['/a~1b~0c']);
  });
});

describe('validateClientEvent on malformed values of every field', () => {
  const weirdValues: unknown[] = [
    null,
    '',
    'x'.repeat(300),
    -1,
    1.5,
    2 ** 40,
    'text',
    true,
    {},
    [],
    { a: { b: 1 } },
  ];
  const cases = EVENT_TYPES.flatMap((type) =>
    Object.keys(validEvent(type))
      .filter((field) => field !== 'event_type' && field !== 'schema_version')
      .flatMap((field) => weirdValues.map((value) => [type, field, JSON.stringify(value)] as const)),
  );

  it.each(cases)('explains a bad %s %s (%s) in our own words at that field', (type, field, json) => {
    const event = { ...validEvent(type), [field]: JSON.parse(json) };

    const result = validateClientEvent(event);

    // Some values are valid for some fields (e.g. "text" for tab); every rejection must be explained.
    if (!result.ok) {
      expect(result.errors.length).toBeGreaterThan(0);
      for (const error of result.errors) {
        expect(error.path.startsWith(`/${field}`)).toBe(true);
        expect(error.message).not.toMatch(/^Expected/);
      }
    }
  });
});

describe('validateStoredEvent', () => {
  it.each(EVENT_TYPES)('accepts a stored %s event', (type) => {
    const event = validStoredEvent(type);

    expect(validateStoredEvent(event)).toEqual({ ok: true, event });
  });

  it('requires received_at and request_id', () => {
    const event = validEvent('click');

    const result = validateStoredEvent(event);

    expect(result).toEqual({
      ok: false,
      errors: [
        { path: '/received_at', message: 'is required' },
        { path: '/request_id', message: 'is required' },
      ],
    });
  });

  it('rejects a received_at that is not a date-time', () => {
    const event = { ...validStoredEvent('impression'), received_at: 'yesterday' };

    expect(validateStoredEvent(event)).toEqual({
      ok: false,
      errors: [
        {
          path: '/received_at',
          message:
            'must be an RFC 3339 date-time with offset, like "2025-03-01T12:30:00.000Z", got "yesterday"',
        },
      ],
    });
  });
});
