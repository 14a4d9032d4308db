import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  type S3Client,
} from '@aws-sdk/client-s3';
import { inParallel, putFile, putJson } from '../aws/format-s3';
import { isCompactedKey } from '../domain/compact/dedup';
import {
  boundRun,
  type CompactionManifest,
  compactionManifestKey,
  type HourPlan,
  hourLabel,
  hourPrefix,
  lakeTableRefs,
  planHour,
  type RunLimits,
  SORT_BY,
  type StoredFile,
  splitDeletes,
  type TableHour,
} from '../domain/compact/plan';
import { isReformatMarkerKey, type ReformatMarker, sourceOf, stemOfName } from '../domain/compact/reformat';
import type { HourMerger } from './merge';

/**
 * Compaction of the lake on S3 (the scheduled function and `logbase compact` run this): per hour of
 * each table, list its Parquet files and read its manifest, plan, then for an hour to compact:
 * download its files, merge them (merge.ts: dedup, sort, verified counts), upload the compacted
 * files, write the manifest, and only then delete the inputs, after a grace period that outlasts any
 * query which listed them. Readers deduplicate by the same rule, so at every instant of this
 * sequence a query sees each event exactly once.
 */

export interface CompactDeps {
  s3: S3Client;
  bucket: string;
  /** DuckDB for the merge (opened on first use). */
  merger: () => Promise<HourMerger>;
  /** Where inputs and outputs wait (Lambda: /tmp). */
  workDir: string;
  now: () => Date;
}

