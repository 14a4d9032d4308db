import type { TObject } from '@sinclair/typebox';
import * as Tb from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { TrafficGenerator } from '../../../cli/traffic';
import { EVENT_TYPES, type EventType, jsonSchema, validateClientEvent } from '../../../lib/schemas';
import { compileCheck, compileTableCheck } from '../../../lib/schemas/fast-check';
import { validEvent, validStoredEvent } from './fixtures';

/** Values that are not events at all. */
const NOT_OBJECTS: unknown[] = [null, undefined, 0, 1, 'click', true, [], [{}], {}];

/** Values a field may wrongly hold, whatever its type. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  -1,
  1.5,
  2_147_483_647,
  2_147_483_648,
  Number.MAX_SAFE_INTEGER,
  '',
  'x',
  ' ',
  'x'.repeat(32),
  'x'.repeat(33),
  'x'.repeat(36),
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  '0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90',
  '0B6A5C1E-8F3D-4A9B-9C1D-2E7F4A6B8C9Z',
  '2025-03-01T12:30:00Z',
  '2025-02-30T12:30:00Z',
  '2025-03-01 12:30:00Z',
  'ios',
  'web',
  'click',
  'action',
  [],
  ['a'],
  {},
  { channel: 'line' },
  { 'bad key': 1 },
  { ok: { nested: true } },
  { n: 1.5, b: true, s: 'y'.repeat(1024) },
  { s: 'y'.repeat(1025) },
  Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])),
];

/** Valid events and every single-field change of them: deleted, replaced by an odd value, or an extra field. */
function variants(base: Record<string, unknown>): unknown[] {
  const out: unknown[] = [base];
  for (const key of [...Object.keys(base), 'campaign_id', 'properties', 'article_id', 'received_at']) {
    const without = { ...base };
    delete without[key];
    out.push(without);
    for (const value of ODD_VALUES) out.push({ ...base, [key]: value });
  }
  out.push({ ...base, extra: 1 }, { ...base, request_id: 'r' }, { ...base, __proto__: 1 });
  return out;
}

/** Generated traffic, a third of it broken in the generator's realistic ways. */
function traffic(count: number): unknown[] {
  const generator = new TrafficGenerator({ seed: 'fast-check', invalidShare: 0.35 });
  return Array.from({ length: count }, () => JSON.parse(JSON.stringify(generator.next().event)));
}

const clientCandidates = [
  ...NOT_OBJECTS,
  ...EVENT_TYPES.flatMap((type) => variants(validEvent(type))),
  ...traffic(3000),
];
const storedCandidates = [
  ...NOT_OBJECTS,
  ...EVENT_TYPES.flatMap((type) => variants(validStoredEvent(type))),
  ...EVENT_TYPES.flatMap((type) => variants(validEvent(type))),
];

describe('compileCheck', () => {
  it.each(EVENT_TYPES)('answers exactly as TypeBox does for %s events as clients send them', (type) => {
    // Prepare
    const schema = jsonSchema(type as EventType, 1);
    const typebox = TypeCompiler.Compile(schema);

    // Act
    const check = compileCheck(schema);

    // Assess
    expect(check).toBeDefined();
    const disagreements = clientCandidates.filter((value) => check?.(value) !== typebox.Check(value));
    expect(disagreements).toEqual([]);
  });

  it.each(EVENT_TYPES)('answers exactly as TypeBox does for %s events as collect stores them', (type) => {
    // Prepare
    const schema = jsonSchema(type as EventType, 1, { stored: true });
    const typebox = TypeCompiler.Compile(schema);

    // Act
    const check = compileCheck(schema);

    // Assess
    const disagreements = storedCandidates.filter((value) => check?.(value) !== typebox.Check(value));
    expect(disagreements).toEqual([]);
  });

  it('accepts both kinds of answers on the candidates, so the comparison means something', () => {
    // Act
    const answers = new Set(clientCandidates.map((value) => validateClientEvent(value).ok));

    // Assess
    expect(answers).toEqual(new Set([true, false]));
  });

  it('leaves a schema with types it does not cover to TypeBox', () => {
    // Prepare
    const withArray = Tb.Object({ tags: Tb.Array(Tb.String()) });
    const withDate = Tb.Object({ at: Tb.Date() });

    // Act and Assess
    expect(compileCheck(withArray)).toBeUndefined();
    expect(compileCheck(withDate)).toBeUndefined();
  });
});

describe('compileTableCheck', () => {
  it('answers as looking up event_type and schema_version, then checking with TypeBox', () => {
    // Prepare
    const entries = EVENT_TYPES.map((type) => ({ type, version: 1, schema: jsonSchema(type, 1) }));
    const typebox = new Map<string, TypeCheck<TObject>>(
      entries.map((e) => [e.type, TypeCompiler.Compile(e.schema)]),
    );
    const expected = (value: unknown): boolean => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
      const { event_type: type, schema_version: version } = value as Record<string, unknown>;
      const check = typeof type === 'string' && version === 1 ? typebox.get(type) : undefined;
      return check?.Check(value) ?? false;
    };
    const odd = EVENT_TYPES.flatMap((type) => [
      { ...validEvent(type), schema_version: 2 },
      { ...validEvent(type), schema_version: '1' },
      { ...validEvent(type), event_type: type.toUpperCase() },
      { ...validEvent(type), event_type: 'toString' },
    ]);

    // Act
    const check = compileTableCheck(entries);

    // Assess
    const disagreements = [...clientCandidates, ...odd].filter((value) => check?.(value) !== expected(value));
    expect(disagreements).toEqual([]);
  });
});
