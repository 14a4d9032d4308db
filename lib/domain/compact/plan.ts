import { createHash } from 'node:crypto';
import { listSchemas } from '../../schemas';
import { isCompactedKey } from './dedup';

/**
 * Planning compaction of the lake's hours (pure: keys, sizes, clocks). An hour of a table
 * (`lake/<type>/v<N>/dt=/hour=/`) is compacted once it is closed; its manifest
 * (`lake/_compaction/<type>/v<N>/dt=/hour=HH.json`) says which files are the compacted ones and
 * which inputs are superseded and wait for deletion.
 */

/** The default size of a compacted file: 128 MiB. */
export const DEFAULT_TARGET_BYTES = 128 * 1024 * 1024;

/** An hour of one lake table. */
export interface TableHour {
  type: string;
  version: number;
  dt: string;
  hour: string;
}

/** A stored object as listed (the ETag tells a rewritten key from the one compaction read). */
export interface StoredFile {
  key: string;
  bytes: number;
  etag?: string;
}

/** A file of a compacted hour with its row count. */
export interface CountedFile {
  key: string;
  bytes: number;
  rows: number;
  etag?: string;
}

/** What compaction of one hour did, kept beside the lake. */
export interface CompactionManifest {
  type: string;
  version: number;
  dt: string;
  hour: string;
  generation: string;
  compacted_at: string;
  target_bytes: number;
  sort_by: string[];
  /** The files merged (each deleted once `delete_after` has passed, unless rewritten since). */
  inputs: StoredFile[];
  outputs: CountedFile[];
  rows_in: number;
  rows_out: number;
  duplicates_removed: number;
  /** Inputs not deleted yet (a reader may still be reading them); empty when the hour is done. */
  pending_delete: StoredFile[];
  delete_after: string;
  /** Inputs found rewritten (another ETag) when their time came: kept, compacted again next run. */
  kept_rewritten: string[];
  /** Re-format markers applied (lib/domain/compact/reformat.ts), deleted once the manifest is written. */
  markers?: StoredFile[];
  /** Events dropped from compacted inputs: their raw object was re-formatted without them (rows in = out + duplicates + this). */
  reformat_removed?: number;
}

/** The rows' order in a compacted file: user, then time (good row-group min/max for both). */
export const SORT_BY = ['user_id', 'occurred_at', 'event_id'] as const;

export const tablePrefix = (t: Pick<TableHour, 'type' | 'version'>) => `lake/${t.type}/v${t.version}/`;
export const hourPrefix = (h: TableHour) => `${tablePrefix(h)}dt=${h.dt}/hour=${h.hour}/`;
export const hourLabel = (h: TableHour) => `${h.type}_v${h.version} ${h.dt}T${h.hour}`;

/** Where an hour's compaction manifest goes: `lake/_compaction/<type>/v<N>/dt=YYYY-MM-DD/hour=HH.json`. */
export function compactionManifestKey(h: TableHour): string {
  return `lake/_compaction/${h.type}/v${h.version}/dt=${h.dt}/hour=${h.hour}.json`;
}

/** Every (type, version) table of the registry, or those of one type. */
export function lakeTableRefs(type?: string): { type: string; version: number }[] {
  return listSchemas()
    .filter((s) => type === undefined || s.type === type)
    .map((s) => ({ type: s.type, version: s.version }));
}

/**
 * The generation of a compaction: a hash of the inputs (keys, sizes, ETags), so the same inputs
 * always give the same output names and other inputs never collide with them.
 */
