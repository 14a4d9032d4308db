import type { Static, TObject, TSchema } from '@sinclair/typebox';
import * as Tb from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { type Column, columnsOf } from './columns';
import { capErrors, explainObject, type FieldError, type ObjectHints, show } from './explain';
import { registerFormats } from './formats';
import { EVENT_TYPES, type EventType, type Registry, registry, serverFields } from './registry';
import { EventPatterns, type PatternEntry } from './text-pattern';

export type { Column } from './columns';
export type { FieldError } from './explain';
export { EVENT_TYPES, type EventType } from './registry';
export { EventPatterns, type PatternMatch, UnsupportedSchemaError } from './text-pattern';

/** An event as the client sends it (no received_at / request_id), discriminated by event_type. */
export type ClientEvent = {
  [T in EventType]: Registry[T][keyof Registry[T]] extends infer S extends TSchema ? Static<S> : never;
}[EventType];

/** An event as collect stores it: the client event plus the fields collect adds. */
export type StoredEvent = ClientEvent & { received_at: string; request_id: string };

/** The client event of one type, e.g. `EventOf<'click'>`. */
export type EventOf<T extends EventType> = Extract<ClientEvent, { event_type: T }>;

/** The outcome of a validation: the typed event, or every problem found (capped). */
export type ValidationResult<T> = { ok: true; event: T } | { ok: false; errors: FieldError[] };

/** Raised when a caller asks for a (type, version) the registry does not have. */
export class UnknownSchemaError extends Error {
  override name = 'UnknownSchemaError';
}

interface Entry {
  schema: TObject;
  /** TypeBox's compiled check, compiled on first use. */
  check: TypeCheck<TObject>;
}

type Table = Map<string, Map<number, Entry>>;

registerFormats();

/**
 * The stored schema of a client schema: the client's fields, then collect's (`serverFields`), in
 * the order collect writes a stored line (it appends its fields to the client's text). This one
 * order is the line's, the stored patterns' and the columns'.
 */
function storedSchema(client: TObject): TObject {
  return Tb.Object(
    { ...client.properties, ...serverFields },
    { $id: `${client.$id}.stored`, additionalProperties: false },
  );
}

/** An entry whose check is compiled when first used (a function that never validates stored events never compiles them). */
function lazyEntry(schema: TObject): Entry {
  let check: TypeCheck<TObject> | undefined;
  return {
    schema,
    get check() {
      check ??= TypeCompiler.Compile(schema);
      return check;
    },
  };
}

function buildTables(): { client: Table; stored: Table } {
  const client: Table = new Map();
  const stored: Table = new Map();
  for (const type of EVENT_TYPES) {
    const versions: Record<number, TObject> = registry[type];
    const clientVersions = new Map<number, Entry>();
    const storedVersions = new Map<number, Entry>();
    for (const [key, schema] of Object.entries(versions)) {
      const version = Number(key);
      clientVersions.set(version, lazyEntry(schema));
      storedVersions.set(version, lazyEntry(storedSchema(schema)));
    }
    client.set(type, clientVersions);
    stored.set(type, storedVersions);
  }
  return { client, stored };
}

// Built once at module load; the checks are compiled on first use, then the hot path only looks up
// and runs a generated function.
const tables = buildTables();

/** Every (type, version) of a table with its schema, for the text patterns. */
function entriesOf(table: Table): PatternEntry[] {
  return [...table].flatMap(([type, versions]) =>
    [...versions].map(([version, entry]) => ({ type, version, schema: entry.schema })),
  );
}

const KNOWN_TYPES = EVENT_TYPES.join(', ');
const CLIENT_HINTS: ObjectHints = {
  unknownField: (key) =>
    Object.hasOwn(serverFields, key)
      ? 'is set by collect; clients must not send it'
      : 'unknown field; add it to the schema (optional) or publish a new version',
};

function knownVersions(versions: Map<number, Entry>): string {
  return [...versions.keys()].sort((a, b) => a - b).join(', ');
}

function fail(errors: FieldError[]): { ok: false; errors: FieldError[] } {
  return { ok: false, errors: capErrors(errors) };
}

