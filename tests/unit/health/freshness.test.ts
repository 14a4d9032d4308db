import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import {
  iteratorAgeUserVectorLag,
  oldestUnformattedRaw,
  streamUserVectorLag,
  WAITING_LIMIT,
} from '../../../lib/aws/freshness';
import { ageSeconds, iteratorAgeLag, rawBacklog, streamLag } from '../../../lib/domain/freshness';

const NOW = new Date('2026-12-01T12:00:00Z');
const at = (iso: string) => new Date(iso);
const shard = (id: string) => ({
  ShardId: id,
  HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
  SequenceNumberRange: { StartingSequenceNumber: '0' },
});

describe('rawBacklog', () => {
  it('counts the raw objects without a manifest and names the oldest with its age', () => {
    // Prepare
    const raw = [
      { key: 'raw/events/dt=2026-12-01/hour=11/a.gz', lastModified: at('2026-12-01T11:50:00Z') },
      { key: 'raw/events/dt=2026-12-01/hour=11/b.gz', lastModified: at('2026-12-01T11:40:00Z') },
      { key: 'raw/clicks/dt=2026-12-01/hour=11/c.gz', lastModified: at('2026-12-01T11:55:00Z') },
    ];
    const manifests = ['lake/_manifests/events/dt=2026-12-01/hour=11/b.gz.json'];

    // Act
    const backlog = rawBacklog(raw, manifests, NOW);

    // Assess
    expect(backlog).toEqual({
      count: 2,
      oldest: {
        key: 'raw/events/dt=2026-12-01/hour=11/a.gz',
        lastModified: '2026-12-01T11:50:00.000Z',
        ageSeconds: 600,
      },
    });
  });

  it('reports no backlog when every raw object has its manifest', () => {
    // Prepare
    const raw = [{ key: 'raw/clicks/dt=2026-12-01/hour=11/c.gz', lastModified: at('2026-12-01T11:55:00Z') }];

    // Act
    const backlog = rawBacklog(raw, ['lake/_manifests/clicks/dt=2026-12-01/hour=11/c.gz.json'], NOW);

    // Assess
    expect(backlog).toEqual({ count: 0, oldest: null });
  });

  it('ignores raw/errors/, which the formatter does not subscribe to', () => {
    // Prepare
    const raw = [
      { key: 'raw/errors/events/processing-failed/x.gz', lastModified: at('2026-12-01T01:00:00Z') },
    ];

    // Act and Assess
    expect(rawBacklog(raw, [], NOW)).toEqual({ count: 0, oldest: null });
  });
});

describe('ageSeconds', () => {
  it('is never negative when the clock is behind the timestamp', () => {
    // Act and Assess
    expect(ageSeconds(at('2026-12-01T12:00:05Z'), NOW)).toBe(0);
    expect(ageSeconds(at('2026-12-01T11:59:58.5Z'), NOW)).toBe(1);
  });
});

describe('streamLag', () => {
  it('is the age of the oldest waiting click over all shards, with the clicks waiting', () => {
    // Act
    const lag = streamLag(
      [
        { shardId: 's0', waiting: 3, more: false, oldestWaitingArrival: at('2026-12-01T11:59:00Z') },
        { shardId: 's1', waiting: 1, more: false, oldestWaitingArrival: at('2026-12-01T11:58:00Z') },
        { shardId: 's2', waiting: 0, more: false },
      ],
      NOW,
    );

    // Assess
    expect(lag).toEqual({ source: 'stream', lagSeconds: 120, waiting: 4, more: false });
  });

  it('is 0 when nothing is waiting', () => {
    // Act and Assess
    expect(streamLag([{ shardId: 's0', waiting: 0, more: false }], NOW).lagSeconds).toBe(0);
  });
});

describe('iteratorAgeLag', () => {
  it('is the largest datapoint in seconds, or null without datapoints', () => {
    // Act and Assess
    expect(iteratorAgeLag([1_000, 61_400, 0])).toEqual({ source: 'iterator_age', lagSeconds: 61 });
    expect(iteratorAgeLag([])).toEqual({ source: 'iterator_age', lagSeconds: null });
  });
});

describe('oldestUnformattedRaw', () => {
  const s3Mock = mockClient(S3Client);
  const s3 = new S3Client({ region: 'ap-northeast-1' });
  beforeEach(() => s3Mock.reset());

  it('lists raw/ and the manifests of both streams, page by page', async () => {
    // Prepare
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [] });
    s3Mock
      .on(ListObjectsV2Command, { Prefix: 'raw/events/', ContinuationToken: undefined })
      .resolves({
        IsTruncated: true,
        NextContinuationToken: 'next',
        Contents: [
          { Key: 'raw/events/dt=2026-12-01/hour=10/a.gz', LastModified: at('2026-12-01T10:00:00Z') },
        ],
      })
      .on(ListObjectsV2Command, { Prefix: 'raw/events/', ContinuationToken: 'next' })
      .resolves({
        Contents: [
          { Key: 'raw/events/dt=2026-12-01/hour=11/b.gz', LastModified: at('2026-12-01T11:00:00Z') },
        ],
      })
      .on(ListObjectsV2Command, { Prefix: 'lake/_manifests/events/' })
      .resolves({
        Contents: [{ Key: 'lake/_manifests/events/dt=2026-12-01/hour=10/a.gz.json', LastModified: NOW }],
      });

    // Act
    const backlog = await oldestUnformattedRaw(s3, 'bucket', NOW);

    // Assess
    expect(backlog).toEqual({
      count: 1,
      oldest: {
        key: 'raw/events/dt=2026-12-01/hour=11/b.gz',
        lastModified: '2026-12-01T11:00:00.000Z',
        ageSeconds: 3600,
      },
    });
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: 'bucket',
      Prefix: 'raw/clicks/',
    });
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, { Prefix: 'lake/_manifests/clicks/' });
  });
});