export function generationOf(inputs: readonly StoredFile[]): string {
  const hash = createHash('sha256');
  for (const f of [...inputs].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    hash.update(`${f.key}\n${f.bytes}\n${f.etag ?? ''}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** An hour closes `settleMinutes` after its end (Firehose's buffer and the formatter have landed it). */
export function isClosed(h: Pick<TableHour, 'dt' | 'hour'>, now: Date, settleMinutes: number): boolean {
  const end = Date.parse(`${h.dt}T${h.hour}:00:00Z`) + 3_600_000;
  return end + settleMinutes * 60_000 <= now.getTime();
}

/** The closed hours of the last `lookbackHours` before `now`, oldest first (what a scheduled run looks at). */
export function recentClosedHours(
  now: Date,
  lookbackHours: number,
  settleMinutes: number,
): { dt: string; hour: string }[] {
  const out: { dt: string; hour: string }[] = [];
  const current = Math.floor(now.getTime() / 3_600_000) * 3_600_000;
  for (let i = lookbackHours; i >= 1; i -= 1) {
    const iso = new Date(current - i * 3_600_000).toISOString();
    const h = { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
    if (isClosed(h, now, settleMinutes)) out.push(h);
  }
  return out;
}

/** What to do with one hour. */
export type HourPlan =
  | { action: 'none'; hour: TableHour; files: StoredFile[] }
  | { action: 'open'; hour: TableHour; files: StoredFile[] }
  | {
      action: 'compact';
      hour: TableHour;
      /** Every file of the hour (earlier outputs, a formatter's new ones, inputs not deleted yet): all merged. */
      inputs: StoredFile[];
      /** Re-format markers in the hour: their raw objects' earlier rows are dropped from compacted inputs. */
      markers: StoredFile[];
      /** Formatter files the last compaction merged that were rewritten since (another ETag): re-formatted. */
      rewritten: string[];
      generation: string;
      bytes: number;
    }
  | { action: 'delete'; hour: TableHour; files: StoredFile[]; manifest: CompactionManifest };

/**
 * Plans one hour from its Parquet files and its manifest:
 * - `open`: not closed yet, left alone;
 * - `compact`: a file other than the last compaction's outputs and its pending inputs is there (a
 *   never compacted hour, a redelivery or backfill since), or the manifest is gone;
 * - `delete`: compacted, with superseded inputs whose time has come;
 * - `none`: nothing to do (the hour is as the last compaction left it, or empty).
 */
export function planHour(input: {
  hour: TableHour;
  files: readonly StoredFile[];
  /** Re-format markers found in the hour (`_reformatted-*.json`). */
  markers?: readonly StoredFile[];
  manifest: CompactionManifest | undefined;
  now: Date;
  settleMinutes: number;
}): HourPlan {
  const { hour, manifest, now } = input;
  const byKey = (a: StoredFile, b: StoredFile) => (a.key < b.key ? -1 : 1);
  const files = [...input.files].sort(byKey);
  const markers = [...(input.markers ?? [])].sort(byKey);
  if (files.length === 0) return { action: 'none', hour, files };
  if (!isClosed(hour, now, input.settleMinutes)) return { action: 'open', hour, files };
  const known = new Map<string, string | undefined>();
  for (const f of manifest?.outputs ?? []) known.set(f.key, f.etag);
  for (const f of manifest?.pending_delete ?? []) known.set(f.key, f.etag);
  for (const f of manifest?.markers ?? []) known.set(f.key, f.etag);
  const changed = [...files, ...markers].some(
    (f) => !known.has(f.key) || (known.get(f.key) !== undefined && f.etag !== known.get(f.key)),
  );
  // One file that compaction wrote, alone: nothing to merge (a lone formatter file is still sorted and deduplicated).
  if (changed || manifest === undefined) {
    if (
      manifest === undefined &&
      markers.length === 0 &&
      files.length === 1 &&
      isCompactedKey(files[0]?.key ?? '')
    ) {
      return { action: 'none', hour, files };
    }
    const merged = new Map((manifest?.inputs ?? []).map((f) => [f.key, f.etag]));
    const rewritten = files
      .filter(
        (f) => !isCompactedKey(f.key) && merged.get(f.key) !== undefined && f.etag !== merged.get(f.key),
      )
      .map((f) => f.key);
    return {
      action: 'compact',
      hour,
      inputs: files,
      markers,
      rewritten,
      generation: generationOf([...files, ...markers]),
      bytes: files.reduce((n, f) => n + f.bytes, 0),
    };
  }
  const present = new Set(files.map((f) => f.key));
  const due =
    Date.parse(manifest.delete_after) <= now.getTime()
      ? manifest.pending_delete.filter((f) => present.has(f.key))
      : [];
  if (due.length > 0) return { action: 'delete', hour, files: due, manifest };
  return { action: 'none', hour, files };
}

/** Bounds on one run's work (a Lambda invocation has 15 minutes and its /tmp). */
export interface RunLimits {
  /** At most this many hours compacted per run. */
  maxHours: number;
  /** At most this many input bytes per run (an hour larger than this alone still runs, alone). */
  maxBytes: number;
}

/**
 * The plans a run carries out, oldest hour first: every `delete` (cheap), and `compact` plans while
 * the limits allow; the rest is `deferred` to the next run.
 */
export function boundRun(
  plans: readonly HourPlan[],
  limits: RunLimits,
): { run: HourPlan[]; deferred: HourPlan[] } {
  const run: HourPlan[] = [];
  const deferred: HourPlan[] = [];
  let hours = 0;
  let bytes = 0;
  for (const p of plans) {
    if (p.action !== 'compact') {
      if (p.action === 'delete') run.push(p);
      continue;
    }
    const fits = hours < limits.maxHours && (hours === 0 || bytes + p.bytes <= limits.maxBytes);
    if (fits) {
      run.push(p);
      hours += 1;
      bytes += p.bytes;
    } else {
      deferred.push(p);
    }
  }
  return { run, deferred };
}

/** The inputs to delete now and those to keep: an input rewritten since it was read (another ETag) is kept. */
export function splitDeletes(
  pending: readonly StoredFile[],
  current: ReadonlyMap<string, StoredFile>,
): { remove: StoredFile[]; rewritten: StoredFile[]; gone: StoredFile[] } {
  const remove: StoredFile[] = [];
  const rewritten: StoredFile[] = [];
  const gone: StoredFile[] = [];
  for (const f of pending) {
    const now = current.get(f.key);
    if (now === undefined) gone.push(f);
    else if (f.etag !== undefined && now.etag !== undefined && now.etag !== f.etag) rewritten.push(f);
    else remove.push(f);
  }
  return { remove, rewritten, gone };
}
