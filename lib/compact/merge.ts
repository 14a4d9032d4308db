import { mkdirSync } from 'node:fs';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { duckDbDedup, rowNumberSql } from '../domain/compact/dedup';

/**
 * The merge of one hour in DuckDB: the hour's Parquet files (downloaded, named so that their order
 * is the keys' order) read as one relation, duplicates removed by the lake's rule, rows sorted,
 * written as zstd Parquet files cut near a target size; then the counts are checked on the files
 * written, before anything is uploaded.
 */

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const identifier = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** One compacted file as written. */
export interface MergedFile {
  file: string;
  rows: number;
  bytes: number;
}

export interface MergeResult {
  rowsIn: number;
  rowsOut: number;
  duplicates: number;
  files: MergedFile[];
}

/** Raised when the files written do not hold the rows they should: nothing is uploaded or deleted. */
export class MergeVerificationError extends Error {
  override name = 'MergeVerificationError';
}

export interface MergerOptions {
  tempDirectory: string;
  memoryLimit?: string;
  threads?: number;
}

/** DuckDB for compaction: no extension installed or loaded, UTC, insertion order kept (the sort is the files' order). */
export class HourMerger {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(options: MergerOptions): Promise<HourMerger> {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    mkdirSync(options.tempDirectory, { recursive: true });
    const config: Record<string, string> = {
      threads: String(options.threads ?? 2),
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      temp_directory: options.tempDirectory,
      preserve_insertion_order: 'true',
    };
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    const instance = await DuckDBInstance.create(':memory:', config);
    const connection = await instance.connect();
    await connection.run("SET TimeZone = 'UTC'");
    return new HourMerger(instance, connection);
  }

  private async counts(files: readonly string[]): Promise<{ rows: number; events: number }> {
    const list = `[${files.map(sqlString).join(', ')}]`;
    const reader = await this.connection.runAndReadAll(
      `SELECT count(*), count(DISTINCT event_id) FROM read_parquet(${list}, union_by_name = true)`,
    );
    const [rows, events] = reader.getRowsJS()[0] as [bigint, bigint];
    return { rows: Number(rows), events: Number(events) };
  }

  /**
   * Merges `files` (one hour of one table, in key order) into `outDir/compacted-<generation>-<i>.parquet`,
   * sorted by `sortBy`, each near `targetBytes`. Throws a MergeVerificationError when the written files
   * do not hold exactly one row per distinct event of the inputs.
   */
  async merge(input: {
    files: readonly string[];
    outDir: string;
    generation: string;
    targetBytes: number;
    sortBy: readonly string[];
  }): Promise<MergeResult> {
    const before = await this.counts(input.files);
    const list = `[${input.files.map(sqlString).join(', ')}]`;
    const rule = duckDbDedup('filename', []);
    const sql = `COPY (
      SELECT * EXCLUDE (filename) FROM read_parquet(${list}, union_by_name = true, filename = true)
      QUALIFY ${rowNumberSql(rule)} = 1
      ORDER BY ${input.sortBy.map(identifier).join(', ')}
    ) TO ${sqlString(input.outDir)} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES ${Math.max(1, Math.floor(input.targetBytes))},
        FILENAME_PATTERN ${sqlString(`compacted-${input.generation}-{i}`)}, RETURN_STATS true)`;
    const rows = (await this.connection.runAndReadAll(sql)).getRowsJS();
    const files = rows
      .map(([file, count, bytes]) => ({ file: String(file), rows: Number(count), bytes: Number(bytes) }))
      .sort((a, b) => (a.file < b.file ? -1 : 1));
    const written = files.reduce((n, f) => n + f.rows, 0);
    const after = files.length > 0 ? await this.counts(files.map((f) => f.file)) : { rows: 0, events: 0 };
    if (written !== before.events || after.rows !== before.events || after.events !== before.events) {
      throw new MergeVerificationError(
        `compaction wrote ${after.rows} rows (${after.events} events; ${written} by DuckDB's count) for ` +
          `${before.events} distinct events of ${before.rows} rows: nothing uploaded`,
      );
    }
    return { rowsIn: before.rows, rowsOut: after.rows, duplicates: before.rows - before.events, files };
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
