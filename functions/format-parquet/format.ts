import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import {
  deleteKeys,
  inParallel,
  isPassingError,
  openObject,
  putBytes,
  putFile,
  putJson,
  readManifest,
} from '../../lib/aws/format-s3';
import { readCompactionManifest } from '../../lib/compact/compact-lake';
import { type ReformatMarker, reformatMarkerKey, sourceOf } from '../../lib/domain/compact/reformat';
import {
  type FormatManifest,
  type FormatQuarantineRecord,
  formatQuarantineKey,
  manifestKey,
  type OutputFile,
  outputKey,
  outputStem,
  type SourceObject,
} from '../../lib/domain/format/records';
import type { StoredLineCheck } from '../../lib/domain/format/stored-lines';
import type { ParquetWriter } from '../../lib/format/duckdb';
import { type FormatOutcome, formatObject } from '../../lib/format/format-object';
import type { FormatConfig } from './config';

/** The raw prefixes the formatter reads (Firehose's error prefix raw/errors/ is not one). */
export const FORMATTED_PREFIXES = ['raw/events/', 'raw/clicks/'] as const;

export interface FormatDeps {
  config: FormatConfig;
  s3: S3Client;
  /** The container's DuckDB (opened on first use). */
  writer: () => Promise<ParquetWriter>;
  /** A stored-line check (one per object). */
  check: () => StoredLineCheck;
  logger: Logger;
  metrics: Metrics;
  now: () => Date;
}

/** Raised for an error that may pass (S3 throttling, a 5xx, a dropped connection): the invocation fails and Lambda retries it. */
export class TransientFormatError extends Error {
  override name = 'TransientFormatError';
}

/** What one object became (the manifest), or why it was skipped. */
export type RecordResult = { key: string; skipped: string } | { key: string; manifest: FormatManifest };

/** An S3 event's object key, decoded (S3 form-encodes it: `+` for a space, `%2B` for `+`). */
export function decodeKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/** Formats every object of an S3 event, one after the other; throws on the first that must be retried. */
export async function formatS3Event(event: S3Event, deps: FormatDeps): Promise<RecordResult[]> {
  const results: RecordResult[] = [];
  for (const record of event.Records ?? []) results.push(await formatRecord(record, deps));
  return results;
}

async function formatRecord(record: S3EventRecord, deps: FormatDeps): Promise<RecordResult> {
  const { logger, metrics } = deps;
  const bucket = record.s3.bucket.name;
  const key = decodeKey(record.s3.object.key);
  if (!record.eventName?.startsWith('ObjectCreated:')) {
    return skip(deps, key, `event ${record.eventName} is not an object creation`);
  }
  if (!FORMATTED_PREFIXES.some((prefix) => key.startsWith(prefix))) {
    return skip(deps, key, `key is not under ${FORMATTED_PREFIXES.join(' or ')}`);
  }
  try {
    const manifest = await formatOne({ bucket, key, versionId: record.s3.object.versionId }, deps);
    return { key, manifest };
  } catch (error) {
    if (isPassingError(error)) {
      metrics.addMetric('TransientErrors', MetricUnit.Count, 1);
      logger.warn(
        'formatting failed on an error that may pass; the invocation fails so that Lambda retries it',
        {
          bucket,
          key,
          error: error as Error,
        },
      );
      throw new TransientFormatError(`s3://${bucket}/${key}: ${(error as Error).message}`, { cause: error });
    }
    logger.error('formatting failed', { bucket, key, error: error as Error });
    throw error;
  }
}

function skip(deps: FormatDeps, key: string, why: string): RecordResult {
  deps.logger.warn('object skipped', { key, why });
  deps.metrics.addMetric('ObjectsSkipped', MetricUnit.Count, 1);
  return { key, skipped: why };
}

/** The quarantine file of an object that is gone by the time it is read. */
function missingOutcome(source: SourceObject, workDir: string): { outcome: FormatOutcome; body: Buffer } {
  const message = `the object s3://${source.bucket}/${source.key}${source.versionId ? ` (version ${source.versionId})` : ''} no longer exists: nothing to format`;
  const record: FormatQuarantineRecord = {
    reason: 'object_missing',
    errors: [{ path: '', message }],
    source: { bucket: source.bucket, key: source.key, line: null, byte_offset: null },
    raw: null,
    raw_encoding: null,
    raw_bytes: 0,
    raw_truncated: false,
  };
  return {
    body: gzipSync(`${JSON.stringify(record)}\n`),
    outcome: {
      linesRead: 0,
      rowsWritten: 0,
      linesQuarantined: 0,
      byReason: {},
      faults: [{ reason: 'object_missing', message }],
      files: [],
      quarantineFile: join(workDir, 'quarantine.jsonl.gz'),
      quarantineRecords: 1,
      bytesRead: 0,
    },
  };
}