function validate<T>(input: unknown, table: Table, hints: ObjectHints): ValidationResult<T> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return fail([{ path: '', message: `must be a JSON object, got ${show(input)}` }]);
  }
  const event = input as Record<string, unknown>;
  const type = event.event_type;
  const versions = typeof type === 'string' ? table.get(type) : undefined;
  if (versions === undefined) {
    const message =
      type === undefined
        ? `is required; known types: ${KNOWN_TYPES}`
        : typeof type === 'string'
          ? `unknown event type ${show(type)}; known types: ${KNOWN_TYPES}`
          : `must be one of the known types ${KNOWN_TYPES}, got ${show(type)}`;
    return fail([{ path: '/event_type', message }]);
  }
  const version = event.schema_version;
  const entry = typeof version === 'number' ? versions.get(version) : undefined;
  if (entry === undefined) {
    const known = knownVersions(versions);
    const message =
      version === undefined
        ? `is required; known versions of ${type}: ${known}`
        : Number.isInteger(version)
          ? `unknown version ${version} of ${type}; known versions: ${known}`
          : `must be an integer, got ${show(version)}; known versions of ${type}: ${known}`;
    return fail([{ path: '/schema_version', message }]);
  }
  if (entry.check.Check(event)) return { ok: true, event: event as T };
  const errors: FieldError[] = [];
  explainObject(entry.schema, event, '', errors, hints);
  if (errors.length === 0) {
    // Safety net: the compiled check is the authority; fall back to TypeBox's own wording.
    for (const e of entry.check.Errors(event)) errors.push({ path: e.path, message: e.message });
  }
  return fail(errors);
}

/** Validates one event as sent by a client (hot path of collect). Unknown fields are rejected. */
export function validateClientEvent(input: unknown): ValidationResult<ClientEvent> {
  return validate<ClientEvent>(input, tables.client, CLIENT_HINTS);
}

/** Validates one event as stored by collect (with received_at and request_id), e.g. in the formatter. */
export function validateStoredEvent(input: unknown): ValidationResult<StoredEvent> {
  return validate<StoredEvent>(input, tables.stored, {});
}

/**
 * Matchers of client events in JSON text, compiled from the registry (see text-pattern.ts): what
 * they accept is exactly what validateClientEvent accepts of events written as JSON.stringify
 * writes them, in the schema's field order. Throws an UnsupportedSchemaError at start-up for a
 * schema the compiler does not cover.
 */
export function clientEventPatterns(): EventPatterns {
  return new EventPatterns(entriesOf(tables.client));
}

/**
 * Matchers of stored lines (the formatter's fast path): what they accept is exactly what
 * validateStoredEvent accepts of lines as collect writes them, the client's fields in the schema's
 * order and then received_at and request_id.
 */
export function storedEventPatterns(): EventPatterns {
  return new EventPatterns(entriesOf(tables.stored));
}

/** True when the registry has this (type, version). */
export function isKnown(type: string, version: unknown): boolean {
  return typeof version === 'number' && tables.client.get(type)?.has(version) === true;
}

function entryOf(table: Table, type: string, version: number): Entry {
  const entry = table.get(type)?.get(version);
  if (entry === undefined) {
    const versions = table.get(type);
    throw new UnknownSchemaError(
      versions === undefined
        ? `unknown event type "${type}"; known types: ${KNOWN_TYPES}`
        : `unknown version ${version} of ${type}; known versions: ${knownVersions(versions)}`,
    );
  }
  return entry;
}

const columnCache = new Map<string, Column[]>();

/** Columns of the stored events of (type, version), envelope first, in a stable order; for Parquet and Glue. */
export function columns(type: EventType, version: number): Column[] {
  const key = `${type}.v${version}`;
  let cached = columnCache.get(key);
  if (cached === undefined) {
    cached = columnsOf(entryOf(tables.stored, type, version).schema);
    columnCache.set(key, cached);
  }
  return cached.map((c) => ({ ...c }));
}

/** The JSON Schema of (type, version): the client shape, or the stored one with `stored: true`. */
export function jsonSchema(type: EventType, version: number, options: { stored?: boolean } = {}): TObject {
  return entryOf(options.stored ? tables.stored : tables.client, type, version).schema;
}

/** Every (type, version) in the registry with its stored columns; `latest` marks the newest version of a type. */
export function listSchemas(): { type: EventType; version: number; latest: boolean; fields: Column[] }[] {
  return EVENT_TYPES.flatMap((type) => {
    const versions = [...(tables.client.get(type)?.keys() ?? [])].sort((a, b) => a - b);
    const latest = versions.at(-1);
    return versions.map((version) => ({
      type,
      version,
      latest: version === latest,
      fields: columns(type, version),
    }));
  });
}
