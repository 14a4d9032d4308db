import { rawObjectLines, storedLine } from '../../../cli/traffic/raw-objects';
import {
  duckDbDateTime,
  duplicateKey,
  ParsedLineCheck,
  PatternLineCheck,
  type StoredLineCheck,
} from '../../../lib/domain/format/stored-lines';

const CLICK = {
  event_id: '0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90',
  event_type: 'click',
  schema_version: 1,
  user_id: 'u_1',
  occurred_at: '2026-03-01T12:30:00.123+09:00',
  article_id: 'a_1',
  tab: 'top',
  position: 3,
  platform: 'ios',
  app_version: '5.12.0',
};
const line = (event: Record<string, unknown>) =>
  storedLine(event, '2026-03-01T03:30:01.000Z', 'req-1').slice(0, -1);

function verdict(check: StoredLineCheck, text: string) {
  const ok = check.check(text);
  return ok
    ? { ok, type: check.type, version: check.version, rewritten: check.rewritten }
    : { ok, reason: check.reason, paths: check.errors.map((e) => e.path) };
}

describe('The stored-line checks', () => {
  it('accept a line as collect writes it, with its type and version, to be written as it is', () => {
    // Prepare
    const text = line(CLICK);
    // Act
    const results = [new PatternLineCheck(), new ParsedLineCheck()].map((c) => verdict(c, text));
    // Assess
    for (const r of results) expect(r).toEqual({ ok: true, type: 'click', version: 1, rewritten: undefined });
  });

  it('give the same verdict, fast path or parsed, on generated lines with every kind of bad line', () => {
    // Prepare
    const raw = rawObjectLines({ lines: 2_000, badShare: 0.05, seed: 7 });
    const fast = new PatternLineCheck();
    const parsed = new ParsedLineCheck();
    // Act
    const disagreements = raw.lines
      .map((bytes) => bytes.toString('utf8').replace(/\n$/, ''))
      .filter((text) => JSON.stringify(verdict(fast, text)) !== JSON.stringify(verdict(parsed, text)));
    // Assess
    expect(disagreements).toEqual([]);
  });

  it.each([
    ['invalid_json', `${line(CLICK).slice(0, 40)}`, ''],
    ['invalid_field', line({ ...CLICK, position: '3' }), '/position'],
    ['unknown_type', line({ ...CLICK, event_type: 'page_view' }), '/event_type'],
    ['unknown_version', line({ ...CLICK, schema_version: 9 }), '/schema_version'],
    ['duplicate_key', `${line(CLICK).slice(0, -1)},"tab":"feed"}`, ''],
    ['duplicate_key', `${line(CLICK).slice(0, -1)} , "tab" :"feed"}`, ''],
    ['lone_surrogate', line({ ...CLICK, tab: 'top\ud800' }), '/tab'],
  ])('quarantine a line as %s, naming the field', (reason, text, path) => {
    // Prepare
    const check = new PatternLineCheck();
    // Act
    const ok = check.check(text);
    // Assess
    expect(ok).toBe(false);
    expect(check.reason).toBe(reason);
    expect(check.errors[0]?.path).toBe(path);
  });

  it('keep an escaped surrogate pair and escaped characters, which DuckDB reads', () => {
    // Prepare
    const text = line({ ...CLICK, tab: 'top \ud83d\ude00 "quoted"' }).replace(
      '\ud83d\ude00',
      '\\ud83d\\ude00',
    );
    const check = new PatternLineCheck();
    // Act
    const ok = check.check(text);
    // Assess
    expect(ok).toBe(true);
    expect(check.rewritten).toBeUndefined();
  });

  it.each([
    ['lower-case t and z', '2026-03-01t03:30:00.123z', '2026-03-01T03:30:00.123Z'],
    ['a leap second', '2016-12-31T23:59:60Z', '2016-12-31T23:59:59.999999Z'],
    [
      'a leap second with a fraction and an offset',
      '2017-01-01T08:59:60.5+09:00',
      '2017-01-01T08:59:59.999999+09:00',
    ],
  ])(
    'rewrite a registry-valid date-time with %s into the same instant DuckDB reads',
    (_what, value, expected) => {
      // Prepare
      const check = new PatternLineCheck();
      // Act
      const ok = check.check(line({ ...CLICK, occurred_at: value }));
      // Assess
      expect(ok).toBe(true);
      expect(JSON.parse(check.rewritten ?? '{}').occurred_at).toBe(expected);
      expect(duckDbDateTime(expected)).toBeUndefined();
    },
  );
});

describe('duplicateKey', () => {
  it('finds a repeated key in an object, escaped spellings included, and none across objects', () => {
    expect(duplicateKey('{"a":1,"b":{"a":2}}')).toBeUndefined();
    expect(duplicateKey('{"a":1,"b":{"c":2,"c":3}}')).toBe('c');
    expect(duplicateKey('{"a":"x\\"a\\":","\\u0061":2}')).toBe('a');
  });
});
