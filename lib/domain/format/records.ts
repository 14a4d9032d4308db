import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { FieldError } from '../../schemas';
import type { LineReason } from './stored-lines';

/**
 * What the formatter writes beside the Parquet: where each file goes, the quarantine records and
 * the manifest of one raw object. Pure: keys and shapes only.
 */

/** Why a whole object (or what is left of it) could not be read. */
export type ObjectReason = 'empty_object' | 'not_gzip' | 'truncated_gzip' | 'corrupt_gzip' | 'object_missing';

/** The raw object a record comes from. */
export interface SourceObject {
  bucket: string;
  key: string;
  size?: number;
  etag?: string;
  versionId?: string;
}

/** One line of a quarantine/format object: a bad line, or an object-level fault (`line` null). */
export interface FormatQuarantineRecord {
  reason: LineReason | ObjectReason;
  errors: FieldError[];
  source: { bucket: string; key: string; line: number | null; byte_offset: number | null };
  /** The line's bytes: text when they are UTF-8, else base64; null for an object-level fault without bytes. */
  raw: string | null;
  raw_encoding: 'utf8' | 'base64' | null;
  /** Length of the line in bytes; `raw` holds only its first bytes when `raw_truncated`. */
  raw_bytes: number;
  raw_truncated: boolean;
}

/** One Parquet file written for an object. */
export interface OutputFile {
  key: string;
  type: string;
  version: number;
  dt: string;
  hour: string;
  rows: number;
  bytes: number;
}

/** The manifest of one raw object: what it became, and the reconciliation. */
export interface FormatManifest {
  source: SourceObject;
  formatted_at: string;
  segment_bytes: number;
  lines_read: number;
  rows_written: number;
  lines_quarantined: number;
  /** lines_read === rows_written + lines_quarantined (a manifest is only written when it holds). */
  reconciled: boolean;
  quarantined_by_reason: Partial<Record<LineReason, number>>;
  faults: { reason: ObjectReason; message: string }[];
  outputs: OutputFile[];
  quarantine: { key: string; records: number } | null;
}

/** The key without the dataset prefix `raw/`: `events/dt=.../x.gz`. */
function sourcePath(key: string): string {
  return key.startsWith('raw/') ? key.slice(4) : key;
}

/**
 * Where the manifest of a raw object goes: `lake/_manifests/<key without raw/>.json`, one per
 * source object (a replay overwrites it). Listing `lake/_manifests/events/dt=2025-03-01/` lists
 * the manifests of that day's raw objects, in the raw layout.
 */
export function manifestKey(sourceKey: string): string {
  return `lake/_manifests/${sourcePath(sourceKey)}.json`;
}

/** Where the quarantine records of a raw object go: `quarantine/format/<key without raw/>.jsonl.gz`. */
export function formatQuarantineKey(sourceKey: string): string {
  return `quarantine/format/${sourcePath(sourceKey)}.jsonl.gz`;
}

/**
 * The name stem of a raw object's Parquet files: its file name without `.gz`, made safe for a
 * key, and a hash of the whole key (two objects of one name under different prefixes differ).
 * Same key, same stem: a replay writes the same names.
 */
export function outputStem(sourceKey: string): string {
  const file = sourceKey.slice(sourceKey.lastIndexOf('/') + 1).replace(/\.gz$/, '');
  const safe = file.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'object';
  const hash = createHash('sha256').update(sourceKey).digest('hex').slice(0, 8);
  return `${safe}-${hash}`;
}

/**
 * The key of one Parquet file: `lake/<type>/v<N>/dt=YYYY-MM-DD/hour=HH/<stem>-s<segment>.parquet`
 * (`-<part>` added when one segment wrote more than one file in a partition). Segments are cut
 * at a fixed size in line order, so the same object always gives the same segments and names.
 */
export function outputKey(
  stem: string,
  type: string,
  version: number,
  dt: string,
  hour: string,
  segment: number,
  part = 0,
): string {
  const name = `${stem}-s${String(segment).padStart(4, '0')}${part > 0 ? `-${part}` : ''}`;
  return `lake/${type}/v${version}/dt=${dt}/hour=${hour}/${name}.parquet`;
}

/** The raw field of a quarantine record: text when the bytes are UTF-8, else base64. */
export function rawOf(bytes: Uint8Array): { raw: string; raw_encoding: 'utf8' | 'base64' } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isUtf8(buffer)
    ? { raw: buffer.toString('utf8'), raw_encoding: 'utf8' }
    : { raw: buffer.toString('base64'), raw_encoding: 'base64' };
}
