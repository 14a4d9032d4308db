import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { listObjects } from '../../lib/aws/batch';
import { type ConsumerPosition, streamUserVectorLag } from '../../lib/aws/freshness';
import { manifestKey } from '../../lib/domain/format/records';
import { type ListedObject, rawBacklog } from '../../lib/domain/freshness';
import type { HealthReport } from '../../local/health';
import { batchProblem, failuresProblem, lagProblems } from './problems';
import { type BatchRun, quarantineRate, type StatusReport } from './report';

/** Raised when nothing answers GET /health where the local stack should be. */
export class StackNotRunningError extends Error {
  override name = 'StackNotRunningError';
}

/** What the local stack answers at GET /health (200 ready, 503 otherwise: both are answers). */
export function fetchHealth(httpEndpoint: string, timeoutMs = 3_000): Promise<HealthReport> {
  const url = new URL('/health', httpEndpoint);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as HealthReport);
        } catch {
          reject(
            new StackNotRunningError(
              `${url} answered ${res.statusCode} without a health report: is it the local stack?`,
            ),
          );
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) =>
      reject(
        new StackNotRunningError(
          `the local stack is not running: ${url} does not answer (${error.message}). Start it with \`npm start\` ` +
            '(or pass --endpoint where it listens), or use --stage <stage> for a deployed stage.',
        ),
      ),
    );
    req.end();
  });
}

/** The names the local stage gives its resources (from serverless.yml, through local/wiring.ts). */
export interface LocalNames {
  stage: string;
  bucket: string;
  clicksStream: string;
  userVectorsTable: string;
  /** update-user-vectors' deployed name: its checkpoints are kept under it. */
  vectorsFunction: string;
  /** The formatter's on-failure queue. */
  formatFailuresQueue: string;
}

export interface LocalStatusDeps {
  s3: S3Client;
  kinesis: KinesisClient;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  health: HealthReport;
  /** The local stack's checkpoints file (`<data dir>/checkpoints.json`). */
  checkpointsFile: string;
  names: LocalNames;
  now?: Date;
}

const HOUR_MS = 3_600_000;

async function readText(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
}

/** Non-empty lines of a gzip JSON-lines object (a raw object, a collect quarantine object). */
async function countGzipLines(s3: S3Client, bucket: string, key: string): Promise<number> {
  let text: string;
  try {
    text = gunzipSync(await readText(s3, bucket, key)).toString('utf8');
  } catch {
    return 0; // not gzip: the formatter quarantines it as a fault, with no lines
  }
  return text.split('\n').filter((l) => l.trim() !== '').length;
}

const newest = (objects: readonly ListedObject[]): string | null =>
  objects.length === 0
    ? null
    : new Date(Math.max(...objects.map((o) => o.lastModified.getTime()))).toISOString();

/** The local checkpoints of update-user-vectors on the clicks stream, per shard id. */
async function checkpointPositions(
  file: string,
  names: LocalNames,
): Promise<(shardId: string) => ConsumerPosition | undefined> {
  const positions: Record<string, ConsumerPosition> = existsSync(file)
    ? JSON.parse(await readFile(file, 'utf8'))
    : {};
  return (shardId) => positions[`subscription/${names.vectorsFunction}/${names.clicksStream}/${shardId}`];
}

/** The newest `updated_at` of UserVectors (a Scan of that one attribute). */
async function newestVectorUpdate(dynamodb: DynamoDBClient, table: string): Promise<string | null> {
  let latest: string | null = null;
  let start: Record<string, never> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: table,
        ProjectionExpression: 'updated_at',
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const at = item.updated_at?.S;
      if (at && (latest === null || at > latest)) latest = at;
    }
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return latest;
}

