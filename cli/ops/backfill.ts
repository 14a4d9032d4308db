import type { S3Client } from '@aws-sdk/client-s3';
import type { FormatManifest } from '../../lib/domain/format/records';
import { encodeS3EventKey } from '../../local/s3/events';
import { type Hour, hourLabel, type Listed, listAll, readManifestOf } from './lake';

/**
 * `logbase backfill`: runs the formatter again over the raw objects of a range of hours. The
 * formatter is idempotent per object (same key, same output names; the outputs an earlier run
 * wrote under other names are deleted; its manifest is overwritten), so a second run leaves the
 * lake as the first did.
 */

/** The raw prefixes the formatter reads (as functions/format-parquet). */
export const RAW_PREFIXES = ['raw/events/', 'raw/clicks/'] as const;

/** Runs the formatter over one raw object (Lambda Invoke of formatParquet with an S3 event). */
export type FormatRunner = (key: string, size: number) => Promise<void>;

export interface BackfillOptions {
  s3: S3Client;
  bucket: string;
  hours: readonly Hour[];
  /** Only objects whose last manifest wrote rows of this event type (or that have none yet, or quarantined lines). */
  type?: string;
  concurrency: number;
  run: FormatRunner;
  onProgress?: (done: number, total: number, key: string) => void;
}

/** An hour's objects and what their manifests add up to after the run. */
export interface HourSummary {
  hour: string;
  objects: number;
  bytes: number;
  lines_read: number;
  rows_written: number;
  lines_quarantined: number;
  quarantined_by_reason: Record<string, number>;
  /** lines read = rows written + quarantined, for every object (and every object has a manifest). */
  reconciled: boolean;
  failed: { key: string; error: string }[];
}

export interface BackfillSummary {
  hours: HourSummary[];
  objects: number;
  bytes: number;
  failed: number;
  reconciled: boolean;
}

/** The raw objects of the hours (both raw prefixes), with their hour; `type` filters on the last manifests. */
export async function selectObjects(
  s3: S3Client,
  bucket: string,
  hours: readonly Hour[],
  type?: string,
): Promise<(Listed & { hour: string })[]> {
  const out: (Listed & { hour: string })[] = [];
  for (const h of hours) {
    for (const prefix of RAW_PREFIXES) {
      for (const o of await listAll(s3, bucket, `${prefix}dt=${h.dt}/hour=${h.hour}/`)) {
        out.push({ ...o, hour: hourLabel(h) });
      }
    }
  }
  if (type === undefined) return out;
  const kept: (Listed & { hour: string })[] = [];
  for (const o of out) {
    const m = await readManifestOf(s3, bucket, o.key);
    if (m === undefined || m.lines_quarantined > 0 || m.outputs.some((f) => f.type === type)) kept.push(o);
  }
  return kept;
}

/** Runs `task` over `items`, at most `limit` at once; never rejects (each item's error is returned). */
export async function bounded<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<(string | undefined)[]> {
  const errors: (string | undefined)[] = new Array(items.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await task(items[i] as T);
      } catch (error) {
        errors[i] = (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return errors;
}

/** Re-runs the formatter over the objects of the hours, then reconciles every hour from the manifests. */
export async function backfill(o: BackfillOptions): Promise<BackfillSummary> {
  const objects = await selectObjects(o.s3, o.bucket, o.hours, o.type);
  let done = 0;
  const errors = await bounded(objects, o.concurrency, async (obj) => {
    try {
      await o.run(obj.key, obj.size);
    } finally {
      done += 1;
      o.onProgress?.(done, objects.length, obj.key);
    }
  });
  const manifests = await Promise.all(objects.map((obj) => readManifestOf(o.s3, o.bucket, obj.key)));
  const byHour = new Map<string, HourSummary>();
  for (const h of o.hours) {
    const label = hourLabel(h);
    byHour.set(label, {
      hour: label,
      objects: 0,
      bytes: 0,
      lines_read: 0,
      rows_written: 0,
      lines_quarantined: 0,
      quarantined_by_reason: {},
      reconciled: true,
      failed: [],
    });
  }
  objects.forEach((obj, i) => {
    const s = byHour.get(obj.hour) as HourSummary;
    s.objects += 1;
    s.bytes += obj.size;
    const error = errors[i];
    if (error !== undefined) s.failed.push({ key: obj.key, error });
    addManifest(s, manifests[i]);
  });
  const hours = [...byHour.values()];
  return {
    hours,
    objects: objects.length,
    bytes: objects.reduce((n, x) => n + x.size, 0),
    failed: hours.reduce((n, h) => n + h.failed.length, 0),
    reconciled: hours.every((h) => h.reconciled && h.failed.length === 0),
  };
}

function addManifest(s: HourSummary, m: FormatManifest | undefined): void {
  if (m === undefined) {
    s.reconciled = false;
    return;
  }
  s.lines_read += m.lines_read;
  s.rows_written += m.rows_written;
  s.lines_quarantined += m.lines_quarantined;
  for (const [reason, n] of Object.entries(m.quarantined_by_reason ?? {})) {
    s.quarantined_by_reason[reason] = (s.quarantined_by_reason[reason] ?? 0) + n;
  }
  if (m.lines_read !== m.rows_written + m.lines_quarantined) s.reconciled = false;
}

/** The S3 ObjectCreated event S3 sends the formatter for `key` (the key encoded as S3 encodes it). */
export function objectCreatedEvent(
  bucket: string,
  key: string,
  size: number,
  region: string,
  now = new Date(),
) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: now.toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'logbase-backfill' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'backfill', 'x-amz-id-2': 'backfill' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'logbase-backfill',
          bucket: {
            name: bucket,
            ownerIdentity: { principalId: 'logbase-backfill' },
            arn: `arn:aws:s3:::${bucket}`,
          },
          object: { key: encodeS3EventKey(key), size, sequencer: '0' },
        },
      },
    ],
  };
}

/** The summary as the command prints it: one line per hour, then the total. */
export function formatBackfillSummary(s: BackfillSummary): string[] {
  const lines = s.hours.map((h) => {
    const reasons = Object.entries(h.quarantined_by_reason)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    return [
      `${h.hour}  ${h.objects} object(s)  ${h.lines_read} lines read = ${h.rows_written} rows written + ${h.lines_quarantined} quarantined`,
      reasons ? ` (${reasons})` : '',
      h.failed.length ? `  ${h.failed.length} FAILED` : '',
      h.objects > 0 && !h.reconciled ? '  NOT RECONCILED' : '',
    ].join('');
  });
  for (const h of s.hours) for (const f of h.failed) lines.push(`failed: ${f.key}: ${f.error}`);
  lines.push(
    `${s.objects} object(s), ${s.bytes} bytes re-formatted; ${s.failed} failed; ${s.reconciled ? 'every hour reconciles' : 'NOT every hour reconciles'}`,
  );
  return lines;
}
