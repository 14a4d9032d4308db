import * as Tb from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import fc from 'fast-check';
import { TrafficGenerator } from '../../../cli/traffic';
import {
  clientEventPatterns,
  EVENT_TYPES,
  EventPatterns,
  type EventType,
  jsonSchema,
  storedEventPatterns,
  UnsupportedSchemaError,
} from '../../../lib/schemas';
import { dateTimeMillis } from '../../../lib/schemas/formats';
import { validEvent } from './fixtures';

/** TypeBox's own compiled checks of every registry schema, client and stored: the oracle. */
const oracle = {
  client: new Map(EVENT_TYPES.map((type) => [type, TypeCompiler.Compile(jsonSchema(type, 1))])),
  stored: new Map(
    EVENT_TYPES.map((type) => [type, TypeCompiler.Compile(jsonSchema(type, 1, { stored: true }))]),
  ),
};

/**
 * What a match claims (see lib/schemas/text-pattern.ts): the matched text is exactly what
 * JSON.stringify writes for its value, the value passes TypeBox's compiled check of its schema, and
 * the envelope read from the text is the value's. Throws with the text when a claim does not hold.
 */
function assertMatchClaims(
  patterns: EventPatterns,
  text: string,
  at = 0,
  kind: 'client' | 'stored' = 'client',
): boolean {
  const match = patterns.match(text, at);
  if (match === undefined) return false;
  const matched = text.slice(at, match.end);
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(matched);
  } catch (error) {
    throw new Error(`matched text that is not JSON: ${matched} (${(error as Error).message})`);
  }
  const check = oracle[kind].get(value.event_type as EventType);
  const checks = {
    stringify: JSON.stringify(value) === matched,
    valid: check?.Check(value) === true && value.schema_version === match.version,
    envelope:
      match.type === value.event_type &&
      match.eventId === value.event_id &&
      match.userId === value.user_id &&
      match.occurredMs === dateTimeMillis(value.occurred_at as string),
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

/** One edit of a text: a character inserted, deleted or replaced at a relative position. */
const edit = fc.record({
  kind: fc.constantFrom('insert', 'delete', 'replace'),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  char: fc.constantFrom(...ALPHABET),
});

/** The text with the edits applied in order. */
function applyEdits(text: string, edits: readonly { kind: string; at: number; char: string }[]): string {
  let out = text;
  for (const { kind, at, char } of edits) {
    const i = Math.min(out.length, Math.floor(at * (out.length + 1)));
    if (kind === 'insert') out = out.slice(0, i) + char + out.slice(i);
    else if (kind === 'delete') out = out.slice(0, i) + out.slice(i + 1);
    else out = out.slice(0, i) + char + out.slice(i + 1);
  }
  return out;
}

/** Runs of each mutation property: MUTATION_RUNS in the environment, default 5,000 (a one-off search: 200000). */
const MUTATION_RUNS = Number(process.env.MUTATION_RUNS ?? 5000);

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

/** A line as collect stores it: the client's text with collect's fields appended. */
function storedLine(clientText: string, requestId = 'req-1'): string {
  return `${clientText.slice(0, -1)},"received_at":"2025-03-01T12:30:01.000Z","request_id":"${requestId}"}`;
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
      const match = patterns.match(`xx${text},`, 2);

      // Assess
      expect(match).toEqual({
        end: text.length + 2,
        type: event.event_type,
        version: 1,
        eventId: event.event_id,
        userId: event.user_id,
        occurredMs: Date.parse(event.occurred_at as string),
      });
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

  it('keeps its claims on randomly mutated events (fast-check, shrinking to the smallest counterexample)', () => {
    // Prepare
    const generator = new TrafficGenerator({ seed: 'text-pattern-mutations', invalidShare: 0 });
    const texts = Array.from({ length: 500 }, () => JSON.stringify(generator.next().event));
    let matched = 0;

    // Act and Assess: assertMatchClaims throws on a match whose claims fail; fast-check shrinks it.
    fc.assert(
      fc.property(fc.nat(texts.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 }), (n, edits) => {
        if (assertMatchClaims(patterns, applyEdits(texts[n] as string, edits))) matched += 1;
      }),
      { numRuns: MUTATION_RUNS, seed: 7 },
    );
    expect(matched).toBeGreaterThan(MUTATION_RUNS / 200);
  });

  it('leaves an event with its fields in another order to the slow path', () => {
    // Prepare
    const event = validEvent('click');
    const text = JSON.stringify(event);

    // Act and Assess
    expect(text).not.toBe(JSON.stringify(inSchemaOrder(event)));
    expect(oracle.client.get('click')?.Check(event)).toBe(true);
    expect(patterns.match(text, 0)).toBeUndefined();
    expect(patterns.match(JSON.stringify(inSchemaOrder(event)), 0)?.end).toBeGreaterThan(0);
  });

  it('refuses a match the value of which the slow path rejects, e.g. a date that does not exist', () => {
    // Prepare
    const event = inSchemaOrder({ ...validEvent('click'), occurred_at: '2025-02-30T12:00:00Z' });

    // Act and Assess
    expect(oracle.client.get('click')?.Check(event)).toBe(false);
    expect(patterns.match(JSON.stringify(event), 0)).toBeUndefined();
  });

  it('refuses a stored line: collect adds received_at and request_id, clients may not', () => {
    const text = JSON.stringify(inSchemaOrder(validEvent('click')));
    expect(patterns.match(storedLine(text), 0)).toBeUndefined();
  });
});

