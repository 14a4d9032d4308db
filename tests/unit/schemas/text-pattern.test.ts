import * as Tb from '@sinclair/typebox';
import { Random, TrafficGenerator } from '../../../cli/traffic';
import {
  clientEventPatterns,
  EVENT_TYPES,
  EventPatterns,
  type EventType,
  jsonSchema,
  validateClientEvent,
} from '../../../lib/schemas';
import { dateTimeMillis } from '../../../lib/schemas/formats';
import { validEvent } from './fixtures';

/**
 * What a match claims (see lib/schemas/text-pattern.ts): the matched text is exactly what
 * JSON.stringify writes for its value, the value passes validateClientEvent, and the envelope
 * read from the text is the value's. Throws with the text when a claim does not hold.
 */
function assertMatchClaims(patterns: EventPatterns, text: string, at = 0): boolean {
  const end = patterns.match(text, at);
  if (end < 0) return false;
  const matched = text.slice(at, end);
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(matched);
  } catch (error) {
    throw new Error(`matched text that is not JSON: ${matched} (${(error as Error).message})`);
  }
  const checks = {
    stringify: JSON.stringify(value) === matched,
    valid: validateClientEvent(value).ok,
    envelope:
      patterns.eventType === value.event_type &&
      patterns.eventId === value.event_id &&
      patterns.userId === value.user_id &&
      patterns.occurredMs === dateTimeMillis(value.occurred_at as string),
  };
  if (!checks.stringify || !checks.valid || !checks.envelope) {
    throw new Error(`match claims ${JSON.stringify(checks)} fail for ${matched}`);
  }
  return true;
}

/** The event with its fields in the schema's order, the order the patterns expect. */
function inSchemaOrder(event: Record<string, unknown>): Record<string, unknown> {
  const fields = Object.keys(jsonSchema(event.event_type as EventType, 1).properties);
  return Object.fromEntries(fields.filter((f) => f in event).map((f) => [f, event[f]]));
}

/** Characters a mutation inserts: JSON's structure, escapes, digits, spaces, and beyond ASCII. */
const ALPHABET = [
  '"',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '\\',
  ' ',
  '\n',
  '0',
  '1',
  '9',
  '-',
  '.',
  'e',
  'E',
  'a',
  'A',
  'Z',
  't',
  'n',
  '\u0001',
  'é',
  '日',
  '\ud83d\ude00',
  '+',
  '_',
];

/** A copy of `text` with 1 to 3 characters inserted, deleted or replaced at random places. */
function mutate(text: string, random: Random): string {
  let out = text;
  const edits = 1 + random.int(3);
  for (let k = 0; k < edits; k++) {
    const at = random.int(out.length + 1);
    const kind = random.int(3);
    const char = random.pick(ALPHABET);
    if (kind === 0) out = out.slice(0, at) + char + out.slice(at);
    else if (kind === 1) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + char + out.slice(at + 1);
  }
  return out;
}

