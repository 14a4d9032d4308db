import { mkdirSync } from 'node:fs';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { duckDbDedup, rowNumberSql } from '../domain/compact/dedup';
import { FORMATTER_NAME_SQL, type ReformatMarker, SOURCE_COLUMN } from '../domain/compact/reformat';

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
  /** Events dropped from compacted inputs: their raw object was re-formatted without them. */
  reformatRemoved: number;
  files: MergedFile[];
}

/** One input of a merge: a local file, and for a formatter's file its rows' origin (`<name>@<ETag>`). */
export interface MergeInput {
  file: string;
  /** Undefined for a compacted file: its rows keep the origin they carry. */
  origin?: string;
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

  private async counts(relation: string): Promise<{ rows: number; events: number }> {
    const reader = await this.connection.runAndReadAll(
      `SELECT count(*), count(DISTINCT event_id) FROM (${relation})`,
    );
    const [rows, events] = reader.getRowsJS()[0] as [bigint, bigint];
    return { rows: Number(rows), events: Number(events) };
  }

  /**
   * Merges `inputs` (one hour of one table, in key order) into `outDir/compacted-<generation>-<i>.parquet`,
   * sorted by `sortBy`, each near `targetBytes`, every row with its origin (`lb_source`). Rows of
   * compacted inputs whose raw object has a re-format marker and that do not come from one of its
   * current files are dropped first (lib/domain/compact/reformat.ts). Throws a MergeVerificationError
   * when the written files do not hold exactly one row per distinct event of what is kept.
   */
  async merge(input: {
    inputs: readonly MergeInput[];
    outDir: string;
    generation: string;
    targetBytes: number;
    sortBy: readonly string[];
    reformatted?: readonly ReformatMarker[];
  }): Promise<MergeResult> {
    const source = identifier(SOURCE_COLUMN);
    const list = `[${input.inputs.map((i) => sqlString(i.file)).join(', ')}]`;
    const origins = input.inputs
      .map((i) => `(${sqlString(i.file)}, ${i.origin === undefined ? 'NULL' : sqlString(i.origin)})`)
      .join(', ');
    // One marker per stem (a second would join its rows twice): the first given wins.
    const seen = new Set<string>();
    const markers = (input.reformatted ?? []).filter((m) => !seen.has(m.stem) && Boolean(seen.add(m.stem)));
    const marked = markers.length
      ? `VALUES ${markers
          .map((m) => `(${sqlString(m.stem)}, [${m.current.map(sqlString).join(', ')}]::VARCHAR[])`)
          .join(', ')}`
      : 'SELECT NULL::VARCHAR AS stem, NULL::VARCHAR[] AS current WHERE false';
    // Every row with its origin: a formatter file's from the list, a compacted file's from its column.
    const all = `SELECT r.* EXCLUDE (filename, ${source}), coalesce(o.origin, r.${source}) AS ${source}, r.filename
      FROM (SELECT NULL::VARCHAR AS ${source} WHERE false UNION ALL BY NAME
            SELECT * FROM read_parquet(${list}, union_by_name = true, filename = true)) r
      JOIN (VALUES ${origins}) o(path, origin) ON o.path = r.filename`;
    const kept = `SELECT a.* FROM (${all}) a
      LEFT JOIN (${marked}) m(stem, current) ON m.stem = regexp_extract(a.${source}, ${sqlString(FORMATTER_NAME_SQL)}, 1)
      WHERE m.stem IS NULL OR list_contains(m.current, a.${source})
        OR a.filename IN (SELECT path FROM (VALUES ${origins}) o(path, origin) WHERE origin IS NOT NULL)`;
    const before = await this.counts(all);
    const keep = await this.counts(kept);
    const rule = duckDbDedup('filename', []);
    const sql = `COPY (
      SELECT * EXCLUDE (filename) FROM (${kept})
      QUALIFY ${rowNumberSql(rule)} = 1
      ORDER BY ${input.sortBy.map(identifier).join(', ')}
    ) TO ${sqlString(input.outDir)} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES ${Math.max(1, Math.floor(input.targetBytes))},
        FILENAME_PATTERN ${sqlString(`compacted-${input.generation}-{i}`)}, RETURN_STATS true)`;
    const rows = (await this.connection.runAndReadAll(sql)).getRowsJS();
    const files = rows
      .map(([file, count, bytes]) => ({ file: String(file), rows: Number(count), bytes: Number(bytes) }))
      .sort((a, b) => (a.file < b.file ? -1 : 1));
    const written = files.reduce((n, f) => n + f.rows, 0);
    const after =
      files.length > 0
        ? await this.counts(
            `SELECT * FROM read_parquet([${files.map((f) => sqlString(f.file)).join(', ')}], union_by_name = true)`,
          )
        : { rows: 0, events: 0 };
    if (written !== keep.events || after.rows !== keep.events || after.events !== keep.events) {
      throw new MergeVerificationError(
        `compaction wrote ${after.rows} rows (${after.events} events; ${written} by DuckDB's count) for ` +
          `${keep.events} distinct events of ${keep.rows} rows kept: nothing uploaded`,
      );
    }
    return {
      rowsIn: before.rows,
      rowsOut: after.rows,
      // rows in = rows out + duplicates + removed: an event whose only copies were dropped is removed;
      // an older copy dropped beside the re-format's new one is a duplicate, like a redelivery's.
      duplicates: before.rows - after.rows - (before.events - keep.events),
      reformatRemoved: before.events - keep.events,
      files,
    };
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