export interface CompactOptions {
  hours: readonly { dt: string; hour: string }[];
  /** Only this event type's tables. */
  type?: string;
  targetBytes: number;
  /** An hour is closed this long after its end. */
  settleMinutes: number;
  /** Superseded inputs are deleted this long after the manifest (0: in the same run). */
  graceMinutes: number;
  limits: RunLimits;
  dryRun?: boolean;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** What happened to one hour of one table. */
export interface HourOutcome {
  table: string;
  hour: string;
  action: 'compacted' | 'deleted' | 'deferred' | 'would-compact' | 'would-delete' | 'failed';
  files_before: number;
  files_after: number;
  bytes_before: number;
  bytes_after: number;
  rows_in: number;
  rows_out: number;
  duplicates_removed: number;
  /** Events dropped: their raw object was re-formatted without them (lib/domain/compact/reformat.ts). */
  reformat_removed: number;
  /** Superseded inputs deleted in this run. */
  deleted: number;
  /** Superseded inputs waiting for their grace period. */
  pending_delete: number;
  /** Inputs rewritten since they were read (kept: the next run merges them). */
  kept_rewritten: number;
  manifest?: string;
  error?: string;
}

export interface CompactSummary {
  hours: HourOutcome[];
  /** Hours looked at (per table) and found as the last run left them, or not closed yet. */
  unchanged: number;
  open: number;
  totals: {
    compacted: number;
    deferred: number;
    failed: number;
    files_before: number;
    files_after: number;
    bytes_before: number;
    bytes_after: number;
    rows_in: number;
    rows_out: number;
    duplicates_removed: number;
    reformat_removed: number;
    deleted: number;
  };
}

const stripQuotes = (etag: string | undefined) => etag?.replace(/"/g, '');

/** The Parquet files of one hour of a table and its re-format markers, with sizes and ETags. */
export async function listHourObjects(
  s3: S3Client,
  bucket: string,
  h: TableHour,
): Promise<{ files: StoredFile[]; markers: StoredFile[] }> {
  const files: StoredFile[] = [];
  const markers: StoredFile[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: hourPrefix(h), ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      const into = o.Key?.endsWith('.parquet') ? files : o.Key && isReformatMarkerKey(o.Key) ? markers : null;
      if (!into || !o.Key) continue;
      const etag = stripQuotes(o.ETag);
      into.push({ key: o.Key, bytes: o.Size ?? 0, ...(etag ? { etag } : {}) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const byKey = (a: StoredFile, b: StoredFile) => (a.key < b.key ? -1 : 1);
  return { files: files.sort(byKey), markers: markers.sort(byKey) };
}

/** The Parquet files of one hour of a table, with sizes and ETags. */
export async function listHour(s3: S3Client, bucket: string, h: TableHour): Promise<StoredFile[]> {
  return (await listHourObjects(s3, bucket, h)).files;
}

const isMissing = (error: unknown) =>
  error instanceof NoSuchKey || ['NoSuchKey', 'NotFound'].includes((error as { name?: string }).name ?? '');

/** An hour's compaction manifest, or undefined (listed first: without ListBucket a missing key answers 403). */
export async function readCompactionManifest(
  s3: S3Client,
  bucket: string,
  h: TableHour,
): Promise<CompactionManifest | undefined> {
  const key = compactionManifestKey(h);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
  if (!listed.Contents?.some((o) => o.Key === key)) return undefined;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await out.Body?.transformToString('utf8')) ?? '') as CompactionManifest;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Plans every hour of every table (of `type`) in `hours`. */
export async function planLake(
  deps: Pick<CompactDeps, 's3' | 'bucket' | 'now'>,
  options: Pick<CompactOptions, 'hours' | 'type' | 'settleMinutes'>,
): Promise<HourPlan[]> {
  const plans: HourPlan[] = [];
  const now = deps.now();
  for (const h of options.hours) {
    for (const table of lakeTableRefs(options.type)) {
      const hour: TableHour = { ...table, ...h };
      const { files, markers } = await listHourObjects(deps.s3, deps.bucket, hour);
      if (files.length === 0) continue;
      const manifest = await readCompactionManifest(deps.s3, deps.bucket, hour);
      plans.push(planHour({ hour, files, markers, manifest, now, settleMinutes: options.settleMinutes }));
    }
  }
  return plans;
}

function emptyOutcome(h: TableHour, action: HourOutcome['action'], files: StoredFile[]): HourOutcome {
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  return {
    table: `${h.type}_v${h.version}`,
    hour: `${h.dt}T${h.hour}`,
    action,
    files_before: files.length,
    files_after: files.length,
    bytes_before: bytes,
    bytes_after: bytes,
    rows_in: 0,
    rows_out: 0,
    duplicates_removed: 0,
    reformat_removed: 0,
    deleted: 0,
    pending_delete: 0,
    kept_rewritten: 0,
  };
}

/**
 * The markers of inputs rewritten since the last compaction read them (another ETag): a re-format that
 * landed while that hour was being merged, before its manifest existed for the formatter to see, so it
 * left no marker. Its object's current files are the hour's files of that stem now (none for a stem
 * the formatter's own marker already covers).
 */
function rewrittenMarkers(
  plan: Extract<HourPlan, { action: 'compact' }>,
  explicit: readonly ReformatMarker[],
): ReformatMarker[] {
  const covered = new Set(explicit.map((m) => m.stem));
  const stems = new Set(plan.rewritten.flatMap((key) => stemOfName(basename(key)) ?? []));
  return [...stems]
    .filter((stem) => !covered.has(stem))
    .map((stem) => ({
      source: `(an input of ${hourLabel(plan.hour)} rewritten after its last compaction read it)`,
      stem,
      current: plan.inputs
        .filter((f) => stemOfName(basename(f.key)) === stem)
        .map((f) => sourceOf(basename(f.key), f.etag))
        .sort(),
    }));
}

/** Deletes the due inputs of a manifest (those rewritten since are kept), then rewrites it. */
async function deleteDue(
  deps: CompactDeps,
  h: TableHour,
  manifest: CompactionManifest,
): Promise<{ deleted: number; rewritten: number; files: StoredFile[] }> {
  const current = await listHour(deps.s3, deps.bucket, h);
  const { remove, rewritten } = splitDeletes(
    manifest.pending_delete,
    new Map(current.map((f) => [f.key, f])),
  );
  for (const f of remove) await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: f.key }));
  const updated: CompactionManifest = {
    ...manifest,
    pending_delete: [],
    kept_rewritten: [...manifest.kept_rewritten, ...rewritten.map((f) => f.key)],
  };
  await putJson(deps.s3, deps.bucket, compactionManifestKey(h), updated);
  const removed = new Set(remove.map((f) => f.key));
  return {
    deleted: remove.length,
    rewritten: rewritten.length,
    files: current.filter((f) => !removed.has(f.key)),
  };
}

async function download(s3: S3Client, bucket: string, key: string, file: string): Promise<void> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  await writeFile(file, await out.Body.transformToByteArray());
}

