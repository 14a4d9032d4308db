import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type FormatManifest, manifestKey } from '../../lib/domain/format/records';

/** Reading the bucket's datasets for the operations commands (raw hours, manifests, run records). */

/** An object as listed. */
export interface Listed {
  key: string;
  size: number;
}

/** Every object under a prefix (all pages). */
export async function listAll(s3: S3Client, bucket: string, prefix: string): Promise<Listed[]> {
  const out: Listed[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** The manifest the formatter wrote for a raw object, or undefined. */
export async function readManifestOf(
  s3: S3Client,
  bucket: string,
  rawKey: string,
): Promise<FormatManifest | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey(rawKey) }));
    const text = await out.Body?.transformToString('utf8');
    return text ? (JSON.parse(text) as FormatManifest) : undefined;
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
    throw error;
  }
}

/** An hour of the raw layout: `dt=YYYY-MM-DD/hour=HH`. */
export interface Hour {
  dt: string;
  hour: string;
}

const HOUR = /^(\d{4}-\d{2}-\d{2})[T/ ](?:hour=)?(\d{2})(?::00)?(?::00)?Z?$/;

/** Parses `2026-03-01T03` (also `2026-03-01/03`, `2026-03-01T03:00Z`) into an hour; throws a clear error otherwise. */
export function parseHour(raw: string, flag: string): Hour {
  const m = HOUR.exec(raw.trim());
  const date = m ? new Date(`${m[1]}T${m[2]}:00:00Z`) : undefined;
  if (
    !m ||
    date === undefined ||
    Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 13) !== `${m[1]}T${m[2]}`
  ) {
    throw new Error(`${flag} must be an hour in UTC such as 2026-03-01T03, got "${raw}"`);
  }
  return { dt: m[1] as string, hour: m[2] as string };
}

/** Every hour from `from` to `to`, both included (at most `max`). */
export function hoursBetween(from: Hour, to: Hour, max = 24 * 366): Hour[] {
  const start = Date.parse(`${from.dt}T${from.hour}:00:00Z`);
  const end = Date.parse(`${to.dt}T${to.hour}:00:00Z`);
  if (end < start) throw new Error(`--to (${to.dt}T${to.hour}) is before --from (${from.dt}T${from.hour})`);
  const n = (end - start) / 3_600_000 + 1;
  if (n > max) throw new Error(`${n} hours is more than ${max}: split the range`);
  return Array.from({ length: n }, (_, i) => {
    const iso = new Date(start + i * 3_600_000).toISOString();
    return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
  });
}

export const hourLabel = (h: Hour) => `${h.dt}T${h.hour}`;

/** Where runs are recorded: `ops/runs/<command>/dt=YYYY-MM-DD/<time>-<id>.json`. */
export const RUNS_PREFIX = 'ops/runs/';

/** One recorded run of an operations command. */
export interface RunRecord {
  run_id: string;
  command: string;
  user: string;
  stage: string;
  started_at: string;
  finished_at: string;
  arguments: Record<string, unknown>;
  counts: Record<string, unknown>;
}

/** Writes a run record and returns its key. */
export async function recordRun(
  s3: S3Client,
  bucket: string,
  run: Omit<RunRecord, 'run_id' | 'user'> & { user?: string },
): Promise<string> {
  const record: RunRecord = { ...run, run_id: randomUUID(), user: run.user ?? safeUser() };
  const key = `${RUNS_PREFIX}${run.command}/dt=${run.started_at.slice(0, 10)}/${run.started_at.replace(/[:.]/g, '-')}-${record.run_id}.json`;
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: `${JSON.stringify(record, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
  return key;
}

function safeUser(): string {
  try {
    return process.env.LOGBASE_USER ?? userInfo().username;
  } catch {
    return 'unknown';
  }
}
