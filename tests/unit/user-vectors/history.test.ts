import {
  HistoryFormatError,
  hashEventId,
  historyEntries,
  readHistory,
  writeHistory,
} from '../../../lib/domain/user-history';

describe('the packed click history', () => {
  it('reads a UUID event id as its hex folded to 64 bits, without hashing', () => {
    // Prepare
    const out = new Uint32Array(2);

    // Act
    hashEventId('01234567-89ab-4cde-8f01-23456789abcd', out);

    // Assess: hi = 01234567 ^ 8f012345, lo = 89ab4cde ^ 6789abcd
    expect(out[0]).toBe((0x01234567 ^ 0x8f012345) >>> 0);
    expect(out[1]).toBe((0x89ab4cde ^ 0x6789abcd) >>> 0);
  });

  it('hashes an event id that is not a UUID, distinctly for distinct ids', () => {
    const a = Array.from(hashEventId('click-1', new Uint32Array(2)));
    const b = Array.from(hashEventId('click-2', new Uint32Array(2)));
    expect(a).not.toEqual(b);
    expect(Array.from(hashEventId('click-1', new Uint32Array(2)))).toEqual(a);
    // A UUID-shaped id with a non-hex digit is not read as hex.
    expect(Array.from(hashEventId('0123456z-89ab-4cde-8f01-23456789abcd', new Uint32Array(2)))).not.toEqual(
      Array.from(hashEventId('01234560-89ab-4cde-8f01-23456789abcd', new Uint32Array(2))),
    );
  });

  it('writes what it reads: header, watermarks and entries, oldest first, keeping only the suffix asked for', () => {
    // Prepare
    const entry = (n: number) => ({
      hashHi: n,
      hashLo: 0xffffffff - n,
      occurredMs: Date.UTC(2026, 11, 1, 0, n),
      counted: n % 2 === 0,
      articleId: Buffer.from(`記事_${n}`),
    });
    const first = writeHistory(
      { anchorMs: 5, norm: 2.5, watermarks: [{ shardId: 'shardId-000000000000', sequenceNumber: '123' }] },
      undefined,
      0,
      undefined,
      [entry(0), entry(1), entry(2)],
    );

    // Act: keep entries 1.. of the old history, mark entry 1 counted now, add entry 3
    const second = writeHistory(
      { anchorMs: 9, norm: 1, watermarks: [] },
      readHistory(first),
      1,
      new Set([1]),
      [entry(3)],
    );

    // Assess
    const h = readHistory(second);
    expect({ anchor: h.anchorMs, norm: h.norm, watermarks: h.watermarks }).toEqual({
      anchor: 9,
      norm: 1,
      watermarks: [],
    });
    expect(readHistory(first).watermarks).toEqual([
      { shardId: 'shardId-000000000000', sequenceNumber: '123' },
    ]);
    expect(historyEntries(second)).toEqual([
      {
        hash: '00000001fffffffe',
        occurredAt: '2026-12-01T00:01:00.000Z',
        counted: true,
        articleId: '記事_1',
      },
      {
        hash: '00000002fffffffd',
        occurredAt: '2026-12-01T00:02:00.000Z',
        counted: true,
        articleId: '記事_2',
      },
      {
        hash: '00000003fffffffc',
        occurredAt: '2026-12-01T00:03:00.000Z',
        counted: false,
        articleId: '記事_3',
      },
    ]);
  });

  it('refuses bytes that are not a history, saying why', () => {
    const good = writeHistory({ anchorMs: 0, norm: 0, watermarks: [] }, undefined, 0, undefined, []);
    const wrongFormat = Uint8Array.from(good);
    wrongFormat[0] = 7;
    expect(() => readHistory(new Uint8Array(3))).toThrow(HistoryFormatError);
    expect(() => readHistory(wrongFormat)).toThrow('history format 7 is not known');
    expect(() => readHistory(Uint8Array.from([...good, 1]))).toThrow('history has trailing or missing bytes');
  });
});
