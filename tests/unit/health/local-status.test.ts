import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { localStatus } from '../../../cli/status/local';
import { renderStatus } from '../../../cli/status/report';

const NOW = new Date('2026-12-01T12:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);
const s3Mock = mockClient(S3Client);
const kinesisMock = mockClient(KinesisClient);
const dynamoMock = mockClient(DynamoDBClient);
const sqsMock = mockClient(SQSClient);
const region = { region: 'ap-northeast-1' };
const names = {
  stage: 'local',
  bucket: 'logbase-local-data',
  clicksStream: 'logbase-local-clicks',
  userVectorsTable: 'logbase-local-UserVectors',
  vectorsFunction: 'logbase-local-updateUserVectors',
  formatFailuresQueue: 'logbase-local-format-failures',
};
const bytes = (b: Buffer | string) => ({
  Body: { transformToByteArray: async () => Buffer.from(b) } as never,
});
const lines = (n: number) => gzipSync(Array.from({ length: n }, (_, i) => `{"n":${i}}`).join('\n'));
const json = (v: unknown) => bytes(JSON.stringify(v));
const health = { status: 'ready' as const, services: { s3: { state: 'up' as const } } };

let dir: string;
beforeEach(async () => {
  s3Mock.reset();
  kinesisMock.reset();
  dynamoMock.reset();
  sqsMock.reset();
  sqsMock.on(GetQueueUrlCommand).resolves({ QueueUrl: 'http://sqs/q' });
  sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
  dir = await mkdtemp(join(tmpdir(), 'logbase-status-'));
  s3Mock.on(ListObjectsV2Command).resolves({});
  kinesisMock.on(ListShardsCommand).resolves({
    Shards: [
      {
        ShardId: 'shardId-000000000000',
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
        SequenceNumberRange: { StartingSequenceNumber: '0' },
      },
    ],
  });
  kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
  kinesisMock.on(GetRecordsCommand).resolves({ Records: [] });
  dynamoMock.on(ScanCommand).resolves({ Items: [] });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const deps = () => ({
  s3: new S3Client(region),
  kinesis: new KinesisClient(region),
  dynamodb: new DynamoDBClient(region),
  sqs: new SQSClient(region),
  health,
  checkpointsFile: join(dir, 'checkpoints.json'),
  names,
  now: NOW,
});

describe('logbase status on the local stack (mocked clients)', () => {
  it("counts the last hour's accepted and rejected events and the formatter's quarantine from S3", async () => {
    // Prepare: two raw objects of the last hour (one formatted: its manifest says 40 lines), one of
    // yesterday, and one collect quarantine object of 2 lines.
    s3Mock.on(ListObjectsV2Command, { Prefix: 'raw/events/' }).resolves({
      Contents: [
        { Key: 'raw/events/dt=2026-12-01/hour=11/a.gz', LastModified: ago(600) },
        { Key: 'raw/events/dt=2026-12-01/hour=11/b.gz', LastModified: ago(30) },
        { Key: 'raw/events/dt=2026-11-30/hour=11/old.gz', LastModified: ago(86_400) },
      ],
    });
    s3Mock.on(ListObjectsV2Command, { Prefix: 'lake/_manifests/' }).resolves({
      Contents: [
        { Key: 'lake/_manifests/events/dt=2026-12-01/hour=11/a.gz.json', LastModified: ago(590) },
        { Key: 'lake/_manifests/events/dt=2026-11-30/hour=11/old.gz.json', LastModified: ago(86_300) },
      ],
    });
    s3Mock.on(ListObjectsV2Command, { Prefix: 'quarantine/collect/' }).resolves({
      Contents: [{ Key: 'quarantine/collect/dt=2026-12-01/hour=11/r.jsonl.gz', LastModified: ago(20) }],
    });
    s3Mock
      .on(GetObjectCommand, { Key: 'lake/_manifests/events/dt=2026-12-01/hour=11/a.gz.json' })
      .resolves(json({ lines_read: 40, lines_quarantined: 4 }))
      .on(GetObjectCommand, { Key: 'raw/events/dt=2026-12-01/hour=11/b.gz' })
      .resolves(bytes(lines(8)))
      .on(GetObjectCommand, { Key: 'quarantine/collect/dt=2026-12-01/hour=11/r.jsonl.gz' })
      .resolves(bytes(lines(2)));

    // Act
    const report = await localStatus(deps());

    // Assess
    expect(report.collect.quarantine).toEqual({
      quarantined: 2,
      total: 50,
      rate: 0.04,
      window_seconds: 3600,
    });
    expect(report.format.quarantine).toEqual({ quarantined: 4, total: 40, rate: 0.1, window_seconds: 3600 });
    expect(report.format.backlog).toMatchObject({
      count: 1,
      oldest: { key: 'raw/events/dt=2026-12-01/hour=11/b.gz' },
    });
    expect(report.collect.last_activity).toBe(ago(20).toISOString());
    expect(report.firehose.detail).toBe('2 raw object(s) in the last hour, 3 in all');
    expect(report.alarms).toBeNull();
  });

  it('reads the stream after the poller checkpoint of update-user-vectors', async () => {
    // Prepare
    await writeFile(
      join(dir, 'checkpoints.json'),
      JSON.stringify({
        'subscription/logbase-local-updateUserVectors/logbase-local-clicks/shardId-000000000000': {
          type: 'AFTER_SEQUENCE_NUMBER',
          sequenceNumber: '49',
        },
      }),
    );
    kinesisMock.on(GetRecordsCommand).resolves({
      Records: [
        {
          SequenceNumber: '50',
          PartitionKey: 'u',
          Data: new Uint8Array(),
          ApproximateArrivalTimestamp: ago(400),
        },
      ],
    });
    dynamoMock.on(ScanCommand).resolves({
      Items: [{ updated_at: { S: ago(500).toISOString() } }, { updated_at: { S: ago(900).toISOString() } }],
    });

    // Act
    const report = await localStatus(deps());

    // Assess
    expect(kinesisMock).toHaveReceivedCommandWith(GetShardIteratorCommand, {
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: '49',
    });
    expect(report.vectors.lag).toEqual({ source: 'stream', lagSeconds: 400, waiting: 1, more: false });
    expect(report.vectors.last_activity).toBe(ago(500).toISOString());
    expect(report.problems).toEqual([
      'user vectors are late: the oldest click not applied is 6 min 40 s old, over 5 min',
    ]);
  });

  it('reports the newest batch run: its summary when it wrote one, NO_SUMMARY when it did not', async () => {
    // Prepare
    s3Mock.on(ListObjectsV2Command, { Prefix: 'batch/dt=' }).resolves({
      Contents: [
        { Key: 'batch/dt=2026-11-29/shards/0000.json', LastModified: ago(200_000) },
        { Key: 'batch/dt=2026-11-29/summary.json', LastModified: ago(199_000) },
        { Key: 'batch/dt=2026-11-30/shards/0000.json', LastModified: ago(3_000) },
      ],
    });

    // Act
    const failed = await localStatus(deps());
    s3Mock.on(ListObjectsV2Command, { Prefix: 'batch/dt=' }).resolves({
      Contents: [
        { Key: 'batch/dt=2026-11-30/shards/0000.json', LastModified: ago(3_000) },
        { Key: 'batch/dt=2026-11-30/summary.json', LastModified: ago(2_000) },
      ],
    });
    s3Mock
      .on(GetObjectCommand, { Key: 'batch/dt=2026-11-30/summary.json' })
      .resolves(json({ users: 12, recommendations: { written: 12 }, skipped: { count: 1 } }));
    const succeeded = await localStatus(deps());

    // Assess
    expect(failed.batch.last_run).toMatchObject({
      name: '2026-11-30',
      status: 'NO_SUMMARY',
      finished_at: null,
    });
    expect(failed.problems[0]).toMatch(
      /^the last batch run 2026-11-30 is NO_SUMMARY: the run wrote outputs but no summary.json/,
    );
    expect(succeeded.batch.last_run).toMatchObject({
      status: 'SUCCEEDED',
      finished_at: ago(2_000).toISOString(),
      detail: '12 users, 12 recommendations written, 1 skipped',
    });
    expect(renderStatus(succeeded).find((l) => l.startsWith('batch'))).toContain(
      'batch     2026-11-30 SUCCEEDED 2026-12-01 11:26:40Z (33 min 20 s ago): 12 users, 12 recommendations written',
    );
  });

  it('lists the services GET /health says are not up as problems', async () => {
    // Act
    const report = await localStatus({
      ...deps(),
      health: {
        status: 'degraded',
        services: { s3: { state: 'up' }, offline: { state: 'down', detail: 'exited' } },
      },
    });

    // Assess
    expect(report.problems).toEqual(['offline is down: exited']);
  });

  it("counts what waits on the formatter's on-failure queue as a problem", async () => {
    // Prepare
    sqsMock.on(GetQueueAttributesCommand).resolves({
      Attributes: { ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '1' },
    });

    // Act
    const report = await localStatus(deps());

    // Assess
    expect(sqsMock).toHaveReceivedCommandWith(GetQueueUrlCommand, {
      QueueName: 'logbase-local-format-failures',
    });
    expect(report.format.failures_queued).toBe(3);
    expect(report.problems).toEqual([
      '3 S3 event(s) on logbase-local-format-failures: the formatter gave up on them after its retries (fix the cause, then redrive)',
    ]);
  });
});
