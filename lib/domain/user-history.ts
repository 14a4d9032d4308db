/**
 * The packed binary `history` attribute of a UserVectors item, and the 64-bit event-id hash it keys
 * clicks by. Pure: no AWS imports. Layout (all numbers little-endian), documented in docs/ARCHITECTURE.md:
 *
 * ```
 * header   u8  format (1)
 *          u8  W, shard watermarks that follow
 *          u16 E, history entries that follow
 *          f64 anchor_ms: the sum's weights are 2^((occurred_ms - anchor_ms) / half_life)
 *          f64 norm: |sum|; the sum is the item's `vector` attribute times norm
 * W times  u8 shard id length, shard id (ASCII), u8 sequence number length, sequence number (ASCII digits)
 * E times  u32 hash_hi, u32 hash_lo (the event id's 64-bit hash), f64 occurred_ms,
 *          u8 flags (bit 0: the article's vector is in the sum), u16 article id length, article id (UTF-8)
 * ```
 *
 * Entries are oldest first, so trimming drops a prefix and the surviving old entries are copied as one
 * byte range.
 */

export const HISTORY_FORMAT = 1;
export const HEADER_BYTES = 20;
/** Fixed bytes of one entry before its article id. */
export const ENTRY_FIXED_BYTES = 19;
/** Flag bit: the entry's article vector is counted in the sum. */
export const COUNTED = 1;

/** Raised when a stored history cannot be read (a corrupt or foreign item). */
export class HistoryFormatError extends Error {
  override name = 'HistoryFormatError';
}

/** The last Kinesis sequence number applied from one shard: anything at or below it is a redelivery. */
export interface Watermark {
  shardId: string;
  sequenceNumber: string;
}

