import {
  columns,
  type EventPatterns,
  type EventType,
  type FieldError,
  storedEventPatterns,
  validateStoredEvent,
} from '../../schemas';

/**
 * Why a line of a raw object cannot be written to the lake (see records.ts for the object-level
 * reasons). Each one is what a quarantine record says in `reason`.
 */
export type LineReason =
  | 'invalid_json'
  | 'invalid_field'
  | 'unknown_type'
  | 'unknown_version'
  | 'line_too_long'
  | 'invalid_utf8'
  | 'duplicate_key'
  | 'lone_surrogate'
  | 'truncated_line';

/**
 * The check of one stored line (an event as collect wrote it, received_at and request_id
 * included). After `check` answers true, `type`, `version` and `rewritten` describe the event;
 * after false, `reason` and `errors` say why. One instance serves every line of an object.
 */
export interface StoredLineCheck {
  type: EventType;
  version: number;
  /**
   * The text to write instead of the line's own bytes, when the line is registry-valid but DuckDB
   * would refuse it as written (see ParsedLineCheck); undefined for the usual line.
   */
  rewritten: string | undefined;
  reason: LineReason;
  errors: FieldError[];
  check(text: string): boolean;
}

/** The date-time columns of each (type, version), read once from the registry. */
const timestampFields = new Map<string, string[]>();
function timestampsOf(type: EventType, version: number): string[] {
  const key = `${type}.${version}`;
  let fields = timestampFields.get(key);
  if (fields === undefined) {
    fields = columns(type, version)
      .filter((c) => c.type === 'timestamp')
      .map((c) => c.name);
    timestampFields.set(key, fields);
  }
  return fields;
}

/**
 * A registry-valid RFC 3339 date-time as DuckDB's TIMESTAMPTZ reads it: `T` and `Z` upper case
 * (RFC 3339 allows either case; DuckDB refuses lower case), and a leap second `:60` as the last
 * microsecond of its minute (DuckDB, like POSIX time, has no leap seconds). Same instant
 * otherwise; undefined when the value needs no change.
 */
export function duckDbDateTime(value: string): string | undefined {
  const lower = value.charCodeAt(10) === 0x74 || value.charCodeAt(value.length - 1) === 0x7a;
  const leap = value.charCodeAt(17) === 0x36 && value.charCodeAt(18) === 0x30;
  if (!lower && !leap) return undefined;
  let fixed = lower ? `${value.slice(0, 10)}T${value.slice(11)}`.replace(/z$/, 'Z') : value;
  if (leap) {
    let zone = 19;
    if (fixed.charCodeAt(19) === 0x2e) {
      zone = 20;
      while (fixed.charCodeAt(zone) >= 0x30 && fixed.charCodeAt(zone) <= 0x39) zone += 1;
    }
    fixed = `${fixed.slice(0, 17)}59.999999${fixed.slice(zone)}`;
  }
  return fixed;
}

/**
 * The first key that appears twice in one object of a JSON text (which must be valid JSON), or
 * undefined. JSON.parse keeps the last value of a repeated key; DuckDB refuses the line.
 */
export function duplicateKey(text: string): string | undefined {
  const stack: (Set<string> | undefined)[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) j += 2;
        else if (d === 0x22) break;
        else j += 1;
      }
      const start = i;
      i = j + 1;
      let k = i;
      while (k < n && text.charCodeAt(k) <= 0x20) k += 1;
      const keys = stack.at(-1);
      if (keys !== undefined && text.charCodeAt(k) === 0x3a) {
        const key = JSON.parse(text.slice(start, i)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      continue;
    }
    if (c === 0x7b) stack.push(new Set());
    else if (c === 0x5b) stack.push(undefined);
    else if (c === 0x7d || c === 0x5d) stack.pop();
    i += 1;
  }
  return undefined;
}

/** A UTF-16 surrogate without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Occurrences of `"` in a text. */
function quotes(text: string): number {
  let count = 0;
  let at = text.indexOf('"');
  while (at !== -1) {
    count += 1;
    at = text.indexOf('"', at + 1);
  }
  return count;
}

/**
 * The stored-line check by JSON.parse and the registry's compiled TypeBox check
 * (validateStoredEvent), plus what the registry accepts and DuckDB's read_json refuses:
 * - lower-case `t`/`z` and leap seconds in a date-time: normalised (duckDbDateTime), the line
 *   rewritten with JSON.stringify of its (checked) value;
 * - a repeated key (JSON.parse silently keeps the last): quarantined as `duplicate_key`;
 * - an escaped lone surrogate (`"\ud800"`, which no UTF-8 Parquet string can hold): quarantined
 *   as `lone_surrogate`.
 * The repeated-key test is exact and cheap on lines without a backslash (the usual ones): there,
 * every string token is two quotes, so the text has `2 * (keys + string values)` quotes exactly
 * when no key repeats. Lines with a backslash are scanned (duplicateKey).
 */
export class ParsedLineCheck implements StoredLineCheck {
  type: EventType = 'click';
  version = 0;
  rewritten: string | undefined;
  reason: LineReason = 'invalid_json';
  errors: FieldError[] = [];

