import { dateTimeMillis, isDateTime, isUuid } from '../../../lib/schemas/formats';

// The regular expressions the character-code checks replaced: the reference they must agree with.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function referenceIsDateTime(value: string): boolean {
  const m = DATE_TIME.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0))) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  return m[7] === undefined || (Number(m[7]) <= 23 && Number(m[8]) <= 59);
}

/** A small seeded generator (mulberry32), so a failure can be replayed: an integer in [0, n). */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Date-times near and over every limit, some with one character changed. */
function dateTimes(count: number, seed: number): string[] {
  const r = random(seed);
  const noise = '0123456789-:.TtZz+ x';
  return Array.from({ length: count }, () => {
    let s = `${pad(r(10000), 4)}-${pad(r(14))}-${pad(r(33))}${'TtT '[r(4)]}${pad(r(26))}:${pad(r(62))}:${pad(r(62))}`;
    const fraction = r(5);
    if (fraction === 1) s += `.${'1234567890'.slice(0, r(11))}`;
    if (fraction === 2) s += `.${pad(r(1000), 3)}`;
    const zone = r(5);
    if (zone === 0) s += 'Z';
    if (zone === 1) s += 'z';
    if (zone >= 2 && zone <= 3) s += `${'+-'[r(2)]}${pad(r(26))}:${pad(r(62))}`;
    if (r(4) === 0) {
      const at = r(s.length + 1);
      s = s.slice(0, at) + noise[r(noise.length)] + s.slice(at + r(2));
    }
    return s;
  });
}

describe('isDateTime', () => {
  it('agrees with the RFC 3339 regular expression it replaced on 60,000 generated values', () => {
    // Prepare
    const values = dateTimes(60_000, 7);

    // Act
    const disagreements = values.filter((value) => isDateTime(value) !== referenceIsDateTime(value));

    // Assess
    expect(disagreements).toEqual([]);
    expect(values.filter(isDateTime).length).toBeGreaterThan(5_000);
  });
});

describe('isUuid', () => {
  it('agrees with the regular expression it replaced on 30,000 generated values', () => {
    // Prepare
    const r = random(11);
    const alphabet = '0123456789abcdefABCDEF-gG ';
    const values = Array.from({ length: 30_000 }, () => {
      const length = r(4) === 0 ? r(40) : 36;
      let s = '';
      for (let i = 0; i < length; i++) {
        const dash = i === 8 || i === 13 || i === 18 || i === 23;
        s += dash && r(20) !== 0 ? '-' : alphabet[r(r(30) === 0 ? alphabet.length : 22)];
      }
      return s;
    });

    // Act
    const disagreements = values.filter((value) => isUuid(value) !== UUID.test(value));

    // Assess
    expect(disagreements).toEqual([]);
    expect(values.filter(isUuid).length).toBeGreaterThan(5_000);
  });

  it('rejects a character outside ASCII whose low byte is a hex digit', () => {
    // Act and Assess
    expect(isUuid('0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c9\u0141')).toBe(false);
  });
});

describe('dateTimeMillis', () => {
  it('reads every date-time exactly as Date.parse does, checked first or not', () => {
    // Prepare
    const values = dateTimes(40_000, 13).filter(isDateTime);
    const other = '2001-01-01T00:00:00Z';

    // Act: half the values right after isDateTime accepted them (as collect does), half after another value.
    const results = values.map((value, i) => {
      isDateTime(i % 2 === 0 ? value : other);
      return dateTimeMillis(value);
    });

    // Assess
    const wrong = values.filter((value, i) => !Object.is(results[i], Date.parse(value)));
    expect(wrong).toEqual([]);
    expect(values.length).toBeGreaterThan(2_000);
  });

  it.each([
    '2016-12-31T23:59:60Z',
    '2025-03-01t12:30:00z',
    '2025-03-01T12:30:00.1+09:00',
    '2025-03-01T12:30:00.123456789-05:30',
    '0000-01-01T00:00:00Z',
    '0099-12-31T23:59:59.999Z',
    '9999-12-31T23:59:59.999-23:59',
    'March 7, 2025',
    'not a date',
    '',
  ])('reads %p as Date.parse does', (value) => {
    // Act and Assess
    expect(dateTimeMillis(value)).toBe(Date.parse(value));
  });
});
