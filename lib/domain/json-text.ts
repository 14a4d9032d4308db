/**
 * Helpers over raw JSON text: where each element of an array sits (so a rejected element can be
 * kept exactly as the client sent it: spacing, number spelling and key order included, and so an
 * accepted one written as JSON.stringify writes it can be copied instead of serialized again),
 * and where invalid JSON goes wrong (V8's messages do not always say).
 */

/** [start, end) character offsets of one element of the array. */
export type Span = readonly [start: number, end: number];

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

function skipWhitespace(text: string, i: number): number {
  let at = i;
  while (at < text.length && WHITESPACE.has(text[at] as string)) at += 1;
  return at;
}

// ---------------------------------------------------------------- element spans, over UTF-8 bytes

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** Where each element of a JSON array sits in the UTF-8 bytes it was parsed from. */
export interface ElementSpans {
  /** How many elements the array has. */
  count: number;
  /** Element i is the bytes [starts[i], ends[i]). */
  starts: Int32Array;
  ends: Int32Array;
  /**
   * For an element written exactly as JSON.stringify writes a flat object (no whitespace, no
   * escape, no nested object or array, numbers only as integers of at most 15 digits other than
   * -0, no key starting with a digit, which V8 could order first), its member count; -1 for any
   * other element. Such an element's bytes are the UTF-8 of
   * JSON.stringify(JSON.parse(element)) as long as no key repeats, which the member count lets
   * a caller check against the parsed object's key count.
   */
  members: Int32Array;
}

function isWhitespaceByte(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWhitespaceBytes(b: Uint8Array, i: number): number {
  let at = i;
  while (isWhitespaceByte(b[at])) at += 1;
  return at;
}

/** Index just past the string literal whose opening quote is at `i`. */
function skipStringBytes(b: Uint8Array, i: number): number {
  const n = b.length;
  let at = i + 1;
  while (at < n) {
    const c = b[at] as number;
    if (c === QUOTE) return at + 1;
    at += c === BACKSLASH ? 2 : 1;
  }
  return n;
}

/** Index just past the JSON value that starts at `i`. */
function skipValueBytes(b: Uint8Array, i: number): number {
  const n = b.length;
  const first = b[i];
  if (first === QUOTE) return skipStringBytes(b, i);
  let at = i;
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    while (at < n) {
      const c = b[at] as number;
      if (c === QUOTE) {
        at = skipStringBytes(b, at);
        continue;
      }
      at += 1;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth += 1;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return at;
    }
    return at;
  }
  while (at < n) {
    const c = b[at];
    if (isWhitespaceByte(c) || c === COMMA || c === CLOSE_BRACKET || c === CLOSE_BRACE) break;
    at += 1;
  }
  return at;
}

/** Set by scanObject: the member count of the object it just scanned, or -1 when not canonical. */
let scannedMembers = -1;
/** The offset of a backslash at or after the string being skipped (the buffer's length when none is left). */
let nextBackslash = 0;

/**
 * Index just past the object that starts at `i`; sets scannedMembers (see ElementSpans.members).
 * A string is skipped with one native search for its closing quote, unless a backslash comes
 * first; then it is walked byte by byte.
 */
