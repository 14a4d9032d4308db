import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FieldError } from '../../lib/schemas';
import { type Hour, type Listed, listAll } from './lake';

/**
 * What `redrive collect` and `redrive articles` share: the quarantine objects of some hours (one per
 * request or input object, gzip JSON lines), a reason per line, the counts, and how a redriven line
 * leaves its quarantine object: the lines that pass now are first delivered, then copied under
 * `ops/redriven/` (what was moved, when), then the quarantine object is rewritten with only the
 * lines that still fail (deleted when none do). So a second run finds nothing to move; a run cut
 * between the delivery and the rewrite sends those lines again next time, which the event_id /
 * article_id keys make harmless downstream.
 */

export const REDRIVEN_PREFIX = 'ops/redriven/';

export interface QuarantineCounts {
  /** Quarantined lines read, per reason. */
  read: Record<string, number>;
  /** Lines that pass now and were delivered, per their reason. */
  redriven: Record<string, number>;
  /** Lines that still fail (or were not delivered), per reason. */
  stayed: Record<string, number>;
}

export const addCount = (m: Record<string, number>, k: string, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

export const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

/**
 * A line's reason, for the counts: its first error's path and message without the value it
 * names (`/schema_version must be one of 1` from `must be one of 1, got 2`).
 */
export function reasonOf(errors: readonly FieldError[] | undefined): string {
  const first = errors?.[0];
  if (first === undefined) return '(no reason)';
  const message = first.message.split(', got ')[0]?.split(': ')[0] ?? first.message;
  return `${first.path === '' ? '(body)' : first.path} ${message}`;
}

/** The quarantine objects under `prefix` (e.g. quarantine/collect/) in the hours (every hour without). */
export async function quarantineObjectsOf(
  s3: S3Client,
  bucket: string,
  prefix: string,
  hours?: readonly Hour[],
): Promise<Listed[]> {
  if (hours === undefined) return listAll(s3, bucket, prefix);
  const out: Listed[] = [];
  for (const h of hours) out.push(...(await listAll(s3, bucket, `${prefix}dt=${h.dt}/hour=${h.hour}/`)));
  return out;
}

/** The JSON lines of a gzip quarantine object. */
export async function readJsonLines<T>(s3: S3Client, bucket: string, key: string): Promise<T[]> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
  return gunzipSync(bytes)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

const gzipLines = (lines: readonly unknown[]) =>
  gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));

/**
 * Takes the redriven lines out of a quarantine object: copies them (with the run's time) under
 * ops/redriven/<quarantine key>/<time>.jsonl.gz, then rewrites the object with the lines that
 * stay, or deletes it when none stay. Returns the copy's key.
 */
export async function settleQuarantineObject(
  s3: S3Client,
  bucket: string,
  key: string,
  moved: readonly unknown[],
  stay: readonly unknown[],
  runStartedAt: string,
): Promise<string> {
  const copy = `${REDRIVEN_PREFIX}${key.replace(/\.jsonl\.gz$/, '')}/${runStartedAt.replace(/[:.]/g, '-')}.jsonl.gz`;
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: copy,
      Body: gzipLines(moved.map((line) => ({ redriven_at: runStartedAt, line }))),
      ContentType: 'application/gzip',
    }),
  );
  if (stay.length === 0) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  else
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: gzipLines(stay),
        ContentType: 'application/gzip',
      }),
    );
  return copy;
}

/** The counts as printed: per reason, read / redriven / stayed, then the totals. */
export function formatQuarantineCounts(
  c: QuarantineCounts & { objects: number },
  where: string,
  dryRun: boolean,
): string[] {
  const reasons = Object.keys(c.read).sort();
  const width = Math.max(16, ...reasons.map((r) => r.length));
  const lines = reasons.map(
    (r) =>
      `${r.padEnd(width)} ${String(c.read[r] ?? 0).padStart(7)} quarantined  ${String(c.redriven[r] ?? 0).padStart(7)} ${dryRun ? 'would pass now' : `redriven to ${where}`}  ${String(c.stayed[r] ?? 0).padStart(7)} stay`,
  );
  lines.push(
    `${c.objects} quarantine object(s), ${total(c.read)} record(s): ${total(c.redriven)} ${dryRun ? 'would be redriven' : 'redriven'}, ${total(c.stayed)} stay`,
  );
  return lines;
}
