import { arrayElementSpans, elementSpans } from '../../../lib/domain/json-text';

/** The members of each element of body.events (-1: not as JSON.stringify writes a flat object). */
function members(body: string): number[] {
  const spans = elementSpans(Buffer.from(body), 'events');
  return spans === undefined ? [] : [...spans.members.subarray(0, spans.count)];
}

describe('elementSpans', () => {
  it('counts the members of objects written exactly as JSON.stringify writes flat objects', () => {
    // Act
    const found = members(
      '{"events":[{"a":1},{"a":"x","b":-12,"c":true,"d":null},{},{"s":"é😀 ,:}]{["},{"n":123456789012345}]}',
    );

    // Assess
    expect(found).toEqual([1, 4, 0, 1, 1]);
  });

  it.each([
    ['a space', '{"a": 1}'],
    ['a line break', '{"a":1,\n"b":2}'],
    ['an escape', '{"a":"\\n"}'],
    ['a fraction', '{"a":1.0}'],
    ['an exponent', '{"a":1e2}'],
    ['a negative zero', '{"a":-0}'],
    ['a 16-digit integer', '{"a":1234567890123456}'],
    ['a nested object', '{"a":{"b":1}}'],
    ['a nested array', '{"a":[1]}'],
    ['a key that could be an array index', '{"b":1,"1":2}'],
  ])('marks an element with %s as not written canonically', (_, element) => {
    // Act and Assess
    expect(members(`{"events":[${element},{"ok":1}]}`)).toEqual([-1, 1]);
  });

  it('finds each element of an array after a byte order mark, with byte offsets', () => {
    // Prepare
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('{"events":["é",{"k":"😀"}, 7 ]}'),
    ]);

    // Act
    const spans = elementSpans(body, 'events');

    // Assess
    const texts = [0, 1, 2].map((i) => body.toString('utf8', spans?.starts[i], spans?.ends[i]));
    expect(spans?.count).toBe(3);
    expect(texts).toEqual(['"é"', '{"k":"😀"}', '7']);
  });

  it('finds nothing when the field is not an array', () => {
    // Act and Assess
    expect(elementSpans(Buffer.from('{"events":{"a":1}}'), 'events')).toBeUndefined();
    expect(elementSpans(Buffer.from('[1]'), 'events')).toBeUndefined();
  });
});

describe('arrayElementSpans on text beyond ASCII', () => {
  it('returns character offsets around multi-byte characters and surrogate pairs', () => {
    // Prepare
    const text = '{"events":["é😀",{"k":"ü\\u00fc"},"\ud800",3]}';

    // Act
    const slices = arrayElementSpans(text, 'events').map(([start, end]) => text.slice(start, end));

    // Assess
    expect(slices).toEqual(['"é😀"', '{"k":"ü\\u00fc"}', '"\ud800"', '3']);
  });
});
