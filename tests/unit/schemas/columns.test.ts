import {
  columns,
  EVENT_TYPES,
  isKnown,
  jsonSchema,
  listSchemas,
  UnknownSchemaError,
} from '../../../lib/schemas';

const ENVELOPE = [
  ['event_id', 'string', true],
  ['event_type', 'string', true],
  ['schema_version', 'int', true],
  ['user_id', 'string', true],
  ['occurred_at', 'timestamp', true],
];

/** What collect appends to every stored line, in the order it writes them. */
const COLLECT_FIELDS = [
  ['received_at', 'timestamp', true],
  ['request_id', 'string', true],
];

/** Columns as [name, type, required] triples, easy to compare. */
function triples(type: Parameters<typeof columns>[0], version: number) {
  return columns(type, version).map((c) => [c.name, c.type, c.required]);
}

describe('columns', () => {
  it("lists the envelope first, then the click fields, then collect's, with Parquet types", () => {
    expect(triples('click', 1)).toEqual([
      ...ENVELOPE,
      ['article_id', 'string', true],
      ['tab', 'string', true],
      ['position', 'int', true],
      ['platform', 'string', true],
      ['app_version', 'string', true],
      ...COLLECT_FIELDS,
    ]);
  });

  it('lists the impression fields after the envelope', () => {
    expect(triples('impression', 1)).toEqual([
      ...ENVELOPE,
      ['article_id', 'string', true],
      ['tab', 'string', true],
      ['position', 'int', true],
      ['platform', 'string', true],
      ['app_version', 'string', true],
      ...COLLECT_FIELDS,
    ]);
  });

  it('marks the optional campaign_id of ad_impression as not required', () => {
    expect(triples('ad_impression', 1)).toEqual([
      ...ENVELOPE,
      ['ad_id', 'string', true],
      ['campaign_id', 'string', false],
      ['tab', 'string', true],
      ['position', 'int', true],
      ['platform', 'string', true],
      ['app_version', 'string', true],
      ...COLLECT_FIELDS,
    ]);
  });

  it('stores action properties as a map<string,string> column', () => {
    expect(triples('action', 1)).toEqual([
      ...ENVELOPE,
      ['action', 'string', true],
      ['properties', 'map<string,string>', false],
      ['article_id', 'string', false],
      ['platform', 'string', true],
      ['app_version', 'string', true],
      ...COLLECT_FIELDS,
    ]);
  });

  it('describes every column, for Glue column comments', () => {
    for (const type of EVENT_TYPES) {
      for (const column of columns(type, 1)) expect(column.description).toEqual(expect.any(String));
    }
  });

  it('returns copies that callers may change without affecting the registry', () => {
    const first = columns('click', 1);
    first[0] = { name: 'changed', type: 'int', required: false };

    expect(columns('click', 1)[0]?.name).toBe('event_id');
  });

  it('throws an UnknownSchemaError naming the known versions for an unknown version', () => {
    expect(() => columns('click', 9)).toThrow(UnknownSchemaError);
    expect(() => columns('click', 9)).toThrow('unknown version 9 of click; known versions: 1');
  });
});

describe('listSchemas', () => {
  it('lists every type at version 1, marked latest, with its columns', () => {
    const schemas = listSchemas();

    expect(schemas.map(({ type, version, latest }) => ({ type, version, latest }))).toEqual([
      { type: 'click', version: 1, latest: true },
      { type: 'impression', version: 1, latest: true },
      { type: 'ad_impression', version: 1, latest: true },
      { type: 'action', version: 1, latest: true },
    ]);
    for (const schema of schemas) expect(schema.fields).toEqual(columns(schema.type, schema.version));
  });
});

describe('isKnown', () => {
  it.each([
    ['click', 1, true],
    ['action', 1, true],
    ['click', 2, false],
    ['click', '1', false],
    ['scroll', 1, false],
    ['toString', 1, false],
  ])('says whether %s v%p is in the registry (%p)', (type, version, known) => {
    expect(isKnown(type, version)).toBe(known);
  });
});

describe('jsonSchema', () => {
  it('gives the client JSON Schema, closed to unknown fields', () => {
    const schema = jsonSchema('click', 1);

    expect(schema).toMatchObject({ $id: 'click.v1', type: 'object', additionalProperties: false });
    expect(schema.required).toEqual([
      'event_id',
      'event_type',
      'schema_version',
      'user_id',
      'occurred_at',
      'article_id',
      'tab',
      'position',
      'platform',
      'app_version',
    ]);
    expect(schema.properties.event_id).toMatchObject({ type: 'string', format: 'uuid' });
  });

  it('gives the stored JSON Schema with the fields collect adds', () => {
    const schema = jsonSchema('click', 1, { stored: true });

    expect(schema.required).toEqual(expect.arrayContaining(['received_at', 'request_id']));
    expect(JSON.parse(JSON.stringify(schema)).properties.received_at).toMatchObject({ format: 'date-time' });
  });
});