function scanObject(b: Buffer, i: number): number {
  const n = b.length;
  let at = i + 1;
  let depth = 1;
  let members = 0;
  let canonical = true;
  while (at < n) {
    const c = b[at] as number;
    if (c === QUOTE) {
      const close = b.indexOf(QUOTE, at + 1);
      if (close < 0) return n;
      // A key that may be an array index: V8 puts those first, so JSON.stringify would reorder.
      const first = b[at + 1] as number;
      if (first >= ZERO && first <= NINE && (b[at - 1] === OPEN_BRACE || b[at - 1] === COMMA))
        canonical = false;
      if (nextBackslash < at) {
        const found = b.indexOf(BACKSLASH, at);
        nextBackslash = found < 0 ? n : found;
      }
      if (close < nextBackslash) {
        at = close + 1;
      } else {
        canonical = false;
        at = skipStringBytes(b, at);
      }
    } else if (c === COLON) {
      members += 1;
      at += 1;
    } else if (c === COMMA) {
      at += 1;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      at += 1;
      if (--depth === 0) break;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      canonical = false;
      depth += 1;
      at += 1;
    } else if ((c >= ZERO && c <= NINE) || c === MINUS) {
      const start = at;
      at += c === MINUS ? 2 : 1;
      let d = b[at] as number;
      while (d >= ZERO && d <= NINE) d = b[++at] as number;
      const negativeZero = c === MINUS && b[start + 1] === ZERO && at === start + 2;
      if (d === 0x2e || d === 0x65 || d === 0x45 || negativeZero || at - start > 15) {
        canonical = false;
        while (
          (d >= ZERO && d <= NINE) ||
          d === 0x2e ||
          d === 0x65 ||
          d === 0x45 ||
          d === 0x2b ||
          d === MINUS
        ) {
          d = b[++at] as number;
        }
      }
    } else {
      if (isWhitespaceByte(c)) canonical = false;
      at += 1;
    }
  }
  scannedMembers = canonical ? members : -1;
  return at;
}

function grow(array: Int32Array): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** The elements of the array whose '[' is at `open`, and the index just past its ']'. */
function scanElements(b: Buffer, open: number, expected: number): { spans: ElementSpans; end: number } {
  const n = b.length;
  const capacity = Math.max(16, expected);
  let starts = new Int32Array(capacity);
  let ends = new Int32Array(capacity);
  let members = new Int32Array(capacity);
  let count = 0;
  let at = skipWhitespaceBytes(b, open + 1);
  while (at < n && b[at] !== CLOSE_BRACKET) {
    if (count === starts.length) {
      starts = grow(starts);
      ends = grow(ends);
      members = grow(members);
    }
    starts[count] = at;
    if (b[at] === OPEN_BRACE) {
      at = scanObject(b, at);
      members[count] = scannedMembers;
    } else {
      at = skipValueBytes(b, at);
      members[count] = -1;
    }
    ends[count] = at;
    count += 1;
    at = skipWhitespaceBytes(b, at);
    if (b[at] === COMMA) at = skipWhitespaceBytes(b, at + 1);
  }
  return { spans: { count, starts, ends, members }, end: at + 1 };
}

/** True when the key literal in bytes [start, end) (quotes included) reads as `field`. */
function keyIs(b: Uint8Array, start: number, end: number, field: string): boolean {
  const raw = Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
  return raw.includes('\\') ? JSON.parse(raw) === field : raw.slice(1, -1) === field;
}

/**
 * The bytes must already be known to be valid JSON (JSON.parse succeeded on their text); a
 * leading UTF-8 byte order mark is skipped.
 * Where each element of the array under top-level key `field` sits (the last copy when the key
 * repeats, as JSON.parse keeps the last), or undefined when the bytes have no such array.
 * `expected` is the element count the caller expects (it sizes the result).
 */
export function elementSpans(body: Uint8Array, field: string, expected = 16): ElementSpans | undefined {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const n = bytes.length;
  nextBackslash = -1;
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let at = skipWhitespaceBytes(bytes, bom);
  if (bytes[at] !== OPEN_BRACE) return undefined;
  let found: ElementSpans | undefined;
  at = skipWhitespaceBytes(bytes, at + 1);
  while (at < n && bytes[at] === QUOTE) {
    const keyEnd = skipStringBytes(bytes, at);
    const matches = keyIs(bytes, at, keyEnd, field);
    at = skipWhitespaceBytes(bytes, skipWhitespaceBytes(bytes, keyEnd) + 1); // past ':'
    let valueEnd: number;
    if (matches && bytes[at] === OPEN_BRACKET) {
      const scanned = scanElements(bytes, at, expected);
      found = scanned.spans;
      valueEnd = scanned.end;
    } else {
      if (matches) found = undefined;
      valueEnd = skipValueBytes(bytes, at);
    }
    at = skipWhitespaceBytes(bytes, valueEnd);
    if (bytes[at] === COMMA) at = skipWhitespaceBytes(bytes, at + 1);
  }
  return found;
}

/**
 * The text must already be known to be valid JSON (JSON.parse succeeded).
 * The spans of the elements of the array under top-level key `field` (the last one when the key
 * repeats, as JSON.parse keeps the last), or [] when the text has no such array.
 */
