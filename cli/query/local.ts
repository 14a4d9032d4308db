import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  DUCKDB_TYPES,
  type LakeTable,
  lakeTables,
  lakeViews,
  partitionOf,
  storedTableName,
} from '../../catalog/lake';
import { duckDbDedup, isDeduplicatedHour, rowNumberSql } from '../../lib/domain/compact/dedup';
import { SOURCE_COLUMN } from '../../lib/domain/compact/reformat';
import { lakeResolver, QueryGuard } from './guard';
import type { QueryResult } from './output';
import { LocalPartitions } from './partitions';

/**
 * The local lake in DuckDB: the Parquet objects of the local stack's bucket read in place, each
 * table a view named as in Glue (`click_v1`) plus one per type over its latest version (`click`),
 * in a schema named like the stage's Glue database (`logbase_local.click` works too).
 */

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const identifier = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The column read_parquet names each row's file in (the dedup rule's last tiebreak); never shown. */
const FILE_COLUMN = 'lb_file';

/** A typed empty relation with the table's columns, so a table without files has its columns anyway. */
function emptyRelation(table: LakeTable, withFile = false): string {
  const columns = [
    ...table.columns.map((c) => `CAST(NULL AS ${DUCKDB_TYPES[c.type]}) AS ${identifier(c.name)}`),
    'CAST(NULL AS VARCHAR) AS dt',
    'CAST(NULL AS VARCHAR) AS "hour"',
    ...(withFile
      ? [
          `CAST(NULL AS VARCHAR) AS ${identifier(FILE_COLUMN)}`,
          `CAST(NULL AS VARCHAR) AS ${identifier(SOURCE_COLUMN)}`,
        ]
      : []),
  ];
  return `SELECT ${columns.join(', ')} WHERE false`;
}

/**
 * The views of a lake table over its files (dt and hour from the Hive-style path, as strings, as in
 * Glue): `<table>_stored`, every stored row, and `<table>`, each event once by the lake's dedup rule
 * (lib/domain/compact/dedup.ts): a Firehose redelivery, a client resend, or the inputs of a compaction
 * not deleted yet beside its output are all read as one row. A filter on dt/hour still prunes files
 * (the rule partitions by them, so DuckDB pushes the filter below it).
 */
export function tableViewSql(table: LakeTable, schema: string, files: string[]): string[] {
  const stored = `${identifier(schema)}.${identifier(storedTableName(table.name))}`;
  const name = `${identifier(schema)}.${identifier(table.name)}`;
  if (files.length === 0) {
    return [
      `CREATE OR REPLACE VIEW ${stored} AS ${emptyRelation(table)}`,
      `CREATE OR REPLACE VIEW ${name} AS ${emptyRelation(table)}`,
    ];
  }
  // An hour holding only one compaction's output has each event once already: the rule is skipped there.
  const byHour = new Map<string, string[]>();
  for (const f of files) {
    const p = partitionOf(f);
    const id = p ? `${p.dt}/${p.hour}` : f;
    byHour.set(id, [...(byHour.get(id) ?? []), f]);
  }
  const clean = [...byHour.values()].filter((fs) => isDeduplicatedHour(fs)).flat();
  const dirty = [...byHour.values()].filter((fs) => !isDeduplicatedHour(fs)).flat();
  const scan = (list: string[]) =>
    // UNION ALL BY NAME: the registry's columns in its order, a column no file has yet (an optional field) NULL.
    `${emptyRelation(table, true)} UNION ALL BY NAME SELECT * FROM read_parquet([${list.map(sqlString).join(', ')}], ` +
    `hive_partitioning = true, union_by_name = true, filename = ${sqlString(FILE_COLUMN)}, hive_types = {'dt': VARCHAR, 'hour': VARCHAR})`;
  const file = identifier(FILE_COLUMN);
  // A compacted file's rows carry their origin (lib/domain/compact/reformat.ts): compaction's, not a column.
  const hidden = `${file}, ${identifier(SOURCE_COLUMN)}`;
  const rule = rowNumberSql(duckDbDedup(file));
  const branches = [
    ...(clean.length > 0 ? [`SELECT * FROM (SELECT * EXCLUDE (${hidden}) FROM (${scan(clean)}))`] : []),
    ...(dirty.length > 0
      ? [`SELECT * FROM (SELECT * EXCLUDE (${hidden}) FROM (${scan(dirty)}) QUALIFY ${rule} = 1)`]
      : []),
  ];
  return [
    `CREATE OR REPLACE VIEW ${stored} AS SELECT * EXCLUDE (${hidden}) FROM (${scan(files)})`,
    `CREATE OR REPLACE VIEW ${name} AS ${branches.join(' UNION ALL BY NAME ')}`,
  ];
}