  check(text: string): boolean {
    this.rewritten = undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return this.fail('invalid_json', [{ path: '', message: (error as Error).message }]);
    }
    const result = validateStoredEvent(value);
    if (!result.ok) {
      const first = result.errors[0]?.path;
      const reason =
        first === '/event_type'
          ? 'unknown_type'
          : first === '/schema_version'
            ? 'unknown_version'
            : 'invalid_field';
      return this.fail(reason, result.errors);
    }
    const event = result.event as unknown as Record<string, unknown>;
    const escaped = text.indexOf('\\') !== -1;
    let tokens = 0;
    for (const key in event) {
      const field = event[key];
      tokens += typeof field === 'string' ? 2 : 1;
      if (typeof field === 'object' && field !== null) {
        for (const inner in field) {
          const v = (field as Record<string, unknown>)[inner];
          tokens += typeof v === 'string' ? 2 : 1;
          if (escaped && typeof v === 'string' && LONE_SURROGATE.test(v))
            return this.surrogate(`/${key}/${inner}`);
        }
      } else if (escaped && typeof field === 'string' && LONE_SURROGATE.test(field)) {
        return this.surrogate(`/${key}`);
      }
    }
    if (escaped || quotes(text) !== 2 * tokens) {
      const key = duplicateKey(text);
      if (key !== undefined) {
        return this.fail('duplicate_key', [
          {
            path: '',
            message: `key ${JSON.stringify(key)} appears twice in one object; which value is meant is unknown`,
          },
        ]);
      }
    }
    this.type = event.event_type as EventType;
    this.version = event.schema_version as number;
    let copy: Record<string, unknown> | undefined;
    for (const name of timestampsOf(this.type, this.version)) {
      const field = event[name];
      const fixed = typeof field === 'string' ? duckDbDateTime(field) : undefined;
      if (fixed !== undefined) {
        copy ??= { ...event };
        copy[name] = fixed;
      }
    }
    if (copy !== undefined) this.rewritten = JSON.stringify(copy);
    return true;
  }

  private surrogate(path: string): boolean {
    return this.fail('lone_surrogate', [
      {
        path,
        message:
          'has a lone UTF-16 surrogate (an escaped \\ud800-\\udfff without its pair): not storable as UTF-8',
      },
    ]);
  }

  private fail(reason: LineReason, errors: FieldError[]): boolean {
    this.reason = reason;
    this.errors = errors;
    return false;
  }
}

/**
 * True when the date-time that starts at `start` of `text` (a matched, escape-free line) is read
 * by DuckDB as written: upper-case `T` and `Z`, and no leap second (see duckDbDateTime).
 */
function duckDbReadsDateTimeAt(text: string, start: number): boolean {
  const end = text.indexOf('"', start);
  return (
    text.charCodeAt(start + 10) === 0x54 &&
    text.charCodeAt(end - 1) !== 0x7a &&
    !(text.charCodeAt(start + 17) === 0x36 && text.charCodeAt(start + 18) === 0x30)
  );
}

/**
 * The fast stored-line check: the registry's stored-line patterns (storedEventPatterns, from
 * text-pattern.ts) decide a line written as collect writes it without parsing it; a match means
 * the text is `JSON.stringify` of a registry-valid value, so it has no repeated key and no escape
 * (hence no lone surrogate). Its date-times are then looked at where they sit for the two shapes
 * DuckDB refuses. Everything else (no match, another spelling, such a date-time) goes to
 * ParsedLineCheck, which decides, explains and normalises.
 */
export class PatternLineCheck implements StoredLineCheck {
  type: EventType = 'click';
  version = 0;
  rewritten: string | undefined;
  reason: LineReason = 'invalid_json';
  errors: FieldError[] = [];
  private readonly patterns: EventPatterns = storedEventPatterns();
  private readonly slow = new ParsedLineCheck();
  /** Per (type, version): each date-time field's `"name":"` and whether it sits in the line's second half. */
  private readonly needles = new Map<string, { needle: string; late: boolean }[]>();

  check(text: string): boolean {
    const match = this.patterns.match(text, 0);
    if (match !== undefined && match.end === text.length) {
      const type = match.type as EventType;
      if (this.dateTimesRead(text, type, match.version)) {
        this.type = type;
        this.version = match.version;
        this.rewritten = undefined;
        return true;
      }
    }
    const ok = this.slow.check(text);
    this.type = this.slow.type;
    this.version = this.slow.version;
    this.rewritten = this.slow.rewritten;
    this.reason = this.slow.reason;
    this.errors = this.slow.errors;
    return ok;
  }

  private dateTimesRead(text: string, type: EventType, version: number): boolean {
    const key = `${type}.${version}`;
    let needles = this.needles.get(key);
    if (needles === undefined) {
      const names = columns(type, version).map((c) => c.name);
      needles = timestampsOf(type, version).map((name) => ({
        needle: `"${name}":"`,
        late: names.indexOf(name) >= names.length / 2,
      }));
      this.needles.set(key, needles);
    }
    // A matched line has no escaped quote: each field name appears once, searched from its end.
    for (const { needle, late } of needles) {
      const at = late ? text.lastIndexOf(needle) : text.indexOf(needle);
      // An optional date-time left out has nothing to look at.
      if (at !== -1 && !duckDbReadsDateTimeAt(text, at + needle.length)) return false;
    }
    return true;
  }
}