/** Events changed in the ways a fast path could get wrong: each is valid JSON, some still valid events. */
function structuralVariants(event: Record<string, unknown>): string[] {
  const text = JSON.stringify(event);
  const keys = Object.keys(event);
  /** The text with the string field's value replaced (written as is: no escapes). */
  const withString = (field: string, value: string) =>
    text.replace(new RegExp(`"${field}":"[^"]*"`), `"${field}":"${value}"`);
  const out = [
    text,
    JSON.stringify(event, null, 1),
    text.replace('":', '" :'),
    text.replace(/,"/, ', "'),
    // Fields in another order, one field twice, a field missing, an unknown field.
    JSON.stringify(Object.fromEntries([...Object.entries(event)].reverse())),
    `${text.slice(0, -1)},"${keys[1]}":${JSON.stringify(event[keys[1] as string])}}`,
    `${text.slice(0, -1)},"event_type":"click"}`,
    `{"event_type":"click",${text.slice(1)}`,
    `${text.slice(0, -1)},"extra":1}`,
    `${text.slice(0, -1)},"received_at":"2026-11-26T10:00:00Z"}`,
    ...keys.map((key) => JSON.stringify({ ...event, [key]: undefined })),
    // Escapes JSON.parse reads as the same value.
    text.replace('"event_id"', '"\\u0065vent_id"'),
    text.replace(/"user_id":"(.)/, '"user_id":"\\u00$1'),
    text.replace(/"platform":"(\w+)"/, '"platform":"\\u0069os"'),
    text.replace('"tab":"', '"tab":"\\/'),
    // Number spellings.
    text.replace(/"position":(\d+)/, '"position":$1.0'),
    text.replace(/"position":(\d+)/, '"position":$1e0'),
    text.replace(/"position":(\d+)/, '"position":0$1'),
    text.replace(/"position":(\d+)/, '"position":-0'),
    text.replace(/"position":(\d+)/, '"position":-1'),
    text.replace(/"position":(\d+)/, '"position":2147483647'),
    text.replace(/"position":(\d+)/, '"position":2147483648'),
    text.replace(/"position":(\d+)/, '"position":999999999'),
    text.replace(/"position":(\d+)/, '"position":1000000000'),
    text.replace(/"position":(\d+)/, '"position":"$1"'),
    text.replace('"schema_version":1', '"schema_version":1.0'),
    text.replace('"schema_version":1', '"schema_version":2'),
    text.replace('"schema_version":1', '"schema_version":10'),
    // String lengths, formats, enums.
    withString('app_version', '9'.repeat(32)),
    withString('app_version', '9'.repeat(33)),
    withString('app_version', ''),
    withString('article_id', 'a'.repeat(100)),
    withString('article_id', 'a'.repeat(128)),
    withString('article_id', 'a'.repeat(129)),
    withString('ad_id', 'd'.repeat(128)),
    withString('ad_id', 'd'.repeat(129)),
    withString('tab', 't'.repeat(64)),
    withString('tab', 't'.repeat(65)),
    withString('tab', ''),
    withString('action', 's'.repeat(65)),
    withString('user_id', ''),
    // Lone surrogates: valid in a JSON string, but JSON.stringify escapes them.
    withString('user_id', 'u\ud83d'),
    withString('tab', '\ude00x'),
    withString('tab', 'ok\ud83d\ude00'),
    withString('user_id', 'u'.repeat(128)),
    withString('user_id', 'u'.repeat(129)),
    withString('user_id', '日'.repeat(128)),
    withString('user_id', '\ud83d\ude00'.repeat(64)),
    withString('user_id', '\ud83d\ude00'.repeat(65)),
    withString('event_id', '0B6A5C1E-8F3D-4A9B-9C1D-2E7F4A6B8C90'),
    withString('event_id', '0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c9'),
    withString('event_id', '0b6a5c1e8f3d-4a9b-9c1d-2e7f4a6b8c900'),
    withString('occurred_at', '2025-02-29T12:30:00Z'),
    withString('occurred_at', '2024-02-29T12:30:00Z'),
    withString('occurred_at', '2025-03-01T24:00:00Z'),
    withString('occurred_at', '2025-03-01T12:30:00'),
    withString('occurred_at', '2025-03-01t12:30:00.123456789+09:00'),
    text.replace(/"occurred_at":"[^"]*"/, `"occurred_at":"2025-03-01T12:30:00.${'1'.repeat(21)}Z"`),
    text.replace(/"platform":"\w+"/, '"platform":"IOS"'),
    text.replace(/"platform":"\w+"/, '"platform":"android"'),
    text.replace(/"platform":"\w+"/, '"platform":null'),
    text.replace(/"platform":"\w+"/, '"platform":true'),
  ];
  if (event.event_type === 'action') {
    const withProperties = (properties: string) =>
      `${text.slice(0, -1).replace(/,"properties":\{[^}]*\}/, '')},"properties":${properties}}`;
    out.push(
      withProperties('{}'),
      withProperties('{"a":"x","b":1,"c":true,"d":false,"e":-3}'),
      withProperties('{"a":"x","a":"y"}'),
      withProperties('{"1":"x","a":"y"}'),
      withProperties('{"a":"x","1":"y"}'),
      withProperties('{"bad key":"x"}'),
      withProperties('{"__proto__":"x"}'),
      withProperties('{"a":1.5}'),
      withProperties('{"a":null}'),
      withProperties('{"a":{"b":1}}'),
      withProperties('{"a":["b"]}'),
      withProperties(`{"a":"${'y'.repeat(1024)}"}`),
      withProperties(`{"a":"${'y'.repeat(1025)}"}`),
      withProperties(JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])))),
      withProperties(JSON.stringify(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])))),
    );
  }
  if (event.event_type === 'ad_impression') {
    out.push(
      text.replace(/,"tab"/, ',"campaign_id":"c_1","tab"'),
      text.replace(/,"tab"/, ',"campaign_id":"","tab"'),
      `${text.slice(0, -1)},"campaign_id":"c_1"}`,
    );
  }
  return out;
}

