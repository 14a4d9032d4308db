import {
  DescribeDeliveryStreamCommand,
  ListDeliveryStreamsCommand,
  PutRecordBatchCommand,
  PutRecordCommand,
} from '@aws-sdk/client-firehose';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import {
  eventually,
  FIXTURE,
  fixtureInvoker,
  Invocations,
  listKeys,
  readGzipText,
  useFixtureStack,
} from './harness';

const KIB = 1024;

/** `<prefix><stream>-1-yyyy-MM-dd-HH-mm-ss-<uuid>.gz`, with the prefix's dt/hour equal to the name's time. */
function expectFirehoseKey(key: string, prefix: 'direct' | 'from-stream', stream: string) {
  const pattern = new RegExp(
    `^${prefix}/dt=(\\d{4}-\\d{2}-\\d{2})/hour=(\\d{2})/${stream}-1-(\\d{4}-\\d{2}-\\d{2})-(\\d{2})-\\d{2}-\\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.gz$`,
  );
  const match = pattern.exec(key);
  expect(match).not.toBeNull();
  expect(match?.[1]).toBe(match?.[3]);
  expect(match?.[2]).toBe(match?.[4]);
}

describe('the local Firehose (fixture: direct 1 s / 1 MiB, bulk 900 s / 1 MiB, from-stream)', () => {
  const local = useFixtureStack({ invoker: fixtureInvoker(new Invocations(), new Invocations()) });

  const putBatch = (stream: string, records: (string | Buffer)[]) =>
    local.clients.firehose.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: stream,
        Records: records.map((r) => ({ Data: typeof r === 'string' ? Buffer.from(r) : r })),
      }),
    );
  /** The texts of every object under a prefix, once there is at least one. */
  const deliveredUnder = (prefix: string) =>
    eventually(`an object under ${prefix}`, async () => {
      const keys = await listKeys(local.clients.s3, FIXTURE.bucket, prefix);
      if (keys.length === 0) return undefined;
      return Promise.all(
        keys.map(async (key) => ({ key, text: await readGzipText(local.clients.s3, FIXTURE.bucket, key) })),
      );
    });

  it('delivers PutRecordBatch records as one gzip object, concatenated as sent, under the evaluated prefix', async () => {
    // Act
    const out = await putBatch(FIXTURE.direct, ['{"n":1}\n', '{"n":2}\n', 'no-newline', '{"n":3}\n']);

    // Assess
    expect(out.FailedPutCount).toBe(0);
    expect(out.RequestResponses).toHaveLength(4);
    for (const response of out.RequestResponses ?? []) expect(response.RecordId).toEqual(expect.any(String));
    const [object, ...others] = await deliveredUnder('direct/');
    expect(others).toEqual([]);
    expectFirehoseKey(object?.key ?? '', 'direct', FIXTURE.direct);
    expect(object?.text).toBe('{"n":1}\n{"n":2}\nno-newline{"n":3}\n');
  });

  it('delivers as soon as the size hint is reached, although the buffer interval is 15 minutes', async () => {
    // Prepare: 3 batches of 4 records of 100 KiB = 1.2 MiB, over the 1 MiB hint
    const records = Array.from({ length: 12 }, (_, i) =>
      Buffer.alloc(100 * KIB, String.fromCharCode(97 + i)),
    );

    // Act
    for (let i = 0; i < records.length; i += 4) await putBatch(FIXTURE.bulk, records.slice(i, i + 4));

    // Assess
    const objects = await deliveredUnder('bulk/');
    expect(objects).toHaveLength(1);
    expect(objects[0]?.key).toMatch(/^bulk\/dt=\d{4}-\d{2}-\d{2}\/wiring-local-bulk-1-.*\.gz$/);
    expect(objects[0]?.text).toBe(Buffer.concat(records).toString());
  });

  it('lands the records of a Kinesis-source delivery stream, from every shard, under its prefix', async () => {
    // Prepare: partition keys spread the records over both shards
    const texts = Array.from({ length: 20 }, (_, i) => `click-${String(i).padStart(2, '0')}\n`);

    // Act
    await local.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: FIXTURE.stream,
        Records: texts.map((t, i) => ({ Data: Buffer.from(t), PartitionKey: `user-${i}` })),
      }),
    );

    // Assess
    const objects = await eventually('all 20 records under from-stream/', async () => {
      const found = await deliveredUnder('from-stream/');
      const lines = found.flatMap((o) => o.text.split('\n').filter(Boolean));
      return lines.length >= 20 ? found : undefined;
    });
    for (const object of objects) expectFirehoseKey(object.key, 'from-stream', FIXTURE.fromStream);
    const lines = objects.flatMap((o) => o.text.split('\n').filter(Boolean));
    expect(lines.sort()).toEqual(texts.map((t) => t.trim()));
  });

  it('refuses PutRecord on a Kinesis-source delivery stream, as Firehose does', async () => {
    await expect(
      local.clients.firehose.send(
        new PutRecordCommand({ DeliveryStreamName: FIXTURE.fromStream, Record: { Data: Buffer.from('x') } }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidArgumentException',
      message: expect.stringContaining('not permitted on KinesisStreamAsSource'),
    });
  });

  it('answers an unknown delivery stream with ResourceNotFoundException', async () => {
    await expect(putBatch('no-such-stream', ['x'])).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Firehose no-such-stream under account 000000000000 not found.',
    });
  });

  it.each([
    ['more than 500 records', () => Array.from({ length: 501 }, () => 'x'), /at most 500/],
    ['a record over 1,000 KiB', () => [Buffer.alloc(1000 * KIB + 1)], /at most 1,000 KiB/],
    [
      'more than 4 MiB in all',
      () => Array.from({ length: 5 }, () => Buffer.alloc(1000 * KIB)),
      /at most 4 MiB/,
    ],
  ])('rejects a PutRecordBatch with %s with InvalidArgumentException', async (_what, records, message) => {
    await expect(putBatch(FIXTURE.direct, records())).rejects.toMatchObject({
      name: 'InvalidArgumentException',
      message: expect.stringMatching(message),
    });
  });

  it('fails the next N records with ServiceUnavailableException when told to, so callers can test retries', async () => {
    // Prepare
    local.stack.firehose.injectFaults({ records: 2 });

    // Act
    const first = await putBatch(FIXTURE.bulk, ['fault-0\n', 'fault-1\n', 'fault-2\n']);
    const resent = await putBatch(FIXTURE.bulk, ['fault-0\n', 'fault-1\n']);
    await local.stack.firehose.flush();

    // Assess
    expect(first.FailedPutCount).toBe(2);
    expect(first.RequestResponses?.map((r) => r.ErrorCode ?? 'ok')).toEqual([
      'ServiceUnavailableException',
      'ServiceUnavailableException',
      'ok',
    ]);
    expect(resent.FailedPutCount).toBe(0);
    const objects = await deliveredUnder('bulk/');
    const faultObject = objects.find((o) => o.text.includes('fault-'));
    expect(faultObject?.text).toBe('fault-2\nfault-0\nfault-1\n');
  });

  it('describes and lists the delivery streams of serverless.yml', async () => {
    // Act
    const list = await local.clients.firehose.send(new ListDeliveryStreamsCommand({}));
    const described = await local.clients.firehose.send(
      new DescribeDeliveryStreamCommand({ DeliveryStreamName: FIXTURE.fromStream }),
    );

    // Assess
    expect(list.DeliveryStreamNames).toEqual([FIXTURE.bulk, FIXTURE.direct, FIXTURE.fromStream]);
    expect(list.HasMoreDeliveryStreams).toBe(false);
    const d = described.DeliveryStreamDescription;
    expect(d).toMatchObject({
      DeliveryStreamName: FIXTURE.fromStream,
      DeliveryStreamStatus: 'ACTIVE',
      DeliveryStreamType: 'KinesisStreamAsSource',
      Source: {
        KinesisStreamSourceDescription: {
          KinesisStreamARN: `arn:aws:kinesis:ap-northeast-1:000000000000:stream/${FIXTURE.stream}`,
        },
      },
    });
    expect(d?.Destinations?.[0]?.ExtendedS3DestinationDescription).toMatchObject({
      BucketARN: `arn:aws:s3:::${FIXTURE.bucket}`,
      Prefix: 'from-stream/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/',
      CompressionFormat: 'GZIP',
      BufferingHints: { SizeInMBs: 1, IntervalInSeconds: 1 },
    });
  });
});
