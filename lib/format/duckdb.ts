import { mkdirSync } from 'node:fs';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type Column, columns, type EventType } from '../schemas';

/** DuckDB's type for each registry column type: instants as TIMESTAMPTZ (UTC), free-form maps as MAP. */
const DUCKDB_TYPES: Record<Column['type'], string> = {
  string: 'VARCHAR',
  int: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMPTZ',
  'map<string,string>': 'MAP(VARCHAR, VARCHAR)',
};

/** The column whose instant places a row in its dt=/hour= partition (event time, UTC). */
export const PARTITION_FIELD = 'occurred_at';

/** The `columns = {...}` argument of read_json for (type, version), in the registry's column order. */
export function readJsonColumns(type: EventType, version: number): string {
  const list = columns(type, version).map((c) => `${sqlString(c.name)}: ${sqlString(DUCKDB_TYPES[c.type])}`);
  return `{${list.join(', ')}}`;
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** One Parquet file a COPY wrote. */
export interface WrittenFile {
  file: string;
  rows: number;
  bytes: number;
  dt: string;
  hour: string;
}

export interface ParquetWriterOptions {
  /** DuckDB's spill directory (under /tmp on Lambda). */
  tempDirectory: string;
  /** e.g. `600MB`; DuckDB's default is 80% of the machine's memory. */
  memoryLimit?: string;
  threads?: number;
}

/** Raised when DuckDB refuses a segment: a line the validator passed that the writer cannot read (a bug to fix, never data to drop). */
export class SegmentCopyError extends Error {
  override name = 'SegmentCopyError';
}

/**
 * DuckDB as the Parquet writer: one instance per container, one thread (Node validates the next
 * segment meanwhile), no extension ever installed or loaded from the network (parquet, json and
 * icu are built into the package), the session time zone UTC.
 */
export class ParquetWriter {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(options: ParquetWriterOptions): Promise<ParquetWriter> {
    // Loaded here, not at module load: on Lambda it comes from the layer, and the local stack's
    // other functions never load it.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    mkdirSync(options.tempDirectory, { recursive: true });
    const config: Record<string, string> = {
      threads: String(options.threads ?? 1),
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      temp_directory: options.tempDirectory,
      preserve_insertion_order: 'false',
    };
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    const instance = await DuckDBInstance.create(':memory:', config);
    const connection = await instance.connect();
    await connection.run("SET TimeZone = 'UTC'");
    return new ParquetWriter(instance, connection);
  }

  /** Settings as DuckDB reports them (for the tests and the logs). */
  async settings(): Promise<Record<string, string>> {
    const reader = await this.connection.runAndReadAll(
      "SELECT name, value FROM duckdb_settings() WHERE name IN ('threads', 'autoinstall_known_extensions', 'autoload_known_extensions', 'temp_directory', 'TimeZone', 'memory_limit')",
    );
    return Object.fromEntries(reader.getRowsJS().map(([name, value]) => [String(name), String(value)]));
  }

  /** The extensions loaded in this instance. */
  async loadedExtensions(): Promise<string[]> {
    const reader = await this.connection.runAndReadAll(
      'SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY 1',
    );
    return reader.getRowsJS().map(([name]) => String(name));
  }

  /**
   * Writes one segment (newline-delimited JSON lines of one (type, version), each already
   * validated) as zstd Parquet partitioned by the UTC date and hour of occurred_at, under
   * `outDir/dt=.../hour=.../part_<i>.parquet`.
   */
  async copySegment(
    segment: string,
    type: EventType,
    version: number,
    outDir: string,
  ): Promise<WrittenFile[]> {
    const utc = `(${PARTITION_FIELD} AT TIME ZONE 'UTC')`;
    const sql = `COPY (
      SELECT *, strftime(${utc}, '%Y-%m-%d') AS dt, strftime(${utc}, '%H') AS hour
      FROM read_json(${sqlString(segment)}, format = 'newline_delimited', maximum_object_size = 4194304,
                     columns = ${readJsonColumns(type, version)})
    ) TO ${sqlString(outDir)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt, hour),
                              FILENAME_PATTERN 'part_{i}', RETURN_STATS true)`;
    let rows: unknown[][];
    try {
      rows = (await this.connection.runAndReadAll(sql)).getRowsJS();
    } catch (error) {
      throw new SegmentCopyError(
        `DuckDB refused segment ${segment} (${type} v${version}): ${(error as Error).message}`,
      );
    }
    return rows.map(([file, count, bytes, , , partition]) => {
      const keys = new Map(
        (partition as { key: string; value: string }[]).map(({ key, value }) => [key, value]),
      );
      return {
        file: String(file),
        rows: Number(count),
        bytes: Number(bytes),
        dt: keys.get('dt') ?? '',
        hour: keys.get('hour') ?? '',
      };
    });
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