describe('clientEventPatterns', () => {
  const patterns = clientEventPatterns();

  it('has a fast path for every schema of the registry', () => {
    // Act
    const covered = patterns.covered().map(({ type, version }) => `${type}.v${version}`);

    // Assess
    expect(covered.sort()).toEqual(EVENT_TYPES.map((type) => `${type}.v1`).sort());
  });

  it.each(EVENT_TYPES)(
    'matches a valid %s written as JSON.stringify writes it, and reads its envelope',
    (type) => {
      // Prepare
      const event = inSchemaOrder(validEvent(type as EventType));
      const text = JSON.stringify(event);

      // Act
      const end = patterns.match(`xx${text},`, 2);

      // Assess
      expect(end).toBe(text.length + 2);
      expect([patterns.eventType, patterns.eventId, patterns.userId, patterns.occurredMs]).toEqual([
        event.event_type,
        event.event_id,
        event.user_id,
        Date.parse(event.occurred_at as string),
      ]);
    },
  );

  it('matches nearly all generated valid traffic, so collect takes the fast path', () => {
    // Prepare
    const generator = new TrafficGenerator({ seed: 'text-pattern', invalidShare: 0 });
    const texts = Array.from({ length: 2000 }, () => JSON.stringify(generator.next().event));

    // Act
    const matched = texts.filter((text) => assertMatchClaims(patterns, text));

    // Assess
    expect(matched).toHaveLength(texts.length);
  });

  it('never matches what JSON.stringify would write differently or what the schema refuses', () => {
    // Prepare
    const texts = EVENT_TYPES.flatMap((type) =>
      structuralVariants(inSchemaOrder(validEvent(type as EventType))),
    );
    const generator = new TrafficGenerator({ seed: 'text-pattern-broken', invalidShare: 0.5 });
    for (let i = 0; i < 1000; i++) texts.push(JSON.stringify(generator.next().event));

    // Act
    const matched = texts.filter((text) => assertMatchClaims(patterns, text));

    // Assess: both answers happen, so the claims were checked on matches and the rest was left to the slow path.
    expect(matched.length).toBeGreaterThan(50);
    expect(texts.length - matched.length).toBeGreaterThan(50);
  });

  it('keeps its claims on thousands of randomly mutated events', () => {
    // Prepare
    const random = new Random('text-pattern-mutations');
    const generator = new TrafficGenerator({ seed: 'text-pattern-mutations', invalidShare: 0 });
    let matched = 0;
    let refused = 0;

    // Act
    for (let i = 0; i < 20000; i++) {
      const text = mutate(JSON.stringify(generator.next().event), random);
      if (assertMatchClaims(patterns, text)) matched += 1;
      else refused += 1;
    }

    // Assess
    expect(matched).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(3000);
  });

  it('leaves an event with its fields in another order to the slow path', () => {
    // Prepare
    const event = validEvent('click');
    const text = JSON.stringify(event);

    // Act and Assess
    expect(text).not.toBe(JSON.stringify(inSchemaOrder(event)));
    expect(validateClientEvent(event).ok).toBe(true);
    expect(patterns.match(text, 0)).toBe(-1);
    expect(patterns.match(JSON.stringify(inSchemaOrder(event)), 0)).toBeGreaterThan(0);
  });

  it('refuses a match the value of which the slow path rejects, e.g. a date that does not exist', () => {
    // Prepare
    const event = inSchemaOrder({ ...validEvent('click'), occurred_at: '2025-02-30T12:00:00Z' });

    // Act and Assess
    expect(validateClientEvent(event).ok).toBe(false);
    expect(patterns.match(JSON.stringify(event), 0)).toBe(-1);
  });
});

