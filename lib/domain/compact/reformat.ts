/**
 * Re-formats of an hour already compacted (pure: keys, names and SQL text).
 *
 * A compacted file is the only copy of its rows once the small files it merged are deleted, so a
 * re-format of one raw object (a backfill after a formatter fix, a redelivery under the same key)
 * that writes fewer rows into an hour, or none, cannot remove the old rows by deleting files. Two
 * things make it possible:
 * - every row of a compacted file carries its origin, `lb_source` = `<formatter file name>@<ETag>`
 *   (the file it came from, and which write of it: a re-format that changes the rows changes the
 *   ETag);
 * - a re-format leaves a marker in each hour its earlier run wrote to,
 *   `lake/<type>/v<N>/dt=/hour=/_reformatted-<stem>.json`, naming the raw object's current files in
 *   that hour (`<name>@<ETag>`). Athena skips files whose name starts with `_`, and every lake reader
 *   here reads only `*.parquet`.
 * The next compaction of the hour drops the rows of compacted inputs that come from a marked raw
 * object but not from one of its current files (those are in the hour as small files again), then
 * deletes the marker.
 */

/** The column of a compacted file naming each row's origin; never shown to a query. */
export const SOURCE_COLUMN = 'lb_source';

/** A formatter file's name: `<stem>-s<segment>[-<part>].parquet` (lib/domain/format/records.ts). */
const FORMATTER_NAME = /^(.+)-s\d{4}(?:-\d+)?\.parquet$/;
/** The same in RE2 (DuckDB's regexp_extract), group 1 the stem. */
export const FORMATTER_NAME_SQL = '^(.+)-s[0-9]{4}(?:-[0-9]+)?\\.parquet@';

/** The stem of a formatter file's name (undefined for another file). */
export function stemOfName(name: string): string | undefined {
  return FORMATTER_NAME.exec(name)?.[1];
}

/** A row's origin: the formatter file's name and the ETag of the write it came from. */
export function sourceOf(name: string, etag: string | undefined): string {
  return `${name}@${etag ?? ''}`;
}

/** What a re-format leaves in an hour its earlier run wrote to. */
export interface ReformatMarker {
  /** The raw object re-formatted (or, when compaction left the marker, why). */
  source: string;
  /** Its files' name stem (outputStem). */
  stem: string;
  /** Its files in this hour now, as `<name>@<ETag>` (empty: it writes nothing here any more). */
  current: string[];
}

const MARKER_PREFIX = '_reformatted-';

/** The marker's key in an hour's prefix (`lake/<type>/v<N>/dt=/hour=/`). */
export function reformatMarkerKey(hourPrefix: string, stem: string): string {
  return `${hourPrefix}${MARKER_PREFIX}${stem}.json`;
}

/** True for a marker's key. */
export function isReformatMarkerKey(key: string): boolean {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return name.startsWith(MARKER_PREFIX) && name.endsWith('.json');
}