/**
 * An in-memory DuckDB whose session runs in UTC (timestamps print as UTC instants, `current_date` is the
 * UTC day, as on Athena) and which touches no file outside `readable` and no network: external access is off
 * (so `INSTALL`, `COPY ... TO`, `ATTACH` and reads elsewhere fail with a Permission Error, and no extension is
 * ever downloaded; parquet, json and icu are built in), and the configuration is locked against a query
 * turning it back on.
 */
export async function openDuckDb(
  readable: string[] = [],
): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  if (readable.length > 0) {
    await connection.run(`SET allowed_directories = [${readable.map((d) => sqlString(`${d}/`)).join(', ')}]`);
  }
  await connection.run('SET enable_external_access = false');
  await connection.run('SET lock_configuration = true');
  return { instance, connection };
}

export class LocalLake {
  readonly partitions: LocalPartitions;
  readonly guard: QueryGuard;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    private readonly schema: string,
    bucketDir: string,
    now?: () => Date,
  ) {
    this.partitions = new LocalPartitions(bucketDir);
    this.guard = new QueryGuard(connection, lakeResolver(schema), this.partitions, now);
  }

  /** Opens an in-memory DuckDB (openDuckDb) over the lake in `bucketDir` (`<data dir>/s3/<bucket>`). */
  static async open(options: { bucketDir: string; database: string; now?: () => Date }): Promise<LocalLake> {
    const { instance, connection } = await openDuckDb([options.bucketDir]);
    return new LocalLake(
      instance,
      connection,
      options.database.toLowerCase(),
      options.bucketDir,
      options.now,
    );
  }

  /** Creates the views over the files present now. */
  async defineTables(tables: LakeTable[] = lakeTables()): Promise<void> {
    const schema = identifier(this.schema);
    await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    for (const table of tables) {
      const files = (await this.partitions.list(table)).partitions.flatMap((p) => p.paths ?? []);
      for (const sql of tableViewSql(table, this.schema, files)) await this.connection.run(sql);
    }
    for (const view of lakeViews(tables)) {
      await this.connection.run(
        `CREATE OR REPLACE VIEW ${schema}.${identifier(view.name)} AS SELECT * FROM ${schema}.${identifier(view.table.name)}`,
      );
    }
    await this.connection.run(`SET search_path = ${sqlString(`${this.schema},main`)}`);
  }

  /**
   * Defines the views over the files present now and runs the query; when a file it listed was
   * deleted or is still being written by the time DuckDB reads it (compaction removing its inputs,
   * the formatter writing an object), lists again and runs again: a read-only query, so running it
   * again is safe, and the dedup rule makes any listing give the same rows.
   */
  async runListed(sql: string, attempts = 5): Promise<QueryResult> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.defineTables();
        return await this.run(sql);
      } catch (error) {
        if (attempt >= attempts || !isFileRace(error)) throw error;
      }
    }
  }

  /** Runs a query and reads its whole result. */
  async run(sql: string): Promise<QueryResult> {
    const reader = await this.connection.runAndReadAll(sql);
    const types = reader.columnTypes().map(String);
    const columns = reader.columnNames().map((name, i) => ({ name, type: types[i] ?? '' }));
    const rows = reader.getRowsJson().map((row) => row.map((value, i) => jsonValue(value, types[i] ?? '')));
    return { columns, rows };
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** DuckDB's JSON values as a reader expects them: a MAP as an object, a BIGINT that fits as a number. */
function jsonValue(value: unknown, type: string): unknown {
  if (value === null) return null;
  if (type.startsWith('MAP(') && Array.isArray(value)) {
    return Object.fromEntries(
      value.map((e) => [String((e as { key: unknown }).key), (e as { value: unknown }).value]),
    );
  }
  if (
    /^(BIGINT|HUGEINT|UBIGINT)$/.test(type) &&
    typeof value === 'string' &&
    Number.isSafeInteger(Number(value))
  ) {
    return Number(value);
  }
  return value;
}

/** DuckDB's errors for a file gone or half-written between the listing and the read. */
function isFileRace(error: unknown): boolean {
  return /No such file or directory|No files found that match|Cannot open file|No magic bytes found|too small to be a Parquet file|corrupt|Invalid Input Error: File/i.test(
    (error as Error).message ?? '',
  );
}
