import { Kind, KindGuard, type TObject, type TSchema } from '@sinclair/typebox';
import { INT32_MAX } from './registry';

/** A column of the Parquet files and Glue tables of one (type, version). */
export interface Column {
  name: string;
  type: 'string' | 'int' | 'bigint' | 'double' | 'boolean' | 'timestamp' | 'map<string,string>';
  required: boolean;
  description?: string;
}

/** Raised when a schema uses a field shape that has no column mapping yet. */
export class UnsupportedColumnError extends Error {
  override name = 'UnsupportedColumnError';
}

function columnType(field: TSchema, name: string): Column['type'] {
  if (KindGuard.IsString(field)) return field.format === 'date-time' ? 'timestamp' : 'string';
  if (KindGuard.IsInteger(field)) {
    const fitsInt32 =
      typeof field.maximum === 'number' &&
      field.maximum <= INT32_MAX &&
      typeof field.minimum === 'number' &&
      field.minimum >= -INT32_MAX - 1;
    return fitsInt32 ? 'int' : 'bigint';
  }
  if (KindGuard.IsNumber(field)) return 'double';
  if (KindGuard.IsBoolean(field)) return 'boolean';
  if (KindGuard.IsLiteral(field)) return literalType(field.const, name);
  if (KindGuard.IsUnion(field) && field.anyOf.every((b) => KindGuard.IsLiteral(b))) {
    const types = new Set(field.anyOf.map((b) => literalType(b.const, name)));
    const [only] = types;
    if (types.size === 1 && only) return only;
  }
  // A free-form map is stored as map<string,string>: numbers and booleans become their JSON text.
  if (KindGuard.IsRecord(field)) return 'map<string,string>';
  throw new UnsupportedColumnError(`field "${name}" has no column mapping (kind ${String(field[Kind])})`);
}

function literalType(value: unknown, name: string): Column['type'] {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'double';
  throw new UnsupportedColumnError(`field "${name}" has a literal of unsupported type ${typeof value}`);
}

/** Derives the columns of an object schema, in schema property order. */
export function columnsOf(schema: TObject): Column[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, field]) => {
    const column: Column = { name, type: columnType(field, name), required: required.has(name) };
    if (typeof field.description === 'string') column.description = field.description;
    return column;
  });
}
