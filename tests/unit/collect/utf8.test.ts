import { findInvalidUtf8, hexBytes } from '../../../lib/domain/utf8';

const bytes = (...values: number[]) => Buffer.from(values);

describe('findInvalidUtf8', () => {
  it('accepts ASCII and multi-byte characters up to U+10FFFF', () => {
    // Act and Assess
    expect(findInvalidUtf8(Buffer.from('plain ascii, é, 漢字, 🙂'))).toBeUndefined();
    expect(findInvalidUtf8(bytes(0xf4, 0x8f, 0xbf, 0xbf))).toBeUndefined();
  });

  it.each([
    ['a stray continuation byte', bytes(0x41, 0x80), { offset: 1, bytes: [0x80], truncated: false }],
    [
      'a byte that never appears in UTF-8',
      bytes(0x41, 0x42, 0xff),
      { offset: 2, bytes: [0xff], truncated: false },
    ],
    ['an overlong encoding of "/"', bytes(0xc0, 0xaf), { offset: 0, bytes: [0xc0], truncated: false }],
    [
      'an overlong three-byte form',
      bytes(0xe0, 0x80, 0xaf),
      { offset: 0, bytes: [0xe0, 0x80], truncated: false },
    ],
    [
      'a UTF-16 surrogate',
      bytes(0x20, 0xed, 0xa0, 0x80),
      { offset: 1, bytes: [0xed, 0xa0], truncated: false },
    ],
    [
      'a code point above U+10FFFF',
      bytes(0xf4, 0x90, 0x80, 0x80),
      { offset: 0, bytes: [0xf4, 0x90], truncated: false },
    ],
    [
      'a lead byte followed by ASCII',
      bytes(0x7b, 0xc3, 0x28),
      { offset: 1, bytes: [0xc3, 0x28], truncated: false },
    ],
    [
      'a sequence cut off at the end',
      bytes(0x61, 0xe2, 0x82),
      { offset: 1, bytes: [0xe2, 0x82], truncated: true },
    ],
  ])('reports %s with its offset', (_, input, expected) => {
    // Act and Assess
    expect(findInvalidUtf8(input)).toEqual(expected);
  });
});

describe('hexBytes', () => {
  it('writes bytes as 0x-prefixed two-digit hex', () => {
    // Act and Assess
    expect(hexBytes([0x0a, 0xff])).toBe('0x0a 0xff');
  });
});