/** A history as read from its bytes: the header, watermarks and where each entry starts. */
export interface PackedHistory {
  bytes: Buffer;
  view: DataView;
  anchorMs: number;
  norm: number;
  watermarks: Watermark[];
  /** Byte offset of each entry, oldest first; `entryEnd` is where the last one ends. */
  offsets: number[];
  entryEnd: number;
}

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Reads a history's header and entry offsets; entries themselves are read on demand. */
export function readHistory(bytes: Uint8Array): PackedHistory {
  if (bytes.byteLength < HEADER_BYTES) throw new HistoryFormatError(`history is ${bytes.byteLength} bytes`);
  const buffer = asBuffer(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = view.getUint8(0);
  if (format !== HISTORY_FORMAT) throw new HistoryFormatError(`history format ${format} is not known`);
  const w = view.getUint8(1);
  const e = view.getUint16(2, true);
  const anchorMs = view.getFloat64(4, true);
  const norm = view.getFloat64(12, true);
  let at = HEADER_BYTES;
  const watermarks: Watermark[] = [];
  for (let i = 0; i < w; i++) {
    const shardLength = bytes[at] as number;
    const shardId = buffer.toString('latin1', at + 1, at + 1 + shardLength);
    at += 1 + shardLength;
    const seqLength = bytes[at] as number;
    const sequenceNumber = buffer.toString('latin1', at + 1, at + 1 + seqLength);
    at += 1 + seqLength;
    watermarks.push({ shardId, sequenceNumber });
  }
  const offsets = new Array<number>(e);
  for (let i = 0; i < e; i++) {
    offsets[i] = at;
    if (at + ENTRY_FIXED_BYTES > bytes.byteLength) throw new HistoryFormatError('history is truncated');
    at += ENTRY_FIXED_BYTES + view.getUint16(at + 17, true);
  }
  if (at !== bytes.byteLength) throw new HistoryFormatError('history has trailing or missing bytes');
  return { bytes: buffer, view, anchorMs, norm, watermarks, offsets, entryEnd: at };
}

/** The article id of the entry at `offset`. */
export function entryArticleId(h: PackedHistory, offset: number): string {
  const length = h.view.getUint16(offset + 17, true);
  return h.bytes.toString('utf8', offset + ENTRY_FIXED_BYTES, offset + ENTRY_FIXED_BYTES + length);
}

/** A new entry, not yet packed. */
export interface NewEntry {
  hashHi: number;
  hashLo: number;
  occurredMs: number;
  counted: boolean;
  /** The article id's UTF-8 bytes. */
  articleId: Uint8Array;
}

/**
 * Packs a history: the old entries from `keepFrom` on (copied as they are, with their counted flag set
 * where `countedNow` says), then the new ones.
 */
export function writeHistory(
  header: { anchorMs: number; norm: number; watermarks: readonly Watermark[] },
  old: PackedHistory | undefined,
  keepFrom: number,
  countedNow: ReadonlySet<number> | undefined,
  entries: readonly NewEntry[],
): Uint8Array {
  const keptStart = old && keepFrom < old.offsets.length ? (old.offsets[keepFrom] as number) : 0;
  const keptBytes = old && keepFrom < old.offsets.length ? old.entryEnd - keptStart : 0;
  let size = HEADER_BYTES + keptBytes;
  for (const w of header.watermarks) size += 2 + w.shardId.length + w.sequenceNumber.length;
  for (const e of entries) size += ENTRY_FIXED_BYTES + e.articleId.byteLength;
  const out = Buffer.allocUnsafe(size);
  const kept = old ? old.offsets.length - keepFrom : 0;
  const count = Math.max(0, kept) + entries.length;
  if (count > 0xffff) throw new RangeError(`a history holds at most 65535 entries, not ${count}`);
  out[0] = HISTORY_FORMAT;
  out[1] = header.watermarks.length;
  out.writeUInt16LE(count, 2);
  out.writeDoubleLE(header.anchorMs, 4);
  out.writeDoubleLE(header.norm, 12);
  let at = HEADER_BYTES;
  for (const w of header.watermarks) {
    out[at] = w.shardId.length;
    at = 1 + at + out.write(w.shardId, at + 1, 'latin1');
    out[at] = w.sequenceNumber.length;
    at = 1 + at + out.write(w.sequenceNumber, at + 1, 'latin1');
  }
  if (old && keptBytes > 0) {
    out.set(old.bytes.subarray(keptStart, old.entryEnd), at);
    if (countedNow) {
      for (const index of countedNow) {
        const offset = (old.offsets[index] as number) - keptStart + at;
        out[offset + 16] = (out[offset + 16] as number) | COUNTED;
      }
    }
    at += keptBytes;
  }
  for (const e of entries) {
    out.writeUInt32LE(e.hashHi, at);
    out.writeUInt32LE(e.hashLo, at + 4);
    out.writeDoubleLE(e.occurredMs, at + 8);
    out[at + 16] = e.counted ? COUNTED : 0;
    out.writeUInt16LE(e.articleId.byteLength, at + 17);
    out.set(e.articleId, at + ENTRY_FIXED_BYTES);
    at += ENTRY_FIXED_BYTES + e.articleId.byteLength;
  }
  return out;
}

/** An entry as a reader wants it (GET, tests, tools): decoded in full. */
export interface HistoryEntry {
  hash: string;
  occurredAt: string;
  counted: boolean;
  articleId: string;
}

/** Every entry of a history, decoded, oldest first. */
export function historyEntries(bytes: Uint8Array): HistoryEntry[] {
  const h = readHistory(bytes);
  return h.offsets.map((offset) => ({
    hash:
      h.view.getUint32(offset, true).toString(16).padStart(8, '0') +
      h.view
        .getUint32(offset + 4, true)
        .toString(16)
        .padStart(8, '0'),
    occurredAt: new Date(h.view.getFloat64(offset + 8, true)).toISOString(),
    counted: ((h.view.getUint8(offset + 16) as number) & COUNTED) !== 0,
    articleId: entryArticleId(h, offset),
  }));
}

// ---------------------------------------------------------------- event id hash

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** Reads `n` (<= 8) hex digits of `bytes` from `at` as an unsigned integer; -1 when one is not a hex digit. */
function hexAt(bytes: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = bytes[i] as number;
    const d = c < 128 ? (HEX[c] as number) : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Where an event id's hash is written: [hi, lo], each a uint32. */
export type Hash64 = Uint32Array;

/**
 * The 64-bit hash of the event id in bytes [start, end) (its UTF-8), into `out`. A UUID (what collect
 * accepts) is read from its hex, no hashing: its 128 bits folded to 64 by xor of the halves (a v4 UUID's
 * 122 random bits survive the fold). Anything else gets two 32-bit FNV-1a style hashes of its bytes.
 */
export function hashEventIdBytes(bytes: Uint8Array, start: number, end: number, out: Hash64): Hash64 {
  if (
    end - start === 36 &&
    bytes[start + 8] === 45 &&
    bytes[start + 13] === 45 &&
    bytes[start + 18] === 45 &&
    bytes[start + 23] === 45
  ) {
    const a = hexAt(bytes, start, 8);
    const b1 = hexAt(bytes, start + 9, 4);
    const b2 = hexAt(bytes, start + 14, 4);
    const c1 = hexAt(bytes, start + 19, 4);
    const c2 = hexAt(bytes, start + 24, 4);
    const d = hexAt(bytes, start + 28, 8);
    if (a >= 0 && b1 >= 0 && b2 >= 0 && c1 >= 0 && c2 >= 0 && d >= 0) {
      out[0] = (a ^ (c1 * 65536 + c2)) >>> 0;
      out[1] = ((b1 * 65536 + b2) ^ d) >>> 0;
      return out;
    }
  }
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 15);
  }
  out[0] = h1 >>> 0;
  out[1] = h2 >>> 0;
  return out;
}

/** hashEventIdBytes of an event id given as a string (its UTF-8 bytes). */
export function hashEventId(id: string, out: Hash64): Hash64 {
  const bytes = Buffer.from(id, 'utf8');
  return hashEventIdBytes(bytes, 0, bytes.length, out);
}

/** A Set key for a hash: its top 53 bits (a double holds them exactly). */
export const hashKey = (hi: number, lo: number): number => (hi >>> 11) * 4294967296 + (lo >>> 0);
