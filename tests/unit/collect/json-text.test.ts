import { describeJsonError, jsonErrorOffset, skipValue, skipWhitespace } from '../../../lib/domain/json-text';

/** The values of a JSON array's text, each found with skipValue, exactly as written. */
function elements(text: string): string[] {
  const found: string[] = [];
  let at = skipWhitespace(text, 1);
  while (text[at] !== ']') {
    const end = skipValue(text, at);
    found.push(text.slice(at, end));
    at = skipWhitespace(text, end);
    if (text[at] === ',') at = skipWhitespace(text, at + 1);
  }
  return found;
}

describe('skipValue', () => {
  it('finds each value exactly as written, whatever its kind and spacing', () => {
    // Prepare
    const text = '[ {"a" : 1.50} ,"x,]}" ,\n[1, [2]], null,-0.5e3 ,true]';

    // Act
    const found = elements(text);

    // Assess
    expect(found).toEqual(['{"a" : 1.50}', '"x,]}"', '[1, [2]]', 'null', '-0.5e3', 'true']);
    expect(found.map((s) => JSON.parse(s))).toEqual(JSON.parse(text));
  });

  it('skips strings holding braces, quotes and escapes', () => {
    // Prepare
    const text = '[{"s":"a\\"}]{["},{"t":"\\\\"}]';

    // Act
    const found = elements(text);

    // Assess
    expect(found).toEqual(['{"s":"a\\"}]{["}', '{"t":"\\\\"}']);
    expect(found.map((s) => JSON.parse(s))).toEqual(JSON.parse(text));
  });

  it('answers -1 when the text ends inside the value', () => {
    // Act and Assess
    expect(skipValue('{"a":[1,2', 0)).toBe(-1);
    expect(skipValue('"abc', 0)).toBe(-1);
    expect(skipValue('"ab\\"', 0)).toBe(-1);
  });

  it('stops a value at the bracket that closes its container', () => {
    // Act and Assess
    expect(skipValue('12]', 0)).toBe(2);
    expect(skipValue('{}}', 0)).toBe(2);
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