describe('streamUserVectorLag', () => {
  const kinesisMock = mockClient(KinesisClient);
  const kinesis = new KinesisClient({ region: 'ap-northeast-1' });
  beforeEach(() => kinesisMock.reset());

  it('reads each shard after the consumer position and from TRIM_HORIZON where it has none', async () => {
    // Prepare
    kinesisMock.on(ListShardsCommand).resolves({ Shards: [shard('shard-0'), shard('shard-1')] });
    kinesisMock
      .on(GetShardIteratorCommand, { ShardId: 'shard-0' })
      .resolves({ ShardIterator: 'it-0' })
      .on(GetShardIteratorCommand, { ShardId: 'shard-1' })
      .resolves({ ShardIterator: 'it-1' });
    kinesisMock
      .on(GetRecordsCommand, { ShardIterator: 'it-0' })
      .resolves({ Records: [] })
      .on(GetRecordsCommand, { ShardIterator: 'it-1' })
      .resolves({
        Records: [
          {
            SequenceNumber: '5',
            PartitionKey: 'u',
            Data: new Uint8Array(),
            ApproximateArrivalTimestamp: at('2026-12-01T11:59:30Z'),
          },
          {
            SequenceNumber: '6',
            PartitionKey: 'u',
            Data: new Uint8Array(),
            ApproximateArrivalTimestamp: at('2026-12-01T11:59:50Z'),
          },
        ],
      });

    // Act
    const lag = await streamUserVectorLag(
      kinesis,
      'clicks',
      (shardId) =>
        shardId === 'shard-0' ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '42' } : undefined,
      NOW,
    );

    // Assess
    expect(lag).toEqual({ source: 'stream', lagSeconds: 30, waiting: 2, more: false });
    expect(kinesisMock).toHaveReceivedCommandWith(GetShardIteratorCommand, {
      ShardId: 'shard-0',
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: '42',
    });
    expect(kinesisMock).toHaveReceivedCommandWith(GetShardIteratorCommand, {
      ShardId: 'shard-1',
      ShardIteratorType: 'TRIM_HORIZON',
    });
    expect(kinesisMock).toHaveReceivedCommandWith(GetRecordsCommand, { Limit: WAITING_LIMIT });
  });

  it('starts an AT_TIMESTAMP position at its time', async () => {
    // Prepare
    kinesisMock.on(ListShardsCommand).resolves({ Shards: [shard('shard-0')] });
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it' });
    kinesisMock.on(GetRecordsCommand).resolves({});

    // Act
    const lag = await streamUserVectorLag(
      kinesis,
      'clicks',
      () => ({ type: 'AT_TIMESTAMP', timestamp: NOW.getTime() }),
      NOW,
    );

    // Assess
    expect(lag.lagSeconds).toBe(0);
    expect(kinesisMock).toHaveReceivedCommandWith(GetShardIteratorCommand, {
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: NOW,
    });
  });
});

describe('iteratorAgeUserVectorLag', () => {
  const cwMock = mockClient(CloudWatchClient);
  const cloudwatch = new CloudWatchClient({ region: 'ap-northeast-1' });
  beforeEach(() => cwMock.reset());

  it("asks for the function's IteratorAge maximum over the last 15 minutes", async () => {
    // Prepare
    cwMock
      .on(GetMetricDataCommand)
      .resolves({ MetricDataResults: [{ Id: 'iteratorAge', Values: [2_000, 95_000] }] });

    // Act
    const lag = await iteratorAgeUserVectorLag(cloudwatch, 'logbase-dev-updateUserVectors', NOW);

    // Assess
    expect(lag).toEqual({ source: 'iterator_age', lagSeconds: 95 });
    expect(cwMock).toHaveReceivedCommandWith(GetMetricDataCommand, {
      StartTime: new Date('2026-12-01T11:45:00Z'),
      EndTime: NOW,
      MetricDataQueries: [
        {
          Id: 'iteratorAge',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/Lambda',
              MetricName: 'IteratorAge',
              Dimensions: [{ Name: 'FunctionName', Value: 'logbase-dev-updateUserVectors' }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    });
  });

  it('is null when Lambda published no IteratorAge in the window', async () => {
    // Prepare
    cwMock.on(GetMetricDataCommand).resolves({});

    // Act and Assess
    expect((await iteratorAgeUserVectorLag(cloudwatch, 'f', NOW)).lagSeconds).toBeNull();
  });
});
