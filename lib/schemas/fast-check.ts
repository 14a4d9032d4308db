import { FormatRegistry, Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { TypeSystemPolicy } from '@sinclair/typebox/system';

/**
 * A second compiler for the part of TypeBox the registry uses (Object, Record, String, Literal,
 * Union, Integer, Number, Boolean), giving the same answers as TypeCompiler's Check with less
 * work per call: each property is read once into a local, format functions are bound when the
 * check is built (not looked up in FormatRegistry on every call), and the first failed test
 * returns. The tests compare both compilers on generated and mutated events. A schema using
 * anything else, or a non-default TypeSystemPolicy, is left to TypeBox (compileCheck answers
 * undefined).
 */

type Predicate = (value: unknown) => boolean;

class UnsupportedSchemaError extends Error {
  override name = 'UnsupportedSchemaError';
}

/** The constants (regular expressions, format functions) and helper functions of one generated check. */
class Unit {
  readonly names: string[] = [];
  readonly values: unknown[] = [];
  readonly helpers: string[] = [];
  private locals = 0;

  constant(value: unknown): string {
    const found = this.values.indexOf(value);
    if (found >= 0) return this.names[found] as string;
    const name = `c${this.values.length}`;
    this.names.push(name);
    this.values.push(value);
    return name;
  }

  local(): string {
    this.locals += 1;
    return `v${this.locals}`;
  }

  /** Adds a helper function (its name reserved before its body is built, which may add more). */
  helper(body: (name: string) => string): string {
    const slot = this.helpers.length;
    const name = `h${slot}`;
    this.helpers.push('');
    this.helpers[slot] = body(name);
    return name;
  }
}

function numberBounds(schema: TSchema, v: string): string[] {
  const tests: string[] = [];
  if (typeof schema.exclusiveMaximum === 'number') tests.push(`${v} < ${schema.exclusiveMaximum}`);
  if (typeof schema.exclusiveMinimum === 'number') tests.push(`${v} > ${schema.exclusiveMinimum}`);
  if (typeof schema.maximum === 'number') tests.push(`${v} <= ${schema.maximum}`);
  if (typeof schema.minimum === 'number') tests.push(`${v} >= ${schema.minimum}`);
  if (typeof schema.multipleOf === 'number') tests.push(`(${v} % ${schema.multipleOf}) === 0`);
  return tests;
}

function propertyCountTests(schema: TSchema, v: string): string[] {
  const tests: string[] = [];
  if (typeof schema.minProperties === 'number') {
    tests.push(`Object.getOwnPropertyNames(${v}).length >= ${schema.minProperties}`);
  }
  if (typeof schema.maxProperties === 'number') {
    tests.push(`Object.getOwnPropertyNames(${v}).length <= ${schema.maxProperties}`);
  }
  return tests;
}

/** A JS expression, true when the value in variable `v` (read once) is valid against `schema`. */
function expression(unit: Unit, schema: TSchema, v: string): string {
  switch (schema[Kind]) {
    case 'String': {
      const tests = [`typeof ${v} === 'string'`];
      if (typeof schema.maxLength === 'number') tests.push(`${v}.length <= ${schema.maxLength}`);
      if (typeof schema.minLength === 'number') tests.push(`${v}.length >= ${schema.minLength}`);
      if (schema.pattern !== undefined) tests.push(`${unit.constant(new RegExp(schema.pattern))}.test(${v})`);
      if (schema.format !== undefined) {
        const check = FormatRegistry.Get(schema.format);
        if (check === undefined)
          throw new UnsupportedSchemaError(`format ${schema.format} is not registered`);
        tests.push(`${unit.constant(check)}(${v})`);
      }
      return `(${tests.join(' && ')})`;
    }
    case 'Literal': {
      const value: unknown = schema.const;
      if (typeof value === 'string') return `(${v} === ${JSON.stringify(value)})`;
      if (typeof value === 'number' || typeof value === 'boolean') return `(${v} === ${String(value)})`;
      throw new UnsupportedSchemaError('a literal that is not a string, number or boolean');
    }
    case 'Union':
      return `(${(schema.anyOf as TSchema[]).map((member) => expression(unit, member, v)).join(' || ')})`;
    case 'Integer':
      return `(${[`Number.isInteger(${v})`, ...numberBounds(schema, v)].join(' && ')})`;
    case 'Number':
      return `(${[`Number.isFinite(${v})`, ...numberBounds(schema, v)].join(' && ')})`;
    case 'Boolean':
      return `(typeof ${v} === 'boolean')`;
    case 'Object':
      return `${unit.helper((name) => `function ${name}(value) {\n${objectStatements(unit, schema as TObject)}\n}`)}(${v})`;
    case 'Record':
      return `${unit.helper((name) => `function ${name}(value) {\n${recordStatements(unit, schema)}\n}`)}(${v})`;
    default:
      throw new UnsupportedSchemaError(`kind ${String(schema[Kind])}`);
  }
}

/** The body of a function of `value` answering whether it is valid against an object schema. */
function objectStatements(unit: Unit, schema: TObject): string {
  const lines = [`if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;`];
  for (const test of propertyCountTests(schema, 'value')) lines.push(`if (!(${test})) return false;`);
  const keys = Object.getOwnPropertyNames(schema.properties);
  const required = new Set(schema.required ?? []);
  for (const key of keys) {
    const v = unit.local();
    const test = expression(unit, schema.properties[key] as TSchema, v);
    lines.push(`const ${v} = value[${JSON.stringify(key)}];`);
    lines.push(
      required.has(key) ? `if (!${test}) return false;` : `if (${v} !== undefined && !${test}) return false;`,
    );
  }
  if (schema.additionalProperties === false) {
    if (keys.every((key) => required.has(key))) {
      lines.push(`if (Object.getOwnPropertyNames(value).length !== ${keys.length}) return false;`);
    } else {
      const known = keys.map((key) => `key !== ${JSON.stringify(key)}`).join(' && ');
      lines.push(`for (const key of Object.getOwnPropertyNames(value)) if (${known}) return false;`);
    }
  } else if (schema.additionalProperties !== undefined && schema.additionalProperties !== true) {
    throw new UnsupportedSchemaError('additionalProperties as a schema');
  }
  lines.push('return true;');
  return lines.join('\n');
}

/** The body of a function of `value` answering whether it is valid against a record schema. */
function recordStatements(unit: Unit, schema: TSchema): string {
  const patterns = Object.entries((schema.patternProperties ?? {}) as Record<string, TSchema>);
  if (patterns.length !== 1) throw new UnsupportedSchemaError('a record without exactly one key pattern');
  const [pattern, member] = patterns[0] as [string, TSchema];
  const lines = [
    `if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date || value instanceof Uint8Array) return false;`,
  ];
  for (const test of propertyCountTests(schema, 'value')) lines.push(`if (!(${test})) return false;`);
  let additional: string;
  if (schema.additionalProperties === false) additional = 'false';
  else if (schema.additionalProperties === undefined || schema.additionalProperties === true)
    additional = 'true';
  else additional = expression(unit, schema.additionalProperties as TSchema, 'item');
  const test = expression(unit, member, 'item');
  lines.push(`for (const [key, item] of Object.entries(value)) {`);
  lines.push(
    `  if (!(${unit.constant(new RegExp(pattern))}.test(key) ? ${test} : ${additional})) return false;`,
  );
  lines.push('}');
  lines.push('return true;');
  return lines.join('\n');
}

/** True when a TypeSystemPolicy this compiler does not follow is on (TypeBox then answers alone). */
function nonDefaultPolicy(): boolean {
  return (
    TypeSystemPolicy.ExactOptionalPropertyTypes ||
    TypeSystemPolicy.AllowArrayObject ||
    TypeSystemPolicy.AllowNaN
  );
}

/**
 * Compiles an object schema to a predicate with the same answers as
 * `TypeCompiler.Compile(schema).Check`, or undefined when the schema uses a part of TypeBox this
 * compiler does not cover. Format functions are taken from FormatRegistry now.
 */
export function compileCheck(schema: TObject): Predicate | undefined {
  if (nonDefaultPolicy()) return undefined;
  const unit = new Unit();
  let body: string;
  try {
    body = objectStatements(unit, schema);
  } catch (error) {
    if (error instanceof UnsupportedSchemaError) return undefined;
    throw error;
  }
  const source = `${unit.helpers.join('\n')}\nreturn function check(value) {\n${body}\n};`;
  return new Function(...unit.names, source)(...unit.values) as Predicate;
}

/** One (event type, version) of a table of checks. */
export interface TableEntry {
  type: string;
  version: number;
  schema: TObject;
}

/**
 * One predicate for a whole table of schemas: true when `value` is an object whose `event_type`
 * and `schema_version` name an entry and the value is valid against that entry's schema (the
 * lookup validate() does, then the check, in one monomorphic function). Undefined when a schema
 * is not covered by this compiler.
 */
export function compileTableCheck(entries: readonly TableEntry[]): Predicate | undefined {
  if (nonDefaultPolicy()) return undefined;
  const unit = new Unit();
  const byType = new Map<string, string[]>();
  try {
    for (const { type, version, schema } of entries) {
      const helper = unit.helper((name) => `function ${name}(value) {\n${objectStatements(unit, schema)}\n}`);
      const cases = byType.get(type) ?? [];
      cases.push(`case ${JSON.stringify(version)}: return ${helper}(value);`);
      byType.set(type, cases);
    }
  } catch (error) {
    if (error instanceof UnsupportedSchemaError) return undefined;
    throw error;
  }
  const switches = [...byType.entries()].map(
    ([type, cases]) =>
      `case ${JSON.stringify(type)}:\nswitch (value.schema_version) {\n${cases.join('\n')}\n}\nreturn false;`,
  );
  const body = [
    `if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;`,
    `switch (value.event_type) {\n${switches.join('\n')}\n}`,
    'return false;',
  ].join('\n');
  const source = `${unit.helpers.join('\n')}\nreturn function check(value) {\n${body}\n};`;
  return new Function(...unit.names, source)(...unit.values) as Predicate;
}
