/**
 * The lake's one dedup rule, shared by every reader and by compaction (so compacting an hour never
 * changes what a query sees): within a partition (dt, hour), the rows of one `event_id` are one
 * event; the copy kept is the first received (`received_at`, then `request_id`), and among copies of
 * one delivery (a Firehose redelivery, a replay) a copy in a formatter's file before one in a
 * compacted file (a backfill after a formatter fix wins over what was compacted before it), then
 * the lowest path. Pure: SQL text only.
 */

/** A compacted file's name: `compacted-<generation>-<i>.parquet` (the generation is 16 hex digits). */
export const COMPACTED_NAME = 'compacted-[0-9a-f]{16}-[0-9]+\\.parquet';

/** True for the key (or local path) of a file compaction wrote. */
export function isCompactedKey(key: string): boolean {
  return new RegExp(`(^|[/-])${COMPACTED_NAME}`).test(key);
}

/**
 * True when the files of one hour are the output of one compaction and nothing else: each event is
 * in them once already (compaction verified it), so a reader may skip the rule for that hour.
 */
export function isDeduplicatedHour(keys: readonly string[]): boolean {
  const generation = /(?:^|[/-])compacted-([0-9a-f]{16})-[0-9]+\.parquet/;
  const generations = new Set(keys.map((k) => generation.exec(k)?.[1] ?? ''));
  return keys.length > 0 && generations.size === 1 && !generations.has('');
}

/** Columns of the rule: the partition and the ordering, given the SQL of the row's file path. */
export interface DedupSql {
  partitionBy: string;
  orderBy: string;
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The rule in DuckDB SQL, over a path column (read_parquet's `filename`). */
export function duckDbDedup(path: string, partition: readonly string[] = ['dt', 'hour']): DedupSql {
  return {
    partitionBy: [...partition, 'event_id'].join(', '),
    orderBy: `received_at, request_id, regexp_matches(${path}, ${sqlString(COMPACTED_NAME)}), ${path}`,
  };
}

/** The rule in Athena (Trino) SQL, over the `"$path"` pseudo column. */
export function athenaDedup(path = '"$path"'): DedupSql {
  return {
    partitionBy: 'dt, hour, event_id',
    orderBy: `received_at, request_id, regexp_like(${path}, ${sqlString(COMPACTED_NAME)}), ${path}`,
  };
}

/** `row_number() OVER (...)`: 1 for the row the rule keeps. */
export function rowNumberSql(rule: DedupSql): string {
  return `row_number() OVER (PARTITION BY ${rule.partitionBy} ORDER BY ${rule.orderBy})`;
}