describe('storedEventPatterns', () => {
  const patterns = storedEventPatterns();

  it('matches every line as collect stores it: the client text, then received_at and request_id', () => {
    // Prepare
    const generator = new TrafficGenerator({ seed: 'stored-pattern', invalidShare: 0 });
    const lines = Array.from({ length: 2000 }, (_, i) =>
      storedLine(JSON.stringify(generator.next().event), `req-${i}`),
    );

    // Act
    const matched = lines.filter((line) => assertMatchClaims(patterns, line, 0, 'stored'));

    // Assess
    expect(matched).toHaveLength(lines.length);
  });

  it('refuses a line without collect fields, with a bad received_at, or with them in another order', () => {
    // Prepare
    const text = JSON.stringify(inSchemaOrder(validEvent('impression')));
    const line = storedLine(text);

    // Act and Assess
    expect(patterns.match(line, 0)?.end).toBe(line.length);
    expect(patterns.match(text, 0)).toBeUndefined();
    expect(
      patterns.match(line.replace('2025-03-01T12:30:01.000Z', '2025-02-30T12:30:01Z'), 0),
    ).toBeUndefined();
    expect(
      patterns.match(
        `${text.slice(0, -1)},"request_id":"req-1","received_at":"2025-03-01T12:30:01.000Z"}`,
        0,
      ),
    ).toBeUndefined();
  });

  it('keeps its claims on randomly mutated stored lines', () => {
    // Prepare
    const generator = new TrafficGenerator({ seed: 'stored-pattern-mutations', invalidShare: 0 });
    const lines = Array.from({ length: 500 }, (_, i) =>
      storedLine(JSON.stringify(generator.next().event), `r${i}`),
    );
    let matched = 0;

    // Act and Assess
    fc.assert(
      fc.property(fc.nat(lines.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 }), (n, edits) => {
        if (assertMatchClaims(patterns, applyEdits(lines[n] as string, edits), 0, 'stored')) matched += 1;
      }),
      { numRuns: MUTATION_RUNS, seed: 11 },
    );
    expect(matched).toBeGreaterThan(MUTATION_RUNS / 200);
  });
});

describe('EventPatterns on schemas it does not cover', () => {
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
  const build = (fields: Record<string, Tb.TSchema>) => () =>
    new EventPatterns([
      {
        type: 'test',
        version: 1,
        schema: Tb.Object({ ...base, ...fields }, { additionalProperties: false }),
      },
    ]);

  it.each([
    ['an array', { tags: Tb.Array(Tb.String()) }, 'field tags: kind Array'],
    ['an optional array', { tags: Tb.Optional(Tb.Array(Tb.String())) }, 'field tags: kind Array'],
    ['a string pattern', { code: Tb.String({ pattern: '^[a-z]+$' }) }, 'field code: String with pattern'],
    ['another format', { mail: Tb.String({ format: 'email' }) }, 'field mail: format email'],
    [
      'a keyword it does not apply',
      { note: Tb.String({ contentEncoding: 'base64' }) },
      'field note: String with contentEncoding',
    ],
    [
      'bounds without 0',
      { score: Tb.Integer({ minimum: 10, maximum: 20 }) },
      'field score: a number without bounds around 0',
    ],
    ['a boolean', { flag: Tb.Boolean() }, 'field flag: kind Boolean'],
  ])('refuses a schema with %s at start-up, naming the schema and the field', (_, fields, message) => {
    // Act and Assess
    expect(build(fields)).toThrow(UnsupportedSchemaError);
    expect(build(fields)).toThrow(`test.v1, ${message}`);
  });

  it('matches a schema made only of what the registry uses', () => {
    // Prepare
    const patterns = build({ position: Tb.Integer({ minimum: 0, maximum: 99 }) })();
    const text = JSON.stringify({ ...event, position: 42 });

    // Act and Assess
    expect(patterns.match(text, 0)?.end).toBe(text.length);
    expect(patterns.match(JSON.stringify({ ...event, position: 100 }), 0)).toBeUndefined();
  });

  it('is the registry schema that the patterns are compiled from', () => {
    // Act and Assess: jsonSchema is what clientEventPatterns compiles; a field list mismatch would show here.
    const source = clientEventPatterns().source('click', 1) ?? '';
    for (const field of Object.keys(jsonSchema('click', 1).properties))
      expect(source).toContain(`"${field}":`);
  });
});
