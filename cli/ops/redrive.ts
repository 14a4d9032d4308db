import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FormatQuarantineRecord } from '../../lib/domain/format/records';
import { PatternLineCheck } from '../../lib/domain/format/stored-lines';
import { bounded, type FormatRunner } from './backfill';
import { type Hour, listAll, readManifestOf } from './lake';

/**
 * `logbase redrive format`: re-validates the formatter's quarantined lines against the registry
 * this code holds. A raw object with at least one line that now passes is formatted again (the
 * formatter is idempotent per object): its now-valid lines land in the lake under the object's own
 * Parquet names, and its quarantine object is rewritten with only the lines that still fail. So a
 * line is redriven once (the next run finds it no longer quarantined), and a backfill of the same
 * object later gives the same lake, never a second copy.
 */

export const FORMAT_QUARANTINE = 'quarantine/format/';

export interface RedriveCounts {
  /** Quarantined lines read, per reason. */
  read: Record<string, number>;
  /** Lines that pass now, per their old reason, and were written to the lake. */
  redriven: Record<string, number>;
  /** Lines that still fail (or could not be redriven), per reason. */
  stayed: Record<string, number>;
}

export interface RedriveSummary extends RedriveCounts {
  objects: number;
  /** Raw objects formatted again. */
  reformatted: number;
  /** Raw objects with passing lines that are no longer in the bucket (their lines stay quarantined). */
  missing: string[];
  failed: { key: string; error: string }[];
}

const add = (m: Record<string, number>, k: string, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

/** The quarantine objects of the hours (of every hour without `hours`). */
export async function quarantineObjects(s3: S3Client, bucket: string, hours?: readonly Hour[]) {
  if (hours === undefined) return listAll(s3, bucket, FORMAT_QUARANTINE);
  const out = [];
  for (const h of hours) {
    for (const stream of ['events', 'clicks']) {
      out.push(...(await listAll(s3, bucket, `${FORMAT_QUARANTINE}${stream}/dt=${h.dt}/hour=${h.hour}/`)));
    }
  }
  return out;
}

async function readRecords(s3: S3Client, bucket: string, key: string): Promise<FormatQuarantineRecord[]> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  return gunzipSync(bytes)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FormatQuarantineRecord);
}

/** True when a quarantined line passes the registry now (a line kept whole, as UTF-8 text). */
export function passesNow(record: FormatQuarantineRecord, check = new PatternLineCheck()): boolean {
  if (record.raw === null || record.raw_encoding !== 'utf8' || record.raw_truncated) return false;
  if (record.source.line === null) return false;
  return check.check(record.raw);
}

export interface RedriveOptions {
  s3: S3Client;
  bucket: string;
  hours?: readonly Hour[];
  concurrency: number;
  run: FormatRunner;
  /** Only count, move nothing. */
  dryRun?: boolean;
}

/** Re-validates every quarantined line of the hours and formats again the raw objects some of whose lines pass now. */
export async function redriveFormat(o: RedriveOptions): Promise<RedriveSummary> {
  const summary: RedriveSummary = {
    objects: 0,
    reformatted: 0,
    read: {},
    redriven: {},
    stayed: {},
    missing: [],
    failed: [],
  };
  const check = new PatternLineCheck();
  const todo: {
    raw: string;
    size: number;
    passing: Record<string, number>;
    records: FormatQuarantineRecord[];
  }[] = [];
  for (const q of await quarantineObjects(o.s3, o.bucket, o.hours)) {
    summary.objects += 1;
    const records = await readRecords(o.s3, o.bucket, q.key);
    const passing: Record<string, number> = {};
    for (const r of records) {
      add(summary.read, r.reason);
      if (passesNow(r, check)) add(passing, r.reason);
    }
    const raw = records[0]?.source.key;
    if (raw === undefined || Object.keys(passing).length === 0) {
      for (const r of records) add(summary.stayed, r.reason);
      continue;
    }
    const listed = (await listAll(o.s3, o.bucket, raw)).find((x) => x.key === raw);
    if (listed === undefined) {
      // Formatting a gone object would replace its quarantine with one object_missing record: kept as it is.
      summary.missing.push(raw);
      for (const r of records) add(summary.stayed, r.reason);
      continue;
    }
    todo.push({ raw, size: listed.size, passing, records });
  }
  if (o.dryRun) {
    for (const t of todo)
      for (const [reason, n] of Object.entries(t.passing)) add(summary.redriven, reason, n);
    for (const t of todo) {
      const stayed: Record<string, number> = {};
      for (const r of t.records) add(stayed, r.reason);
      for (const [reason, n] of Object.entries(t.passing)) stayed[reason] = (stayed[reason] ?? 0) - n;
      for (const [reason, n] of Object.entries(stayed)) if (n > 0) add(summary.stayed, reason, n);
    }
    return summary;
  }
  const errors = await bounded(todo, o.concurrency, (t) => o.run(t.raw, t.size));
  for (const [i, t] of todo.entries()) {
    const error = errors[i];
    const before: Record<string, number> = {};
    for (const r of t.records) add(before, r.reason);
    const manifest = error === undefined ? await readManifestOf(o.s3, o.bucket, t.raw) : undefined;
    if (error !== undefined || manifest === undefined) {
      summary.failed.push({ key: t.raw, error: error ?? 'no manifest after the run' });
      for (const [reason, n] of Object.entries(before)) add(summary.stayed, reason, n);
      continue;
    }
    summary.reformatted += 1;
    const after: Record<string, number> = manifest.quarantined_by_reason ?? {};
    for (const [reason, n] of Object.entries(before)) {
      const still = Math.min(n, after[reason] ?? 0);
      add(summary.stayed, reason, still);
      if (n - still > 0) add(summary.redriven, reason, n - still);
    }
  }
  return summary;
}

/** The summary as printed: per reason, read / redriven / stayed. */
export function formatRedriveSummary(s: RedriveSummary, dryRun = false): string[] {
  const reasons = [...new Set([...Object.keys(s.read)])].sort();
  const lines = reasons.map(
    (r) =>
      `${r.padEnd(16)} ${String(s.read[r] ?? 0).padStart(7)} quarantined  ${String(s.redriven[r] ?? 0).padStart(7)} ${dryRun ? 'would pass now' : 'redriven to the lake'}  ${String(s.stayed[r] ?? 0).padStart(7)} stay`,
  );
  for (const m of s.missing) lines.push(`kept: ${m} is no longer in the bucket, its lines stay quarantined`);
  for (const f of s.failed) lines.push(`failed: ${f.key}: ${f.error}`);
  const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
  lines.push(
    `${s.objects} quarantine object(s), ${total(s.read)} line(s): ${total(s.redriven)} ${dryRun ? 'would be redriven' : `redriven (${s.reformatted} raw object(s) formatted again)`}, ${total(s.stayed)} stay`,
  );
  return lines;
}
