import { FormatRegistry, Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { dateTimeMillisAt } from './formats';

/**
 * Validation of an event straight from its JSON text, without JSON.parse: collect's fast path.
 *
 * Each (event type, version) gets a sticky regular expression compiled from its TypeBox schema
 * that matches the event written the way `JSON.stringify` writes it: fields in the schema's order
 * (optional ones may be left out), no whitespace, strings without escapes or control characters,
 * integers in canonical form. The expression checks the literals, enums, lengths and UUIDs itself;
 * what a regular expression cannot (other formats, patterns, number bounds, maps) is checked on
 * the captured text after the match. (Long strings' maximum lengths are left out of the
 * expression, which makes it much faster, and proven from the match's length, see Plan.slack.) The regular expression engine runs as native code: this is
 * much cheaper than JSON.parse plus a check of the parsed value, and it gives the event's exact
 * extent in the text, so collect stores the client's own bytes instead of serializing again.
 *
 * A match means two things, both checked by the tests against JSON.parse, JSON.stringify and
 * TypeBox on generated and mutated events:
 * - the text is exactly `JSON.stringify(JSON.parse(text))`;
 * - its value passes the schema's TypeBox check.
 * No match means "not decided here", never "invalid": the caller parses the event and validates
 * it on the slow path, which also explains the errors. Clients that write fields in another
 * order, pretty-print, or escape characters are served correctly, only slower.
 *
 * The compiler covers exactly what the registry uses (strings with lengths and the uuid and
 * date-time formats, literals, unions of literals, bounded integers, flat maps); a schema using any
 * other part of TypeBox (arrays, nested objects, string patterns, other formats, ...) is refused with
 * an UnsupportedSchemaError naming the schema and the field, when the patterns are built at start-up,
 * so no branch runs that the tests have not run. Extend the compiler (and its tests) with the schema.
 */

/**
 * A UTF-16 code unit of a JSON string that JSON.stringify writes as is: no quote, backslash or
 * control character, and no lone surrogate (JSON.stringify escapes those; each half of a pair is
 * one code unit, as TypeBox counts lengths).
 */
const CHAR =
  '(?:[^"\\\\\\x00-\\x1f\\ud800-\\udfff]|[\\ud800-\\udbff](?=[\\udc00-\\udfff])|(?<=[\\ud800-\\udbff])[\\udc00-\\udfff])';
const HEX = '[0-9a-fA-F]';
const UUID = `${HEX}{8}-${HEX}{4}-${HEX}{4}-${HEX}{4}-${HEX}{12}`;
/** An integer as JSON.stringify writes it, within the range where every integer is exact. */
const INT = '(?:0|-?[1-9]\\d{0,14})';
const FLAT_VALUE = `(?:"${CHAR}*"|${INT}|true|false)`;
const FLAT_MAP = `\\{(?:"${CHAR}*":${FLAT_VALUE}(?:,"${CHAR}*":${FLAT_VALUE})*)?\\}`;

/** A schema uses a part of TypeBox the pattern compiler does not cover (see the module comment). */
export class UnsupportedSchemaError extends Error {
  override name = 'UnsupportedSchemaError';
}

/** What a match says of the event it matched (see EventPatterns.match). */
export interface PatternMatch {
  /** Index just past the event's closing brace. */
  end: number;
  type: string;
  version: number;
  eventId: string;
  userId: string;
  /** occurred_at in epoch milliseconds, as dateTimeMillis reads it. */
  occurredMs: number;
}

/** A check of a captured value that the regular expression could not make. */
interface Residual {
  group: number;
  check: (value: string) => boolean;
}

interface Plan {
  type: string;
  version: number;
  pattern: RegExp;
  /**
   * Where the event_type literal starts from the event's first character, when every text the
   * pattern matches has it there (fixed-length fields before it), else -1; and that literal,
   * closing quote included. A cheap look there skips the patterns of the other types.
   */
  typeOffset: number;
  typeText: string;
  residuals: Residual[];
  /** Capture groups of the envelope fields collect reads. */
  eventIdGroup: number;
  userIdGroup: number;
  /** Where occurred_at is: read and checked as a date-time after the match. */
  occurredAt: { group: number } | { offset: number; after: number[] };
  /** The maximum lengths of the envelope values, checked after the match (the pattern leaves them out). */
  eventIdMax: number;
  userIdMax: number;
  occurredAtMax: number;
  /**
   * `pattern` leaves out the maximum length of long strings. A match is still within them when
   * its length minus `minimal` (the shortest text the pattern matches) is at most `slack`: no
   * field can then be longer than its minimum plus that. Otherwise `strict`, the pattern with
   * every bound, decides.
   */
  minimal: number;
  slack: number;
  strict: () => RegExp;
}

/** One (event type, version) for EventPatterns. */
export interface PatternEntry {
  type: string;
  version: number;
  schema: TObject;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** True when JSON.stringify writes the string without escapes. */
function plainString(value: string): boolean {
  return JSON.stringify(value) === `"${value}"`;
}

const STRING_KEYWORDS = new Set(['type', 'minLength', 'maxLength', 'format']);
/** The formats the registry uses: uuid is matched by the expression, date-time checked after the match. */
const FORMATS = new Set(['uuid', 'date-time']);
const NUMBER_KEYWORDS = new Set(['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']);
const ANNOTATIONS = new Set(['description', 'title', '$id', 'examples', 'default']);

/** Refuses a schema carrying a keyword not applied here: the match would accept too much. */
function onlyKeywords(schema: TSchema, allowed: ReadonlySet<string>): void {
  for (const key of Object.keys(schema)) {
    if (!allowed.has(key) && !ANNOTATIONS.has(key)) {
      throw new UnsupportedSchemaError(`${String(schema[Kind])} with ${key}`);
    }
  }
}

function numberBounds(schema: TSchema): ((value: number) => boolean) | undefined {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema as Record<string, unknown>;
  const lo = typeof minimum === 'number' ? minimum : Number.NEGATIVE_INFINITY;
  const hi = typeof maximum === 'number' ? maximum : Number.POSITIVE_INFINITY;
  const xlo = typeof exclusiveMinimum === 'number' ? exclusiveMinimum : Number.NEGATIVE_INFINITY;
  const xhi = typeof exclusiveMaximum === 'number' ? exclusiveMaximum : Number.POSITIVE_INFINITY;
  if (lo === Number.NEGATIVE_INFINITY && hi === Number.POSITIVE_INFINITY && xlo === lo && xhi === hi) {
    return undefined;
  }
  return (n) => n >= lo && n <= hi && n > xlo && n < xhi;
}

/**
 * An expression matching only canonical integers within the bounds, when a useful one is simple:
 * the integers of up to k digits, 0 to 10^k - 1 (and their negatives when the bounds allow), for
 * the largest such k. Longer integers do not match and take the slow path.
 */
function boundedInt(bounds: (value: number) => boolean): string | undefined {
  if (!bounds(0)) return undefined;
  let digits = 0;
  while (digits < 15 && bounds(10 ** (digits + 1) - 1)) digits += 1;
  if (digits === 0) return undefined;
  const negative = bounds(-(10 ** digits - 1)) ? '-?' : '';
  return digits === 1 ? `(?:0|${negative}[1-9])` : `(?:0|${negative}[1-9]\\d{0,${digits - 1}})`;
}

/** Strings of at least this maximum length are relaxed (see Compiler.slack); shorter ones keep their bound. */
const SLACK_MIN_LENGTH = 100;

/** The fewest characters a value of `schema` takes in a matched text. */
function minimalLength(schema: TSchema): number {
  switch (schema[Kind]) {
    case 'String':
      return (
        2 + (schema.format === 'uuid' ? 36 : typeof schema.minLength === 'number' ? schema.minLength : 0)
      );
    case 'Literal':
      return JSON.stringify(schema.const).length;
    case 'Union':
      return Math.min(...(schema.anyOf as TSchema[]).map(minimalLength));
    case 'Boolean':
      return 4;
    case 'Record':
      return 2;
    default:
      return 1;
  }
}

/** Builds the source of one expression, numbering capture groups and collecting residual checks. */
class Compiler {
  groups = 0;
  readonly residuals: Residual[] = [];
  /**
   * For each long string a relaxed expression writes without its maximum length (irregexp runs
   * `{n,}` much faster than `{n,m}`), the most characters it may hold beyond its minimum. See
   * Plan.slack.
   */
  readonly slack: number[] = [];

  /** With `relaxed`, long strings lose their maximum length in the expression (see `slack`). */
  constructor(private readonly relaxed: boolean) {}

  /** A group that captures `source`; its number. */
  private capture(source: string, check?: (value: string) => boolean): [string, number] {
    this.groups += 1;
    const group = this.groups;
    if (check !== undefined) this.residuals.push({ group, check });
    return [`(${source})`, group];
  }

  /**
   * The expression of a string; with `capture`, its content is a group (its number is returned).
   * An envelope value is checked by the caller after the match: its maximum length (in a relaxed
   * expression) and, for occurred_at, its format.
   */
  string(
    schema: TSchema,
    { capture = false, envelope }: { capture?: boolean; envelope?: string } = {},
  ): [string, number] {
    const ownLength = envelope !== undefined;
    const checkFormat = envelope !== 'occurred_at';
    onlyKeywords(schema, STRING_KEYWORDS);
    const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
    const max = typeof schema.maxLength === 'number' ? schema.maxLength : undefined;
    let check: ((value: string) => boolean) | undefined;
    let bound = max;
    if (this.relaxed && max !== undefined && (ownLength || max >= SLACK_MIN_LENGTH)) {
      bound = undefined;
      if (!ownLength) this.slack.push(max - min);
    }
    let body = `${CHAR}{${min},${bound ?? ''}}`;
    if (schema.format === 'uuid') {
      if (min > 36 || (max !== undefined && max < 36))
        throw new UnsupportedSchemaError('uuid of another length');
      body = UUID;
    } else if (schema.format !== undefined) {
      if (!FORMATS.has(schema.format as string)) throw new UnsupportedSchemaError(`format ${schema.format}`);
      if (checkFormat) {
        const format = FormatRegistry.Get(schema.format as string);
        if (format === undefined)
          throw new UnsupportedSchemaError(`format ${schema.format} is not registered`);
        check = format;
      }
    }
    if (check === undefined && !capture) return [`"${body}"`, 0];
    const [group, n] = this.capture(body, check);
    return [`"${group}"`, n];
  }

  /** The expression of a value of `schema`. */
  value(schema: TSchema): string {
    switch (schema[Kind]) {
      case 'String':
        return this.string(schema)[0];
      case 'Literal': {
        onlyKeywords(schema, new Set(['type', 'const']));
        const value: unknown = schema.const;
        if (typeof value === 'string' && plainString(value)) return `"${escapeRegExp(value)}"`;
        if (
          typeof value === 'number' &&
          Number.isInteger(value) &&
          Math.abs(value) < 1e15 &&
          !Object.is(value, -0)
        ) {
          return escapeRegExp(String(value));
        }
        throw new UnsupportedSchemaError(`literal ${JSON.stringify(value)}`);
      }
      case 'Union': {
        onlyKeywords(schema, new Set(['anyOf']));
        const before = this.groups;
        const members = (schema.anyOf as TSchema[]).map((member) => this.value(member));
        if (this.groups !== before)
          throw new UnsupportedSchemaError('a union with a member checked after the match');
        return `(?:${members.join('|')})`;
      }
      case 'Integer':
      case 'Number': {
        // Only canonical integers match; a fraction or an exponent is left to the slow path.
        onlyKeywords(schema, NUMBER_KEYWORDS);
        const bounds = numberBounds(schema);
        const within = bounds === undefined ? undefined : boundedInt(bounds);
        if (within === undefined) throw new UnsupportedSchemaError('a number without bounds around 0');
        return within;
      }
      case 'Record': {
        // A flat map, then checked as parsed: JSON.parse + TypeBox, and written as JSON.stringify
        // would write it (which also rules out a key given twice or keys JSON.parse reorders).
        // Compiled on first use: most events carry no map.
        let check: TypeCheck<TSchema> | undefined;
        return this.capture(FLAT_MAP, (text) => {
          const value: unknown = JSON.parse(text);
          check ??= TypeCompiler.Compile(schema);
          return JSON.stringify(value) === text && check.Check(value);
        })[0];
      }
      default:
        throw new UnsupportedSchemaError(`kind ${String(schema[Kind])}`);
    }
  }
}

const ENVELOPE = ['event_id', 'user_id', 'occurred_at'] as const;

/** The length of every text the value expression of `schema` matches, when it is always the same. */
function fixedLength(schema: TSchema): number | undefined {
  const fixed = schema[Kind] === 'Literal' || (schema[Kind] === 'String' && schema.format === 'uuid');
  return fixed ? minimalLength(schema) : undefined;
}

/** The plan of one schema; throws an UnsupportedSchemaError for a schema the compiler does not cover. */
function planOf(entry: PatternEntry): Plan {
  const relaxed = compileEntry(entry, true);
  // Needed only for the rare match too long for the slack proof: compiled then.
  let strict: RegExp | undefined;
  const strictPattern = () => {
    strict ??= compileEntry(entry, false).pattern;
    return strict;
  };
  return { ...relaxed, strict: strictPattern };
}

function maxLength(schema: TSchema | undefined): number {
  return typeof schema?.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
}

/** The plan of one schema with a strict or a relaxed pattern (see Plan.slack). */
function compileEntry(entry: PatternEntry, relaxed: boolean): Omit<Plan, 'strict'> {
  const { schema } = entry;
  const required = new Set(schema.required ?? []);
  const compiler = new Compiler(relaxed);
  let minimal = 2;
  const groups: Record<string, number> = {};
  const members: string[] = [];
  let typeOffset = -1;
  // Where the next member starts: a constant plus the lengths of captured values before it, while known.
  let position: { offset: number; after: number[] } | undefined = { offset: 1, after: [] };
  let occurredAt: Plan['occurredAt'] | undefined;

  let current = '';
  try {
    for (const [name, field] of Object.entries(schema.properties) as [string, TSchema][]) {
      current = name;
      if (!plainString(name) || /^[0-9]/.test(name) || name === '__proto__') {
        throw new UnsupportedSchemaError('a field name JSON.stringify escapes or reorders');
      }
      const key = `"${escapeRegExp(name)}":`;
      const separator = members.length === 0 ? 0 : 1;
      if (name === 'event_type' && position !== undefined && position.after.length === 0) {
        typeOffset = position.offset + separator + name.length + 3;
      }
      const envelope = (ENVELOPE as readonly string[]).includes(name);
      if (envelope) {
        if (!required.has(name) || field[Kind] !== 'String')
          throw new UnsupportedSchemaError(`envelope ${name}`);
        if (name === 'occurred_at' && field.format !== 'date-time') {
          throw new UnsupportedSchemaError('occurred_at not a date-time');
        }
        // occurred_at is read where it sits when that is known, else captured; either way checked after the match.
        const inPlace = name === 'occurred_at' && position !== undefined;
        const [source, group] = compiler.string(field, { capture: !inPlace, envelope: name });
        if (name === 'occurred_at') {
          occurredAt = inPlace
            ? {
                offset: (position?.offset ?? 0) + separator + name.length + 4,
                after: [...(position?.after ?? [])],
              }
            : { group };
        } else {
          groups[name] = group;
        }
        members.push(`${members.length === 0 ? '' : ','}${key}${source}`);
      } else if (required.has(name)) {
        members.push(`${members.length === 0 ? '' : ','}${key}${compiler.value(field)}`);
      } else {
        if (members.length === 0) throw new UnsupportedSchemaError('an optional first field');
        members.push(`(?:,${key}${compiler.value(field)})?`);
      }
      if (required.has(name)) minimal += separator + name.length + 3 + minimalLength(field);
      const length = fixedLength(field);
      if (position !== undefined && required.has(name) && length !== undefined) {
        position.offset += separator + name.length + 3 + length;
      } else if (position !== undefined && groups[name] !== undefined) {
        position.offset += separator + name.length + 5;
        position.after.push(groups[name] as number);
      } else {
        position = undefined;
      }
    }
  } catch (error) {
    if (!(error instanceof UnsupportedSchemaError)) throw error;
    throw new UnsupportedSchemaError(
      `${entry.type}.v${entry.version}, field ${current}: ${error.message} is not covered by the text patterns; extend lib/schemas/text-pattern.ts`,
    );
  }
  const source = `\\{${members.join('')}\\}`;
  const typeField = schema.properties.event_type as TSchema | undefined;
  const typeText = typeField?.[Kind] === 'Literal' ? `${JSON.stringify(typeField.const)}` : '';
  return {
    type: entry.type,
    version: entry.version,
    pattern: new RegExp(source, 'y'),
    typeOffset: typeText === '' ? -1 : typeOffset,
    typeText,
    residuals: compiler.residuals,
    eventIdGroup: groups.event_id as number,
    userIdGroup: groups.user_id as number,
    occurredAt: occurredAt as Plan['occurredAt'],
    eventIdMax: maxLength(schema.properties.event_id),
    userIdMax: maxLength(schema.properties.user_id),
    occurredAtMax: maxLength(schema.properties.occurred_at),
    minimal,
    slack: Math.min(...compiler.slack),
  };
}

/**
 * Matches events in JSON text against every schema of a table. One instance serves every event;
 * the schema that matched last is tried first. Building one compiles every schema's pattern and
 * throws an UnsupportedSchemaError for a schema the compiler does not cover.
 */
export class EventPatterns {
  private readonly plans: Plan[];
  private last = 0;

  constructor(entries: readonly PatternEntry[]) {
    this.plans = entries.map(planOf);
  }

  /** The (type, version) pairs the patterns match. */
  covered(): { type: string; version: number }[] {
    return this.plans.map(({ type, version }) => ({ type, version }));
  }

  /** The source of the expression of (type, version), for the docs and the tests. */
  source(type: string, version: number): string | undefined {
    return this.plans.find((plan) => plan.type === type && plan.version === version)?.pattern.source;
  }

  /**
   * Matches the event that starts at `at`: its envelope and end when it is valid and written as
   * JSON.stringify writes it (see the module comment), else undefined ("not decided here").
   */
  match(text: string, at: number): PatternMatch | undefined {
    const plans = this.plans;
    const count = plans.length;
    for (let k = 0; k < count; k++) {
      const index = (this.last + k) % count;
      const plan = plans[index] as Plan;
      if (plan.typeOffset >= 0 && !text.startsWith(plan.typeText, at + plan.typeOffset)) continue;
      const pattern = plan.pattern;
      pattern.lastIndex = at;
      const groups = pattern.exec(text);
      if (groups === null) continue;
      for (const residual of plan.residuals) {
        const value = groups[residual.group];
        // An optional field left out has no value to check.
        if (value !== undefined && !residual.check(value)) return undefined;
      }
      const end = pattern.lastIndex;
      if (end - at - plan.minimal > plan.slack) {
        const strict = plan.strict();
        strict.lastIndex = at;
        if (!strict.test(text)) return undefined;
      }
      const eventId = groups[plan.eventIdGroup] as string;
      const userId = groups[plan.userIdGroup] as string;
      if (eventId.length > plan.eventIdMax || userId.length > plan.userIdMax) return undefined;
      // occurred_at: checked as a date-time (the registry's format) and read in epoch milliseconds.
      const where = plan.occurredAt;
      let occurredMs: number | undefined;
      if ('group' in where) {
        const value = groups[where.group] as string;
        occurredMs = value.length > plan.occurredAtMax ? undefined : dateTimeMillisAt(value, 0, value.length);
      } else {
        let start = at + where.offset;
        for (const group of where.after) start += (groups[group] as string).length;
        const stop = text.indexOf('"', start);
        occurredMs = stop - start > plan.occurredAtMax ? undefined : dateTimeMillisAt(text, start, stop);
      }
      if (occurredMs === undefined) return undefined;
      this.last = index;
      return { end, type: plan.type, version: plan.version, eventId, userId, occurredMs };
    }
    return undefined;
  }
}
