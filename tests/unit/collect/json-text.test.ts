import { arrayElementSpans, describeJsonError, jsonErrorOffset } from '../../../lib/domain/json-text';

function slices(text: string, field: string): string[] {
  return arrayElementSpans(text, field).map(([start, end]) => text.slice(start, end));
}

describe('arrayElementSpans', () => {
  it('returns each element of the array exactly as written', () => {
    // Prepare
    const text =
      ' { "meta" : {"events": [9]}, "events" : [ {"a" : 1.50} ,"x,]}" ,\n[1, [2]], null,-0.5e3 ] } ';

    // Act
    const found = slices(text, 'events');

    // Assess
    expect(found).toEqual(['{"a" : 1.50}', '"x,]}"', '[1, [2]]', 'null', '-0.5e3']);
  });

  it('skips strings holding braces, quotes and escapes', () => {
    // Prepare
    const text = '{"events":[{"s":"a\\"}]{["},{"t":"\\\\"}]}';

    // Act
    const found = slices(text, 'events');

    // Assess
    expect(found).toEqual(['{"s":"a\\"}]{["}', '{"t":"\\\\"}']);
    expect(found.map((s) => JSON.parse(s))).toEqual(JSON.parse(text).events);
  });

  it('uses the last copy of a repeated key, as JSON.parse does', () => {
    // Act
    const found = slices('{"events":[1],"events":[2,3]}', 'events');

    // Assess
    expect(found).toEqual(['2', '3']);
  });

  it('finds a key written with escapes', () => {
    // Act
    const found = slices('{"\\u0065vents":[true]}', 'events');

    // Assess
    expect(found).toEqual(['true']);
  });

  it('returns nothing when the field is missing or not an array', () => {
    // Act and Assess
    expect(slices('{"other":[1]}', 'events')).toEqual([]);
    expect(slices('{"events":{"a":[1]}}', 'events')).toEqual([]);
    expect(slices('[1,2]', 'events')).toEqual([]);
  });
});

describe('jsonErrorOffset', () => {
  it.each([
    ['{"a":1,}', 7],
    ['{"a":1 "b":2}', 7],
    ['[1,2', 4],
    ['', 0],
    ['{"a": tru}', 9],
    ['{"a": 01}', 7],
    ['{"a": "x\ty"}', 8],
    ['{"a": "\\q"}', 8],
    ['{"a": "\\u12G4"}', 8],
    ['{"a": 1} x', 9],
    ['{a: 1}', 1],
    ['"unterminated', 13],
  ])('finds where %j stops being JSON (offset %i)', (text, offset) => {
    // Act and Assess
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonErrorOffset(text)).toBe(offset);
  });

  it.each(['{}', '[]', ' {"a": [1, -2.5e-3, true, false, null, "\\u00e9\\n", {}]} ', '"s"', '0'])(
    'returns -1 for the valid JSON %j',
    (text) => {
      // Act and Assess
      expect(jsonErrorOffset(text)).toBe(-1);
    },
  );

  it('handles deep nesting without overflowing the stack', () => {
    // Prepare
    const text = `${'['.repeat(200_000)}1${']'.repeat(199_999)}`;

    // Act and Assess
    expect(jsonErrorOffset(text)).toBe(text.length);
  });
});

describe('describeJsonError', () => {
  function parseError(text: string): unknown {
    try {
      JSON.parse(text);
    } catch (error) {
      return error;
    }
    throw new Error('parsed');
  }

  it('adds the position, line and column when the parser message has none', () => {
    // Prepare
    const text = '{\n  "a": oops\n}';

    // Act
    const message = describeJsonError(text, parseError(text));

    // Assess
    expect(message).toMatch(/ at position 9 \(line 2 column 8\)$/);
  });

  it('keeps the parser message when it already names the position', () => {
    // Prepare
    const text = '{"a":1,}';

    // Act
    const message = describeJsonError(text, parseError(text));

    // Assess
    expect(message.match(/at position/g)).toHaveLength(1);
    expect(message).toContain('at position 7');
  });

  it('points at the end of an input that stops too early', () => {
    // Prepare
    const text = '{"events":[';

    // Act
    const message = describeJsonError(text, parseError(text));

    // Assess
    expect(message).toBe('Unexpected end of JSON input at position 11 (line 1 column 12)');
  });
});