describe('EventPatterns on schemas it does not fully cover', () => {
  const base = {
    event_id: Tb.String({ format: 'uuid' }),
    event_type: Tb.Literal('test'),
    schema_version: Tb.Literal(1),
    user_id: Tb.String({ minLength: 1 }),
    occurred_at: Tb.String({ format: 'date-time' }),
  };
  const event = {
    event_id: '0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90',
    event_type: 'test',
    schema_version: 1,
    user_id: 'u1',
    occurred_at: '2025-03-01T12:30:00Z',
  };

  it('gives no fast path to a schema with a required field of a kind it does not read', () => {
    // Prepare
    const schema = Tb.Object({ ...base, tags: Tb.Array(Tb.String()) }, { additionalProperties: false });

    // Act
    const patterns = new EventPatterns([{ type: 'test', version: 1, schema }]);

    // Assess
    expect(patterns.covered()).toEqual([]);
    expect(patterns.match(JSON.stringify({ ...event, tags: ['a'] }), 0)).toBe(-1);
  });

  it('leaves the events carrying an optional field of such a kind to the slow path', () => {
    // Prepare
    const schema = Tb.Object(
      { ...base, tags: Tb.Optional(Tb.Array(Tb.String())) },
      { additionalProperties: false },
    );
    const patterns = new EventPatterns([{ type: 'test', version: 1, schema }]);
    const without = JSON.stringify(event);

    // Act and Assess
    expect(patterns.match(without, 0)).toBe(without.length);
    expect(patterns.match(JSON.stringify({ ...event, tags: ['a'] }), 0)).toBe(-1);
  });

  it('gives no fast path to a schema with a keyword it does not apply', () => {
    // Prepare
    const schema = Tb.Object(
      { ...base, note: Tb.String({ contentEncoding: 'base64' }) },
      { additionalProperties: false },
    );

    // Act and Assess
    expect(new EventPatterns([{ type: 'test', version: 1, schema }]).covered()).toEqual([]);
  });

  it('checks bounds it cannot write as a pattern after the match', () => {
    // Prepare
    const schema = Tb.Object(
      { ...base, score: Tb.Integer({ minimum: 10, maximum: 20 }) },
      { additionalProperties: false },
    );
    const patterns = new EventPatterns([{ type: 'test', version: 1, schema }]);

    // Act and Assess
    expect(patterns.match(JSON.stringify({ ...event, score: 15 }), 0)).toBeGreaterThan(0);
    expect(patterns.match(JSON.stringify({ ...event, score: 9 }), 0)).toBe(-1);
    expect(patterns.match(JSON.stringify({ ...event, score: 21 }), 0)).toBe(-1);
  });

  it('is the registry schema that the patterns are compiled from', () => {
    // Act and Assess: jsonSchema is what clientEventPatterns compiles; a field list mismatch would show here.
    const source = clientEventPatterns().source('click', 1) ?? '';
    for (const field of Object.keys(jsonSchema('click', 1).properties))
      expect(source).toContain(`"${field}":`);
  });
});