async function readMarker(s3: S3Client, bucket: string, key: string): Promise<ReformatMarker> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse((await out.Body?.transformToString('utf8')) ?? '') as ReformatMarker;
}

/** Deletes the markers a compaction applied, unless rewritten since (a later re-format: kept for the next run). */
async function deleteMarkers(deps: CompactDeps, h: TableHour, applied: readonly StoredFile[]): Promise<void> {
  if (applied.length === 0) return;
  const { markers } = await listHourObjects(deps.s3, deps.bucket, h);
  const { remove } = splitDeletes(applied, new Map(markers.map((f) => [f.key, f])));
  for (const f of remove) await deps.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: f.key }));
}

/** Compacts one hour (plan `compact`): merge, upload, check the uploads, manifest, then the deletes that are due. */
async function compactHour(
  deps: CompactDeps,
  plan: Extract<HourPlan, { action: 'compact' }>,
  options: CompactOptions,
): Promise<HourOutcome> {
  const { hour: h, inputs } = plan;
  const outcome = emptyOutcome(h, 'compacted', inputs);
  mkdirSync(deps.workDir, { recursive: true });
  const dir = await mkdtemp(join(deps.workDir, 'hour-'));
  try {
    mkdirSync(join(dir, 'in'));
    // Local names keep the keys' order and the compacted marker: the dedup rule's tiebreak sees what a reader sees.
    const local = inputs.map((f, i) => join(dir, 'in', `${String(i).padStart(6, '0')}-${basename(f.key)}`));
    await inParallel([...inputs.keys()], 8, (i) =>
      download(deps.s3, deps.bucket, (inputs[i] as StoredFile).key, local[i] as string),
    );
    const reformatted = await Promise.all(plan.markers.map((m) => readMarker(deps.s3, deps.bucket, m.key)));
    reformatted.push(...rewrittenMarkers(plan, reformatted));
    const merger = await deps.merger();
    const merged = await merger.merge({
      inputs: inputs.map((f, i) => ({
        file: local[i] as string,
        ...(isCompactedKey(f.key) ? {} : { origin: sourceOf(basename(f.key), f.etag) }),
      })),
      reformatted,
      outDir: join(dir, 'out'),
      generation: plan.generation,
      targetBytes: options.targetBytes,
      sortBy: SORT_BY,
    });
    const outputs = [];
    for (const f of merged.files) {
      const key = `${hourPrefix(h)}${basename(f.file)}`;
      await putFile(deps.s3, deps.bucket, key, f.file, 'application/vnd.apache.parquet');
      const head = await deps.s3.send(new HeadObjectCommand({ Bucket: deps.bucket, Key: key }));
      if (head.ContentLength !== f.bytes) {
        throw new Error(
          `s3://${deps.bucket}/${key} holds ${head.ContentLength} bytes, not the ${f.bytes} written`,
        );
      }
      const etag = stripQuotes(head.ETag);
      outputs.push({ key, bytes: f.bytes, rows: f.rows, ...(etag ? { etag } : {}) });
    }
    const now = deps.now();
    const outputKeys = new Set(outputs.map((o) => o.key));
    const superseded = inputs.filter((f) => !outputKeys.has(f.key));
    const manifest: CompactionManifest = {
      type: h.type,
      version: h.version,
      dt: h.dt,
      hour: h.hour,
      generation: plan.generation,
      compacted_at: now.toISOString(),
      target_bytes: options.targetBytes,
      sort_by: [...SORT_BY],
      inputs,
      outputs,
      rows_in: merged.rowsIn,
      rows_out: merged.rowsOut,
      duplicates_removed: merged.duplicates,
      pending_delete: superseded,
      delete_after: new Date(now.getTime() + options.graceMinutes * 60_000).toISOString(),
      kept_rewritten: [],
      markers: plan.markers,
      reformat_removed: merged.reformatRemoved,
    };
    const manifestKey = compactionManifestKey(h);
    await putJson(deps.s3, deps.bucket, manifestKey, manifest);
    await deleteMarkers(deps, h, plan.markers);
    Object.assign(outcome, {
      rows_in: merged.rowsIn,
      rows_out: merged.rowsOut,
      duplicates_removed: merged.duplicates,
      reformat_removed: merged.reformatRemoved,
      manifest: manifestKey,
      pending_delete: superseded.length,
      files_after: inputs.length + outputs.length,
      bytes_after: outcome.bytes_before + outputs.reduce((n, o) => n + o.bytes, 0),
    });
    if (options.graceMinutes === 0) {
      const done = await deleteDue(deps, h, manifest);
      Object.assign(outcome, {
        deleted: done.deleted,
        kept_rewritten: done.rewritten,
        pending_delete: 0,
        files_after: done.files.length,
        bytes_after: done.files.reduce((n, f) => n + f.bytes, 0),
      });
    }
    return outcome;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Plans the hours, then runs what the limits allow (or only reports it, dry run). */
export async function compactLake(deps: CompactDeps, options: CompactOptions): Promise<CompactSummary> {
  const plans = await planLake(deps, options);
  const { run, deferred } = boundRun(plans, options.limits);
  const outcomes: HourOutcome[] = [];
  let done = 0;
  for (const plan of run) {
    const label = hourLabel(plan.hour);
    try {
      if (options.dryRun) {
        const files = plan.action === 'compact' ? plan.inputs : plan.files;
        outcomes.push(
          emptyOutcome(plan.hour, plan.action === 'compact' ? 'would-compact' : 'would-delete', files),
        );
      } else if (plan.action === 'compact') {
        outcomes.push(await compactHour(deps, plan, options));
      } else if (plan.action === 'delete') {
        const before = await listHour(deps.s3, deps.bucket, plan.hour);
        const result = await deleteDue(deps, plan.hour, plan.manifest);
        outcomes.push({
          ...emptyOutcome(plan.hour, 'deleted', before),
          deleted: result.deleted,
          kept_rewritten: result.rewritten,
          files_after: result.files.length,
          bytes_after: result.files.reduce((n, f) => n + f.bytes, 0),
        });
      }
    } catch (error) {
      const files = plan.action === 'compact' ? plan.inputs : plan.action === 'delete' ? plan.files : [];
      outcomes.push({ ...emptyOutcome(plan.hour, 'failed', files), error: (error as Error).message });
    }
    done += 1;
    options.onProgress?.(done, run.length, label);
  }
  for (const plan of deferred) {
    outcomes.push(emptyOutcome(plan.hour, 'deferred', plan.action === 'compact' ? plan.inputs : []));
  }
  const sum = (f: (o: HourOutcome) => number) => outcomes.reduce((n, o) => n + f(o), 0);
  return {
    hours: outcomes,
    unchanged: plans.filter((p) => p.action === 'none').length,
    open: plans.filter((p) => p.action === 'open').length,
    totals: {
      compacted: outcomes.filter((o) => o.action === 'compacted').length,
      deferred: deferred.length,
      failed: outcomes.filter((o) => o.action === 'failed').length,
      files_before: sum((o) => o.files_before),
      files_after: sum((o) => o.files_after),
      bytes_before: sum((o) => o.bytes_before),
      bytes_after: sum((o) => o.bytes_after),
      rows_in: sum((o) => o.rows_in),
      rows_out: sum((o) => o.rows_out),
      duplicates_removed: sum((o) => o.duplicates_removed),
      reformat_removed: sum((o) => o.reformat_removed),
      deleted: sum((o) => o.deleted),
    },
  };
}
