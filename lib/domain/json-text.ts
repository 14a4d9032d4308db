/**
 * Helpers over raw JSON text: where a value ends (so an event can be kept exactly as the client
 * sent it: spacing, number spelling and key order included) and where invalid JSON goes wrong
 * (V8's messages do not always say).
 */

/** Index of the first character at or after `i` that is not JSON whitespace. */
export function skipWhitespace(text: string, i: number): number {
  let at = i;
  for (;;) {
    const c = text.charCodeAt(at);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return at;
    at += 1;
  }
}

/** An object holding no object or array: anything but brackets and quotes, or whole strings (escapes included). */
const FLAT_OBJECT = /\{(?:[^"{}[\]]|"(?:[^"\\]|\\.)*")*\}/y;

/**
 * Index just past the JSON value that starts at `i`, found by its delimiters alone (strings,
 * with their escapes, and brackets): it does not check the value, JSON.parse of the slice does.
 * -1 when the text ends before the value does.
 */
export function skipValue(text: string, i: number): number {
  if (text.charCodeAt(i) === 0x7b) {
    // An object with no object or array inside, the usual event: one native regular expression run.
    FLAT_OBJECT.lastIndex = i;
    if (FLAT_OBJECT.test(text)) return FLAT_OBJECT.lastIndex;
  }
  const n = text.length;
  let at = i;
  let depth = 0;
  while (at < n) {
    const c = text.charCodeAt(at);
    if (c === 0x22) {
      at += 1;
      for (;;) {
        if (at >= n) return -1;
        const d = text.charCodeAt(at);
        if (d === 0x22) break;
        at += d === 0x5c ? 2 : 1;
      }
      at += 1;
      if (depth === 0) return at;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      depth += 1;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return at;
      depth -= 1;
      if (depth === 0) return at + 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d)) {
      return at;
    }
    at += 1;
  }
  return depth === 0 ? at : -1;
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
