import { LineSplitter } from '../../../lib/domain/format/lines';

type Seen = { kind: 'line' | 'tooLong'; text: string; length: number; number: number; offset: number };

function split(chunks: Buffer[], maxLineBytes = 100, keepBytes = 8): { seen: Seen[]; unterminated: boolean } {
  const seen: Seen[] = [];
  const splitter = new LineSplitter(
    {
      line: (buffer, start, end, number, offset) =>
        seen.push({
          kind: 'line',
          text: buffer.toString('utf8', start, end),
          length: end - start,
          number,
          offset,
        }),
      tooLong: (head, length, number, offset) =>
        seen.push({ kind: 'tooLong', text: head.toString('latin1'), length, number, offset }),
    },
    maxLineBytes,
    keepBytes,
  );
  for (const chunk of chunks) splitter.feed(chunk);
  return { seen, unterminated: splitter.end() };
}

/** A text cut into chunks of `size` bytes (a multi-byte character may be cut in two). */
const chunked = (text: string, size: number) => {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
};

describe('LineSplitter', () => {
  it('hands over every line whole, with its number and byte offset, however the chunks fall', () => {
    // Prepare
    const text = 'first\nsecond ñ 日本\n\nfourth\n';
    // Act
    const results = [1, 2, 3, 7, 100].map((size) => split(chunked(text, size)).seen);
    // Assess
    for (const seen of results) {
      expect(seen.map((s) => [s.text, s.number, s.offset])).toEqual([
        ['first', 1, 0],
        ['second ñ 日本', 2, 6],
        ['', 3, 23],
        ['fourth', 4, 24],
      ]);
    }
  });

  it('hands over a last line without its newline at the end, and says so', () => {
    // Act
    const { seen, unterminated } = split(chunked('a\nbroken li', 4));
    // Assess
    expect(seen.map((s) => s.text)).toEqual(['a', 'broken li']);
    expect(unterminated).toBe(true);
  });

  it('cuts a line over the limit to its first bytes, with its whole length, and goes on with the next', () => {
    // Prepare
    const long = 'x'.repeat(250);
    // Act
    const results = [3, 64, 1000].map((size) => split(chunked(`ok\n${long}\nnext\n`, size)).seen);
    // Assess
    for (const seen of results) {
      expect(seen.map((s) => [s.kind, s.text, s.length, s.number])).toEqual([
        ['line', 'ok', 2, 1],
        ['tooLong', 'xxxxxxxx', 250, 2],
        ['line', 'next', 4, 3],
      ]);
    }
  });
});
