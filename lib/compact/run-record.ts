import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * A compaction run's record, in the shape of the operations commands' run records
 * (`ops/runs/<command>/dt=YYYY-MM-DD/<time>-<id>.json`: run_id, command, user, stage, started_at,
 * finished_at, arguments, counts), written by the scheduled function and by `logbase compact`.
 */
export interface CompactRunRecord {
  run_id: string;
  command: 'compact';
  user: string;
  stage: string;
  started_at: string;
  finished_at: string;
  arguments: Record<string, unknown>;
  counts: Record<string, unknown>;
}

/** Writes the record under `ops/runs/compact/` and returns its key. */
export async function recordCompactRun(
  s3: S3Client,
  bucket: string,
  run: Omit<CompactRunRecord, 'run_id' | 'command'>,
): Promise<string> {
  const record: CompactRunRecord = { run_id: randomUUID(), command: 'compact', ...run };
  const key = `ops/runs/compact/dt=${run.started_at.slice(0, 10)}/${run.started_at.replace(/[:.]/g, '-')}-${record.run_id}.json`;
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
