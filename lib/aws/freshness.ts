import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  FORMATTED_RAW_PREFIXES,
  iteratorAgeLag,
  type RawBacklog,
  rawBacklog,
  type ShardBacklog,
  streamLag,
  type UserVectorLag,
} from '../domain/freshness';
import { listObjects } from './batch';

/**
 * Pipeline freshness from what a stage holds: the oldest raw object the formatter has not
 * formatted (S3 listings), and the user-vector lag (the clicks stream read from the consumer's
 * position locally, IteratorAge on AWS). Clients are injected; the logic is lib/domain/freshness.ts.
 */

/**
 * The raw objects under raw/events/ and raw/clicks/ that have no formatter manifest yet, their count
 * and the oldest one's age. Lists raw/ and lake/_manifests/ of both streams (a listing of every raw
 * object the bucket keeps: the lifecycle expires raw/ after `params.rawExpireDays`).
 */
export async function oldestUnformattedRaw(
  s3: S3Client,
  bucket: string,
  now = new Date(),
): Promise<RawBacklog> {
  const listings = await Promise.all(
    FORMATTED_RAW_PREFIXES.flatMap((prefix) => [
      listObjects(s3, bucket, prefix),
      listObjects(s3, bucket, `lake/_manifests/${prefix.slice('raw/'.length)}`),
    ]),
  );
  const raw = listings.filter((_, i) => i % 2 === 0).flat();
  const manifests = listings.filter((_, i) => i % 2 === 1).flat();
  return rawBacklog(
    raw,
    manifests.map((m) => m.key),
    now,
  );
}

/** Where a consumer of a shard stands: after (or at) a sequence number, or nowhere yet. */
export type ConsumerPosition =
  | { type: 'AFTER_SEQUENCE_NUMBER' | 'AT_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AT_TIMESTAMP'; timestamp: number }
  | { type: 'TRIM_HORIZON' };

/** At most this many waiting records are counted per shard (one GetRecords call). */
export const WAITING_LIMIT = 10_000;

/**
 * The user-vector lag on a stream read from the consumer's positions (per shard id; a shard without
 * one is read from TRIM_HORIZON, as a TRIM_HORIZON subscription starts): each shard's first record
 * after the position is the oldest click not yet applied.
 */
export async function streamUserVectorLag(
  kinesis: KinesisClient,
  streamName: string,
  positions: (shardId: string) => ConsumerPosition | undefined,
  now = new Date(),
): Promise<UserVectorLag> {
  const shards = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const backlogs = await Promise.all(
    (shards.Shards ?? []).map(async (shard): Promise<ShardBacklog> => {
      const shardId = shard.ShardId as string;
      const position = positions(shardId) ?? { type: 'TRIM_HORIZON' };
      const iterator = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shardId,
          ShardIteratorType: position.type as ShardIteratorType,
          StartingSequenceNumber: 'sequenceNumber' in position ? position.sequenceNumber : undefined,
          Timestamp: position.type === 'AT_TIMESTAMP' ? new Date(position.timestamp) : undefined,
        }),
      );
      const records = await kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator.ShardIterator, Limit: WAITING_LIMIT }),
      );
      const waiting = records.Records ?? [];
      return {
        shardId,
        waiting: waiting.length,
        more: waiting.length >= WAITING_LIMIT,
        oldestWaitingArrival: waiting[0]?.ApproximateArrivalTimestamp,
      };
    }),
  );
  return streamLag(backlogs, now);
}

/**
 * The user-vector lag on a deployed stage: update-user-vectors' IteratorAge (AWS/Lambda, Maximum,
 * 1-minute periods) over the last `minutes`; null when Lambda published none (no batch ran).
 */
export async function iteratorAgeUserVectorLag(
  cloudwatch: CloudWatchClient,
  functionName: string,
  now = new Date(),
  minutes = 15,
): Promise<UserVectorLag> {
  const answer = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - minutes * 60_000),
      EndTime: now,
      MetricDataQueries: [
        {
          Id: 'iteratorAge',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/Lambda',
              MetricName: 'IteratorAge',
              Dimensions: [{ Name: 'FunctionName', Value: functionName }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    }),
  );
  const values = answer.MetricDataResults?.find((r) => r.Id === 'iteratorAge')?.Values ?? [];
  return iteratorAgeLag(values);
}
