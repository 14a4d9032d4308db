import { FormatRegistry } from '@sinclair/typebox';

/**
 * The string formats the schemas use, checked with character codes rather than regular
 * expressions: they run once or twice per event on collect's hot path.
 */

/** 1 for the char code of an ASCII hex digit (either case), else 0; indexed by any UTF-16 code unit. */
const HEX = new Uint8Array(0x10000);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

/** 1 when the four characters at `at` are hex digits, else 0 (no branch per character). */
function hex4(value: string, at: number): number {
  return (
    (HEX[value.charCodeAt(at)] as number) &
    (HEX[value.charCodeAt(at + 1)] as number) &
    (HEX[value.charCodeAt(at + 2)] as number) &
    (HEX[value.charCodeAt(at + 3)] as number)
  );
}

/** True for a UUID in its canonical 8-4-4-4-12 hex form (any version, either case). */
export function isUuid(value: string): boolean {
  return (
    value.length === 36 &&
    value.charCodeAt(8) === 0x2d &&
    value.charCodeAt(13) === 0x2d &&
    value.charCodeAt(18) === 0x2d &&
    value.charCodeAt(23) === 0x2d &&
    (hex4(value, 0) &
      hex4(value, 4) &
      hex4(value, 9) &
      hex4(value, 14) &
      hex4(value, 19) &
      hex4(value, 24) &
      hex4(value, 28) &
      hex4(value, 32)) ===
      1
  );
}

/** The value of the ASCII digit at `at` when it is one, else a number outside 0-9 (NaN past the end: check the length first). */
function digitAt(value: string, at: number): number {
  return value.charCodeAt(at) - 0x30;
}

/** Negative when `d` is a number outside 0-9, else 0-15: OR these together to test many digits with one branch. */
function outside(d: number): number {
  return d | (9 - d);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days from 1970-01-01 to a proleptic Gregorian date (month 1-12). */
function daysFromEpoch(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

// The events of one request mostly share a date: the last date's day count is kept.
let lastDate = -1;
let lastDays = 0;

/** What readDateTime answers for a value that is not an RFC 3339 date-time. */
const NOT_A_DATE_TIME = Number.NEGATIVE_INFINITY;

/**
 * Reads an RFC 3339 date-time (a full date, a full time with 1-9 fraction digits or none, and a
 * mandatory `Z` or `±HH:MM` offset; impossible dates are refused). Answers NOT_A_DATE_TIME for
 * anything else; for a date-time, its epoch milliseconds as Date.parse reads them when the value
 * (the characters [base, end) of `value`) has the common shape (`T`, seconds up to 59, no fraction or 3 digits, `Z` or `±HH:MM`), else NaN.
 */
function readDateTime(value: string, base = 0, end = value.length): number {
  const length = end - base;
  if (length < 20) return NOT_A_DATE_TIME;
  const y0 = digitAt(value, base + 0);
  const y1 = digitAt(value, base + 1);
  const y2 = digitAt(value, base + 2);
  const y3 = digitAt(value, base + 3);
  const mo0 = digitAt(value, base + 5);
  const mo1 = digitAt(value, base + 6);
  const d0 = digitAt(value, base + 8);
  const d1 = digitAt(value, base + 9);
  const h0 = digitAt(value, base + 11);
  const h1 = digitAt(value, base + 12);
  const mi0 = digitAt(value, base + 14);
  const mi1 = digitAt(value, base + 15);
  const s0 = digitAt(value, base + 17);
  const s1 = digitAt(value, base + 18);
  const notDigits =
    outside(y0) |
    outside(y1) |
    outside(y2) |
    outside(y3) |
    outside(mo0) |
    outside(mo1) |
    outside(d0) |
    outside(d1) |
    outside(h0) |
    outside(h1) |
    outside(mi0) |
    outside(mi1) |
    outside(s0) |
    outside(s1);
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  const month = mo0 * 10 + mo1;
  const day = d0 * 10 + d1;
  const hour = h0 * 10 + h1;
  const minute = mi0 * 10 + mi1;
  const second = s0 * 10 + s1;
  const t = value.charCodeAt(base + 10);
  if (
    notDigits < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    hour > 23 ||
    minute > 59 ||
    second > 60 ||
    value.charCodeAt(base + 4) !== 0x2d ||
    value.charCodeAt(base + 7) !== 0x2d ||
    (t !== 0x54 && t !== 0x74) ||
    value.charCodeAt(base + 13) !== 0x3a ||
    value.charCodeAt(base + 16) !== 0x3a
  ) {
    return NOT_A_DATE_TIME;
  }
  if (day > 28) {
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const maxDay = month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] as number);
    if (day > maxDay) return NOT_A_DATE_TIME;
  }
  // The fraction (1-9 digits), then the zone.
  let at = 19;
  if (value.charCodeAt(base + 19) === 0x2e) {
    at = 20;
    while (at < 30 && at < length && outside(digitAt(value, base + at)) >= 0) at += 1;
    if (at === 20 || at === 30) return NOT_A_DATE_TIME;
  }
  const zone = value.charCodeAt(base + at);
  let offset = 0;
  if (zone === 0x5a || zone === 0x7a) {
    if (length !== at + 1) return NOT_A_DATE_TIME;
  } else {
    if ((zone !== 0x2b && zone !== 0x2d) || length !== at + 6 || value.charCodeAt(base + at + 3) !== 0x3a) {
      return NOT_A_DATE_TIME;
    }
    const oh0 = digitAt(value, base + at + 1);
    const oh1 = digitAt(value, base + at + 2);
    const om0 = digitAt(value, base + at + 4);
    const om1 = digitAt(value, base + at + 5);
    const hours = oh0 * 10 + oh1;
    const minutes = om0 * 10 + om1;
    if ((outside(oh0) | outside(oh1) | outside(om0) | outside(om1)) < 0 || hours > 23 || minutes > 59) {
      return NOT_A_DATE_TIME;
    }
    offset = (zone === 0x2b ? 1 : -1) * (hours * 60 + minutes);
  }
  if (t !== 0x54 || zone === 0x7a || second > 59 || (at !== 19 && at !== 23)) return Number.NaN;
  const millis =
    at === 23
      ? digitAt(value, base + 20) * 100 + digitAt(value, base + 21) * 10 + digitAt(value, base + 22)
      : 0;
  const date = year * 10000 + month * 100 + day;
  if (date !== lastDate) {
    lastDays = daysFromEpoch(year, month, day);
    lastDate = date;
  }
  return lastDays * 86_400_000 + (hour * 60 + minute - offset) * 60_000 + second * 1000 + millis;
}

