import { type Column, type EventType, listSchemas } from '../lib/schemas';

/**
 * The lake's tables, derived from the schema registry: one table per (event type, version) at
 * `lake/<type>/v<N>/dt=YYYY-MM-DD/hour=HH/*.parquet` (Hive-style partitions by event time, UTC;
 * the files hold no dt/hour columns), and one view per type over its latest version. The Glue
 * catalog (catalog/glue.ts), the local DuckDB catalog and the query guard all read this.
 */

/** The two partition keys, strings in both engines: dt `YYYY-MM-DD`, hour `HH` (00-23). */
export const PARTITION_KEYS = ['dt', 'hour'] as const;

/**
 * The first day partition projection enumerates (`projection.dt.range` starts here and ends at
 * NOW+1DAYS, which covers an event stamped just past midnight UTC by a client clock running ahead).
 * An event dated earlier still lands in its own partition, but Athena does not see it.
 */
export const LAKE_FIRST_DAY = '2020-01-01';

/** Where every lake table lives in the data bucket. */
export const LAKE_PREFIX = 'lake/';

/** One table of the lake: the stored events of one (type, version). */
export interface LakeTable {
  /** `click_v1`: the Glue table and the local DuckDB view. */
  name: string;
  type: EventType;
  version: number;
  /** True for the newest version of its type, the one its view reads. */
  latest: boolean;
  /** `lake/click/v1/` in the data bucket. */
  prefix: string;
  /** The registry's stored columns (envelope first); dt and hour are partition keys, not columns. */
  columns: Column[];
}

/** Per type, the latest version's table under the type's own name, so `SELECT ... FROM click` works. */
export interface LakeView {
  name: EventType;
  table: LakeTable;
}

/** The Glue/Hive type of each registry column type. */
export const HIVE_TYPES: Record<Column['type'], string> = {
  string: 'string',
  int: 'int',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
  'map<string,string>': 'map<string,string>',
};

/** The DuckDB type of each registry column type (timestamps are UTC instants). */
export const DUCKDB_TYPES: Record<Column['type'], string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  'map<string,string>': 'MAP(VARCHAR, VARCHAR)',
};

/** The Presto/Trino type of each registry column type, as an Athena view records its columns. */
export const PRESTO_TYPES: Record<Column['type'], string> = {
  string: 'varchar',
  int: 'integer',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
  'map<string,string>': 'map(varchar,varchar)',
};

/** `click_v1`. */
export const tableName = (type: string, version: number): string => `${type}_v${version}`;

/**
 * `click_v1_stored`: the table of every stored row of `click_v1` (a redelivered event twice, a
 * compaction's inputs beside its output until they are deleted). `click_v1` itself reads each
 * event once (the lake's dedup rule, lib/domain/compact/dedup.ts).
 */
export const storedTableName = (name: string): string => `${name}_stored`;

/** `lake/click/v1/`. */
export const lakePrefix = (type: string, version: number): string => `${LAKE_PREFIX}${type}/v${version}/`;

/** Every lake table, in registry order. */
export function lakeTables(): LakeTable[] {
  return listSchemas().map((s) => ({
    name: tableName(s.type, s.version),
    type: s.type,
    version: s.version,
    latest: s.latest,
    prefix: lakePrefix(s.type, s.version),
    columns: s.fields,
  }));
}

/** One view per event type, over its latest version. */
export function lakeViews(tables: LakeTable[] = lakeTables()): LakeView[] {
  return tables.filter((t) => t.latest).map((table) => ({ name: table.type, table }));
}

/** A partition of a lake table. */
export interface PartitionRef {
  dt: string;
  hour: string;
}

const PARTITION_PATH = /(?:^|\/)dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//;

/** The partition of a key or path under a table's prefix (`.../dt=2026-12-01/hour=03/x.parquet`), if any. */
export function partitionOf(path: string): PartitionRef | undefined {
  const match = PARTITION_PATH.exec(path);
  return match ? { dt: match[1] as string, hour: match[2] as string } : undefined;
}
