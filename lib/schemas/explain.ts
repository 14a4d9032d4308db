import { KindGuard, type TSchema, type TUnion } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { isDateTime, isUuid } from './formats';
import { INT32_MAX } from './registry';

/** One validation problem: a JSON pointer into the event ("" for the event itself) and a human message. */
export interface FieldError {
  path: string;
  message: string;
}

/** The most errors reported for one event; the last slot says how many more there were. */
export const MAX_ERRORS = 10;

const FORMAT_HINTS: Record<string, { noun: string; check: (v: string) => boolean }> = {
  uuid: { noun: 'a UUID like "0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90"', check: isUuid },
  'date-time': {
    noun: 'an RFC 3339 date-time with offset, like "2025-03-01T12:30:00.000Z"',
    check: isDateTime,
  },
};

/** Shows a received value in a message: short JSON for scalars, a noun for containers. */
export function show(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    return value.length > 60 ? `${shown} (${value.length} characters)` : shown;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

/** Escapes a property name into a JSON pointer segment (RFC 6901). */
export function pointer(parent: string, key: string): string {
  if (!key.includes('~') && !key.includes('/')) return `${parent}/${key}`;
  return `${parent}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function integerNoun(schema: TSchema): string {
  const parts = ['an integer'];
  if (typeof schema.minimum === 'number') parts.push(`>= ${schema.minimum}`);
  if (typeof schema.maximum === 'number' && schema.maximum !== INT32_MAX) parts.push(`<= ${schema.maximum}`);
  return parts.join(' ');
}

function literalList(schemas: TSchema[]): string | undefined {
  if (!schemas.every((s) => KindGuard.IsLiteral(s))) return undefined;
  return schemas.map((s) => JSON.stringify(s.const)).join(', ');
}

/** A noun phrase for what a schema accepts, used in "must be ..." messages. */
export function expectation(schema: TSchema): string {
  if (KindGuard.IsString(schema)) {
    const format = schema.format === undefined ? undefined : FORMAT_HINTS[schema.format];
    return format ? format.noun : 'a string';
  }
  if (KindGuard.IsInteger(schema)) return integerNoun(schema);
  if (KindGuard.IsNumber(schema)) return 'a number';
  if (KindGuard.IsBoolean(schema)) return 'a boolean';
  if (KindGuard.IsLiteral(schema)) return JSON.stringify(schema.const);
  if (KindGuard.IsUnion(schema)) {
    const literals = literalList(schema.anyOf);
    if (literals !== undefined) return `one of ${literals}`;
    const nouns = schema.anyOf.map(expectation);
    return nouns.length <= 2 ? nouns.join(' or ') : `${nouns.slice(0, -1).join(', ')} or ${nouns.at(-1)}`;
  }
  if (KindGuard.IsRecord(schema) || KindGuard.IsObject(schema)) return 'an object';
  return 'a value matching the schema';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function explainString(schema: TSchema, value: unknown, path: string, out: FieldError[]): void {
  const format = schema.format === undefined ? undefined : FORMAT_HINTS[schema.format];
  if (typeof value !== 'string') {
    out.push({ path, message: `must be ${expectation(schema)}, got ${show(value)}` });
  } else if (typeof schema.minLength === 'number' && value.length < schema.minLength) {
    out.push({
      path,
      message: value.length === 0 ? 'must not be empty' : `must be at least ${schema.minLength} characters`,
    });
  } else if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) {
    out.push({
      path,
      message: `must be at most ${schema.maxLength} characters, got ${value.length}`,
    });
  } else if (format && !format.check(value)) {
    out.push({ path, message: `must be ${format.noun}, got ${show(value)}` });
  } else if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) {
    out.push({ path, message: `must match ${schema.pattern}, got ${show(value)}` });
  }
}

function explainNumber(schema: TSchema, value: unknown, path: string, out: FieldError[]): void {
  const integer = KindGuard.IsInteger(schema);
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (typeof schema.minimum !== 'number' || value >= schema.minimum);
  if (!ok) {
    out.push({ path, message: `must be ${expectation(schema)}, got ${show(value)}` });
  } else if (typeof schema.maximum === 'number' && value > schema.maximum) {
    out.push({ path, message: `must be <= ${schema.maximum}, got ${value}` });
  }
}

function explainRecord(schema: TSchema, value: unknown, path: string, out: FieldError[]): void {
  if (!isPlainObject(value)) {
    out.push({
      path,
      message: `must be an object of name -> ${expectation(recordValue(schema))}, got ${show(value)}`,
    });
    return;
  }
  const [pattern, valueSchema] = Object.entries(schema.patternProperties as Record<string, TSchema>)[0] ?? [];
  const keys = Object.keys(value);
  if (typeof schema.maxProperties === 'number' && keys.length > schema.maxProperties) {
    out.push({ path, message: `must have at most ${schema.maxProperties} entries, got ${keys.length}` });
  }
  const keyPattern = pattern === undefined ? undefined : new RegExp(pattern);
  for (const key of keys) {
    if (keyPattern && !keyPattern.test(key)) {
      out.push({ path: pointer(path, key), message: `name must match ${pattern}` });
    } else if (valueSchema) {
      explainValue(valueSchema, value[key], pointer(path, key), out);
    }
  }
}

function recordValue(schema: TSchema): TSchema {
  return Object.values(schema.patternProperties as Record<string, TSchema>)[0] ?? schema;
}

/** Per-caller wording, e.g. collect explains that server-set fields must not be sent. */
export interface ObjectHints {
  unknownField?: (key: string) => string;
}

const DEFAULT_UNKNOWN = 'unknown field; add it to the schema (optional) or publish a new version';

/** An object schema's fields and required set, read once per schema. */
interface ObjectShape {
  fields: [string, TSchema][];
  required: Set<string>;
  properties: Record<string, TSchema>;
}

const shapes = new WeakMap<TSchema, ObjectShape>();

function shapeOf(schema: TSchema): ObjectShape {
  let shape = shapes.get(schema);
  if (shape === undefined) {
    const properties = (schema.properties ?? {}) as Record<string, TSchema>;
    shape = {
      fields: Object.entries(properties),
      required: new Set<string>((schema.required as string[] | undefined) ?? []),
      properties,
    };
    shapes.set(schema, shape);
  }
  return shape;
}

/** Appends one error per problem of an object value against an object schema, in schema field order. */
export function explainObject(
  schema: TSchema,
  value: Record<string, unknown>,
  path: string,
  out: FieldError[],
  hints: ObjectHints = {},
): void {
  const { fields, required, properties } = shapeOf(schema);
  for (const [key, fieldSchema] of fields) {
    const field = Object.hasOwn(value, key) ? value[key] : undefined;
    if (field === undefined) {
      if (required.has(key)) out.push({ path: pointer(path, key), message: 'is required' });
    } else if (!conforms(fieldSchema, field)) {
      explainProblems(fieldSchema, field, pointer(path, key), out);
    }
  }
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(properties, key)) {
        out.push({ path: pointer(path, key), message: hints.unknownField?.(key) ?? DEFAULT_UNKNOWN });
      }
    }
  }
}

/** Compiled checks of the field schemas explained so far (compiled on first use). */
const fieldChecks = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** True when `value` conforms to `schema`, by TypeBox's compiled check: nothing to explain then. */
function conforms(schema: TSchema, value: unknown): boolean {
  let check = fieldChecks.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    fieldChecks.set(schema, check);
  }
  return check.Check(value);
}

/** Appends the problems of `value` against `schema` to `out`; nothing when it conforms. */
export function explainValue(schema: TSchema, value: unknown, path: string, out: FieldError[]): void {
  // Most fields of a rejected event are fine: one compiled check instead of building messages.
  if (!conforms(schema, value)) explainProblems(schema, value, path, out);
}

/** Appends the problems of `value`, known not to conform to `schema`, to `out`. */
function explainProblems(schema: TSchema, value: unknown, path: string, out: FieldError[]): void {
  if (KindGuard.IsString(schema)) {
    explainString(schema, value, path, out);
  } else if (KindGuard.IsInteger(schema) || KindGuard.IsNumber(schema)) {
    explainNumber(schema, value, path, out);
  } else if (KindGuard.IsBoolean(schema)) {
    if (typeof value !== 'boolean') out.push({ path, message: `must be a boolean, got ${show(value)}` });
  } else if (KindGuard.IsLiteral(schema)) {
    if (value !== schema.const)
      out.push({ path, message: `must be ${expectation(schema)}, got ${show(value)}` });
  } else if (KindGuard.IsUnion(schema)) {
    explainUnion(schema, value, path, out);
  } else if (KindGuard.IsArray(schema)) {
    if (!Array.isArray(value)) out.push({ path, message: `must be an array, got ${show(value)}` });
    else for (const [i, item] of value.entries()) explainValue(schema.items, item, `${path}/${i}`, out);
  } else if (KindGuard.IsRecord(schema)) {
    explainRecord(schema, value, path, out);
  } else if (KindGuard.IsObject(schema)) {
    if (isPlainObject(value)) explainObject(schema, value, path, out);
    else out.push({ path, message: `must be an object, got ${show(value)}` });
  } else {
    out.push({ path, message: `must be ${expectation(schema)}, got ${show(value)}` });
  }
}

function explainUnion(schema: TUnion, value: unknown, path: string, out: FieldError[]): void {
  const branches = schema.anyOf;
  const probes = branches.map((branch) => {
    const probe: FieldError[] = [];
    explainValue(branch, value, path, probe);
    return probe;
  });
  if (probes.some((probe) => probe.length === 0)) return;
  // When exactly one branch has the value's JSON type (e.g. a too-long string), its problem says the most.
  const sameType = branches.findIndex((b) => b.type === jsonType(value));
  const lastSameType = branches.findLastIndex((b) => b.type === jsonType(value));
  const best = sameType === lastSameType ? probes[sameType] : undefined;
  if (best) out.push(...best);
  else
    out.push({
      path,
      message: `must be ${expectation(schema)}, got ${show(value)}`,
    });
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Caps a list of errors at MAX_ERRORS, replacing the overflow with one "N more problems" entry. */
export function capErrors(errors: FieldError[]): FieldError[] {
  if (errors.length <= MAX_ERRORS) return errors;
  const shown = errors.slice(0, MAX_ERRORS - 1);
  shown.push({ path: '', message: `${errors.length - shown.length} more problems not shown` });
  return shown;
}