// The last value isDateTime accepted and what readDateTime said of it: collect asks
// dateTimeMillis about an occurred_at right after validating it, and need not read it twice.
let lastDateTime = '';
let lastReading = Number.NaN;

/** True for an RFC 3339 date-time with an offset, e.g. `2025-03-01T12:30:00.123Z`; rejects impossible dates. */
export function isDateTime(value: string): boolean {
  const reading = readDateTime(value);
  if (reading === NOT_A_DATE_TIME) return false;
  lastDateTime = value;
  lastReading = reading;
  return true;
}

/**
 * Milliseconds since the epoch of a date-time, exactly as `Date.parse` reads it (NaN when it
 * cannot). The common shape, `YYYY-MM-DDTHH:MM:SS[.sss](Z|±HH:MM)` with seconds up to 59, is
 * computed here; anything else is left to `Date.parse`.
 */
export function dateTimeMillis(value: string): number {
  const reading = value === lastDateTime ? lastReading : readDateTime(value);
  return reading === NOT_A_DATE_TIME || Number.isNaN(reading) ? Date.parse(value) : reading;
}

/**
 * The epoch milliseconds of the date-time in characters [start, end) of `text` (as dateTimeMillis
 * reads it), or undefined when they are not an RFC 3339 date-time (as isDateTime says): the check
 * of the date-time format on a field of a larger text, without cutting it out.
 */
export function dateTimeMillisAt(text: string, start: number, end: number): number | undefined {
  const reading = readDateTime(text, start, end);
  if (reading === NOT_A_DATE_TIME) return undefined;
  return Number.isNaN(reading) ? Date.parse(text.slice(start, end)) : reading;
}

/** Registers the formats the schemas use with TypeBox; idempotent. */
export function registerFormats(): void {
  if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', isUuid);
  if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isDateTime);
}