/** The newest batch run: the latest `batch/dt=<date>/`, SUCCEEDED with its summary.json, else NO_SUMMARY. */
async function lastBatchRun(s3: S3Client, bucket: string): Promise<BatchRun | null> {
  const objects = await listObjects(s3, bucket, 'batch/dt=');
  const dates = [
    ...new Set(objects.map((o) => /^batch\/dt=([^/]+)\//.exec(o.key)?.[1]).filter(Boolean)),
  ].sort();
  const date = dates.at(-1);
  if (!date) return null;
  const mine = objects.filter((o) => o.key.startsWith(`batch/dt=${date}/`));
  const summary = mine.find((o) => o.key === `batch/dt=${date}/summary.json`);
  const started = new Date(Math.min(...mine.map((o) => o.lastModified.getTime()))).toISOString();
  if (!summary)
    return {
      name: date,
      status: 'NO_SUMMARY',
      started_at: started,
      finished_at: null,
      detail:
        'the run wrote outputs but no summary.json: it failed (see the batch-failures topic) or is running',
    };
  const s = JSON.parse((await readText(s3, bucket, summary.key)).toString('utf8')) as {
    users?: number;
    recommendations?: { written?: number };
    skipped?: { count?: number };
  };
  return {
    name: date,
    status: 'SUCCEEDED',
    started_at: started,
    finished_at: summary.lastModified.toISOString(),
    detail: `${s.users ?? 0} users, ${s.recommendations?.written ?? 0} recommendations written, ${s.skipped?.count ?? 0} skipped`,
  };
}

/** Messages on a queue (visible and in flight), by its name. */
async function queueDepth(sqs: SQSClient, queue: string): Promise<number> {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** The status of the running local stack, from the stack itself: S3 listings, checkpoints, UserVectors, /health. */
export async function localStatus(deps: LocalStatusDeps): Promise<StatusReport> {
  const { s3, names } = deps;
  const now = deps.now ?? new Date();
  const hourAgo = now.getTime() - HOUR_MS;
  const [raw, manifests, collectQuarantine, lastRun, positions, lastVector, failuresQueued] =
    await Promise.all([
      Promise.all([
        listObjects(s3, names.bucket, 'raw/events/'),
        listObjects(s3, names.bucket, 'raw/clicks/'),
      ]).then((l) => l.flat()),
      listObjects(s3, names.bucket, 'lake/_manifests/'),
      listObjects(s3, names.bucket, 'quarantine/collect/'),
      lastBatchRun(s3, names.bucket),
      checkpointPositions(deps.checkpointsFile, names),
      newestVectorUpdate(deps.dynamodb, names.userVectorsTable),
      queueDepth(deps.sqs, names.formatFailuresQueue),
    ]);
  const lag = await streamUserVectorLag(deps.kinesis, names.clicksStream, positions, now);
  const backlog = rawBacklog(
    raw,
    manifests.map((m) => m.key),
    now,
  );

  // The last hour, as landed: raw objects (accepted events) and collect's quarantine objects (rejected ones).
  const manifestByKey = new Map(manifests.map((m) => [m.key, m]));
  const recentRaw = raw.filter((o) => o.lastModified.getTime() >= hourAgo);
  const recentManifests = manifests.filter((m) => m.lastModified.getTime() >= hourAgo);
  let accepted = 0;
  for (const o of recentRaw) {
    const manifest = manifestByKey.get(manifestKey(o.key));
    accepted += manifest
      ? ((
          JSON.parse((await readText(s3, names.bucket, manifest.key)).toString('utf8')) as {
            lines_read: number;
          }
        ).lines_read ?? 0)
      : await countGzipLines(s3, names.bucket, o.key);
  }
  let rejected = 0;
  for (const o of collectQuarantine.filter((q) => q.lastModified.getTime() >= hourAgo))
    rejected += await countGzipLines(s3, names.bucket, o.key);
  let read = 0;
  let quarantined = 0;
  for (const m of recentManifests) {
    const doc = JSON.parse((await readText(s3, names.bucket, m.key)).toString('utf8')) as {
      lines_read: number;
      lines_quarantined: number;
    };
    read += doc.lines_read;
    quarantined += doc.lines_quarantined;
  }

  const problems: string[] = [];
  for (const [service, s] of Object.entries(deps.health.services))
    if (s.state !== 'up') problems.push(`${service} is ${s.state}${s.detail ? `: ${s.detail}` : ''}`);
  problems.push(
    ...lagProblems(backlog, lag),
    ...failuresProblem(failuresQueued, names.formatFailuresQueue),
    ...batchProblem(lastRun),
  );

  return {
    stage: names.stage,
    source: 'local',
    checked_at: now.toISOString(),
    collect: {
      last_activity: newest([...raw, ...collectQuarantine]),
      quarantine: quarantineRate(rejected, accepted + rejected),
      detail: 'as landed in S3 (raw/ and quarantine/collect/; the local Firehose buffers a few seconds)',
    },
    firehose: {
      last_activity: newest(raw),
      detail: `${recentRaw.length} raw object(s) in the last hour, ${raw.length} in all`,
    },
    format: {
      last_activity: newest(manifests),
      backlog,
      quarantine: quarantineRate(quarantined, read),
      failures_queued: failuresQueued,
      detail: `${recentManifests.length} object(s) formatted in the last hour, ${failuresQueued} on ${names.formatFailuresQueue}`,
    },
    vectors: {
      last_activity: lastVector,
      lag,
      detail: 'lag: the oldest click after the local poller checkpoint',
    },
    batch: { last_run: lastRun },
    alarms: null,
    problems,
  };
}