async function formatOne(
  target: { bucket: string; key: string; versionId?: string },
  deps: FormatDeps,
): Promise<FormatManifest> {
  const { config, s3, logger, metrics } = deps;
  const { bucket, key } = target;
  mkdirSync(config.workDir, { recursive: true });
  const workDir = await mkdtemp(join(config.workDir, 'object-'));
  try {
    const mKey = manifestKey(key);
    const previous = await readManifest(s3, bucket, mKey);
    const opened = await openObject(s3, bucket, key, target.versionId);
    const source: SourceObject = { bucket, key };
    let outcome: FormatOutcome;
    let missingBody: Buffer | undefined;
    if (opened === undefined) {
      if (target.versionId) source.versionId = target.versionId;
      ({ outcome, body: missingBody } = missingOutcome(source, workDir));
    } else {
      if (opened.size !== undefined) source.size = opened.size;
      if (opened.etag !== undefined) source.etag = opened.etag;
      if (opened.versionId !== undefined) source.versionId = opened.versionId;
      outcome = await formatObject(opened.body, {
        source,
        workDir,
        writer: await deps.writer(),
        segmentBytes: config.segmentBytes,
        check: deps.check(),
      });
    }

    const stem = outputStem(key);
    const outputs: OutputFile[] = outcome.files.map((f) => ({
      key: outputKey(stem, f.type, f.version, f.dt, f.hour, f.segment, f.part),
      type: f.type,
      version: f.version,
      dt: f.dt,
      hour: f.hour,
      rows: f.rows,
      bytes: f.bytes,
    }));
    const etags = new Map<string, string | undefined>();
    await inParallel(outcome.files, 4, async (f) => {
      const outKey = outputKey(stem, f.type, f.version, f.dt, f.hour, f.segment, f.part);
      etags.set(outKey, await putFile(s3, bucket, outKey, f.file, 'application/vnd.apache.parquet'));
    });
    const qKey = formatQuarantineKey(key);
    if (missingBody !== undefined) {
      await putBytes(s3, bucket, qKey, missingBody, 'application/gzip');
    } else if (outcome.quarantineFile !== null) {
      await putFile(s3, bucket, qKey, outcome.quarantineFile, 'application/gzip');
    }
    const manifest: FormatManifest = {
      source,
      formatted_at: deps.now().toISOString(),
      segment_bytes: config.segmentBytes,
      lines_read: outcome.linesRead,
      rows_written: outcome.rowsWritten,
      lines_quarantined: outcome.linesQuarantined,
      reconciled: outcome.linesRead === outcome.rowsWritten + outcome.linesQuarantined,
      quarantined_by_reason: outcome.byReason,
      faults: outcome.faults,
      outputs,
      quarantine: outcome.quarantineRecords > 0 ? { key: qKey, records: outcome.quarantineRecords } : null,
    };
    await putJson(s3, bucket, mKey, manifest);
    // A replay under another segment size writes other names: the earlier run's are removed.
    const current = new Set(outputs.map((o) => o.key));
    const stale = (previous?.outputs ?? []).map((o) => o.key).filter((k) => !current.has(k));
    await deleteKeys(s3, bucket, stale);
    // After the stale deletes: a compaction that sees a marker sees this run's files and no earlier ones.
    // Only where a compaction merged the earlier files (elsewhere deleting or overwriting them was enough).
    const markers = previous
      ? reformatMarkers(key, stem, await compactedOutputs(s3, bucket, previous.outputs), outputs, etags)
      : [];
    await inParallel(markers, 4, (m) => putJson(s3, bucket, m.key, m.marker));

    metrics.addMetric('LinesRead', MetricUnit.Count, outcome.linesRead);
    metrics.addMetric('RowsWritten', MetricUnit.Count, outcome.rowsWritten);
    metrics.addMetric('LinesQuarantined', MetricUnit.Count, outcome.linesQuarantined);
    metrics.addMetric('ObjectFaults', MetricUnit.Count, outcome.faults.length);
    metrics.addMetric('ParquetFiles', MetricUnit.Count, outputs.length);
    const log = outcome.faults.length > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
    log('object formatted', {
      bucket,
      key,
      reconciliation: `${outcome.linesRead} lines read = ${outcome.rowsWritten} rows written + ${outcome.linesQuarantined} quarantined`,
      lines_read: outcome.linesRead,
      rows_written: outcome.rowsWritten,
      lines_quarantined: outcome.linesQuarantined,
      quarantined_by_reason: outcome.byReason,
      faults: outcome.faults,
      parquet_files: outputs.length,
      stale_deleted: stale.length,
      reformat_markers: markers.length,
      manifest: mKey,
    });
    return manifest;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

const prefixOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);
const nameOf = (key: string) => key.slice(key.lastIndexOf('/') + 1);

/**
 * The markers of a re-format (lib/domain/compact/reformat.ts): one per hour the earlier run wrote to,
 * naming this run's files there, so a compaction that merged the earlier files drops their rows.
 */
export function reformatMarkers(
  sourceKey: string,
  stem: string,
  previous: readonly OutputFile[],
  outputs: readonly OutputFile[],
  etags: ReadonlyMap<string, string | undefined>,
): { key: string; marker: ReformatMarker }[] {
  const hours = [...new Set(previous.map((o) => prefixOf(o.key)))].sort();
  return hours.map((prefix) => ({
    key: reformatMarkerKey(prefix, stem),
    marker: {
      source: sourceKey,
      stem,
      current: outputs
        .filter((o) => prefixOf(o.key) === prefix)
        .map((o) => sourceOf(nameOf(o.key), etags.get(o.key)))
        .sort(),
    },
  }));
}

/** The earlier outputs that a compaction of their hour merged (its manifest lists them among its inputs). */
async function compactedOutputs(
  s3: S3Client,
  bucket: string,
  earlier: readonly OutputFile[],
): Promise<OutputFile[]> {
  const byHour = new Map<string, OutputFile[]>();
  for (const o of earlier) byHour.set(prefixOf(o.key), [...(byHour.get(prefixOf(o.key)) ?? []), o]);
  const out: OutputFile[] = [];
  for (const files of byHour.values()) {
    const first = files[0] as OutputFile;
    const manifest = await readCompactionManifest(s3, bucket, first);
    const merged = new Set((manifest?.inputs ?? []).map((f) => f.key));
    if (files.some((f) => merged.has(f.key))) out.push(...files);
  }
  return out;
}