export function arrayElementSpans(text: string, field: string): Span[] {
  const spans = elementSpans(Buffer.from(text, 'utf8'), field);
  if (spans === undefined) return [];
  // Byte offsets to character offsets, in one pass (the offsets only grow). Buffer.from wrote a
  // surrogate pair as 4 bytes and any other code unit as 1 to 3 (a lone surrogate as U+FFFD).
  let char = 0;
  let byte = 0;
  const toChar = (target: number): number => {
    while (byte < target) {
      const c = text.charCodeAt(char);
      const next = text.charCodeAt(char + 1);
      if (c < 0x80) byte += 1;
      else if (c < 0x800) byte += 2;
      else if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        byte += 4;
        char += 1;
      } else byte += 3;
      char += 1;
    }
    return char;
  };
  const result: Span[] = [];
  for (let i = 0; i < spans.count; i++) {
    const start = toChar(spans.starts[i] as number);
    result.push([start, toChar(spans.ends[i] as number)]);
  }
  return result;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /^[0-9a-fA-F]{4}$/;

/** Scans the string literal at `i`: [true, index just past it] or [false, index of the offending character]. */
function scanString(text: string, i: number): [ok: boolean, at: number] {
  let at = i + 1;
  while (at < text.length) {
    const c = text.charCodeAt(at);
    if (c === 0x22) return [true, at + 1];
    if (c < 0x20) return [false, at];
    if (c === 0x5c) {
      const e = text[at + 1];
      if (e === 'u' && HEX4.test(text.slice(at + 2, at + 6))) at += 6;
      else if (e !== undefined && ESCAPES.has(e)) at += 2;
      else return [false, at + 1];
      continue;
    }
    at += 1;
  }
  return [false, text.length];
}

/**
 * The offset of the first character at which `text` stops being valid JSON (text.length when it
 * ends too early), or -1 when it is valid. Iterative, so deep nesting cannot overflow the stack.
 */
export function jsonErrorOffset(text: string): number {
  const stack: string[] = [];
  let at = skipWhitespace(text, 0);
  let state: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    if (state === 'value') {
      const c = text[at];
      if (c === undefined) return at;
      if (c === '{' || c === '[') {
        at = skipWhitespace(text, at + 1);
        if (text[at] === (c === '{' ? '}' : ']')) {
          at += 1;
          state = 'after';
        } else {
          stack.push(c);
          state = c === '{' ? 'key' : 'value';
        }
        continue;
      }
      if (c === '"') {
        const [ok, end] = scanString(text, at);
        if (!ok) return end;
        at = end;
      } else if (c === 't' || c === 'f' || c === 'n') {
        const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
        for (let k = 0; k < word.length; k++) if (text[at + k] !== word[k]) return at + k;
        at += word.length;
      } else {
        NUMBER.lastIndex = at;
        if (!NUMBER.test(text)) return at;
        at = NUMBER.lastIndex;
      }
      state = 'after';
    } else if (state === 'key') {
      at = skipWhitespace(text, at);
      if (text[at] !== '"') return at;
      const [ok, end] = scanString(text, at);
      if (!ok) return end;
      at = skipWhitespace(text, end);
      if (text[at] !== ':') return at;
      at = skipWhitespace(text, at + 1);
      state = 'value';
    } else {
      at = skipWhitespace(text, at);
      const top = stack.at(-1);
      if (top === undefined) return at === text.length ? -1 : at;
      const c = text[at];
      if (c === ',') {
        at = skipWhitespace(text, at + 1);
        state = top === '{' ? 'key' : 'value';
      } else if (c === (top === '{' ? '}' : ']')) {
        stack.pop();
        at += 1;
      } else {
        return at;
      }
    }
  }
}

/**
 * Explains why JSON.parse failed on `text`, always with a position: V8's message when it names one,
 * else V8's message plus the position found by jsonErrorOffset (with line and column).
 */
export function describeJsonError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/at position \d+/.test(message)) return message;
  const offset = jsonErrorOffset(text);
  if (offset < 0) return message;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${message} at position ${offset} (line ${line} column ${column})`;
}
