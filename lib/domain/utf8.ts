import { isUtf8 } from 'node:buffer';

/** Where a byte sequence stops being UTF-8: the offset of the bad sequence and its bytes. */
export interface Utf8Problem {
  offset: number;
  bytes: number[];
  truncated: boolean;
}

/**
 * Finds the first invalid UTF-8 sequence (overlong forms, surrogates and code points above
 * U+10FFFF are invalid, as in RFC 3629), or undefined when the bytes are valid UTF-8.
 */
export function findInvalidUtf8(buf: Uint8Array): Utf8Problem | undefined {
  if (isUtf8(buf)) return undefined;
  let i = 0;
  while (i < buf.length) {
    const lead = buf[i] as number;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    const rule = sequenceRule(lead);
    if (rule === undefined) return { offset: i, bytes: [lead], truncated: false };
    for (let k = 1; k <= rule.continuation; k++) {
      const next = buf[i + k];
      if (next === undefined) return { offset: i, bytes: [...buf.subarray(i, i + k)], truncated: true };
      const low = k === 1 ? rule.low : 0x80;
      const high = k === 1 ? rule.high : 0xbf;
      if (next < low || next > high) {
        return { offset: i, bytes: [...buf.subarray(i, i + k + 1)], truncated: false };
      }
    }
    i += rule.continuation + 1;
  }
  return undefined;
}

/** Continuation byte count and the allowed range of the first continuation byte (Unicode table 3-7). */
function sequenceRule(lead: number): { continuation: number; low: number; high: number } | undefined {
  if (lead >= 0xc2 && lead <= 0xdf) return { continuation: 1, low: 0x80, high: 0xbf };
  if (lead === 0xe0) return { continuation: 2, low: 0xa0, high: 0xbf };
  if (lead === 0xed) return { continuation: 2, low: 0x80, high: 0x9f };
  if (lead >= 0xe1 && lead <= 0xef) return { continuation: 2, low: 0x80, high: 0xbf };
  if (lead === 0xf0) return { continuation: 3, low: 0x90, high: 0xbf };
  if (lead >= 0xf1 && lead <= 0xf3) return { continuation: 3, low: 0x80, high: 0xbf };
  if (lead === 0xf4) return { continuation: 3, low: 0x80, high: 0x8f };
  return undefined;
}

/** "0xc3 0x28": bytes as a reader-friendly hex list. */
export function hexBytes(bytes: number[]): string {
  return bytes.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
}
