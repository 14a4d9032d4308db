import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { putToKinesis } from '../../../lib/aws/kinesis';
import type { BatchRecord } from '../../../lib/domain/batches';

const kinesisMock = mockClient(KinesisClient);
const client = new KinesisClient({ region: 'ap-northeast-1' });
const STREAM = 'logbase-test-clicks';
const noWait = { sleep: async () => undefined, random: () => 0 };

function records(count: number): BatchRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    index,
    eventId: `e-${index}`,
    userId: `u-${index % 2}`,
    data: Buffer.from(`{"event_id":"e-${index}"}\n`),
  }));
}

const stored = (n: number) => ({ SequenceNumber: `4959${n}`, ShardId: 'shardId-000000000000' });
const throughputExceeded = {
  ErrorCode: 'ProvisionedThroughputExceededException',
  ErrorMessage: 'Rate exceeded for shard shardId-000000000000',
};

beforeEach(() => kinesisMock.reset());

describe('putToKinesis', () => {
  it('writes each record with its user_id as the partition key', async () => {
    // Prepare
    const input = records(3);
    kinesisMock
      .on(PutRecordsCommand)
      .resolves({ FailedRecordCount: 0, Records: [stored(0), stored(1), stored(2)] });

    // Act
    const result = await putToKinesis(client, STREAM, input, { ...noWait, deadline: Date.now() + 5_000 });

    // Assess
    expect(result).toEqual({ written: [0, 1, 2], failed: [] });
    expect(kinesisMock).toHaveReceivedCommandWith(PutRecordsCommand, {
      StreamName: STREAM,
      Records: input.map((r) => ({ Data: r.data, PartitionKey: r.userId })),
    });
  });

  it('retries only the records Kinesis refused in a partial failure', async () => {
    // Prepare
    const input = records(3);
    kinesisMock
      .on(PutRecordsCommand)
      .resolvesOnce({ FailedRecordCount: 1, Records: [stored(0), throughputExceeded, stored(2)] })
      .resolvesOnce({ FailedRecordCount: 0, Records: [stored(1)] });

    // Act
    const result = await putToKinesis(client, STREAM, input, { ...noWait, deadline: Date.now() + 5_000 });

    // Assess
    expect(kinesisMock).toHaveReceivedCommandTimes(PutRecordsCommand, 2);
    expect(kinesisMock).toHaveReceivedNthCommandWith(2, PutRecordsCommand, {
      StreamName: STREAM,
      Records: [{ Data: input[1]?.data, PartitionKey: 'u-1' }],
    });
    expect(result).toEqual({ written: [0, 1, 2], failed: [] });
  });

  it('retries the whole call after a throttling error and writes each record once', async () => {
    // Prepare
    const input = records(2);
    const throttling = Object.assign(new Error('Rate exceeded'), {
      name: 'LimitExceededException',
      $metadata: { httpStatusCode: 400 },
    });
    kinesisMock
      .on(PutRecordsCommand)
      .rejectsOnce(throttling)
      .resolves({ FailedRecordCount: 0, Records: [stored(0), stored(1)] });

    // Act
    const result = await putToKinesis(client, STREAM, input, { ...noWait, deadline: Date.now() + 5_000 });

    // Assess
    expect(kinesisMock).toHaveReceivedCommandTimes(PutRecordsCommand, 2);
    expect(result).toEqual({ written: [0, 1], failed: [] });
  });

  it('reports a record Kinesis keeps refusing, with its last error', async () => {
    // Prepare
    const input = records(2);
    kinesisMock.on(PutRecordsCommand).callsFake((command: { Records: unknown[] }) => ({
      FailedRecordCount: 1,
      Records: command.Records.length === 2 ? [throughputExceeded, stored(1)] : [throughputExceeded],
    }));

    // Act
    const result = await putToKinesis(client, STREAM, input, {
      ...noWait,
      maxAttempts: 2,
      deadline: Date.now() + 5_000,
    });

    // Assess
    expect(result).toEqual({
      written: [1],
      failed: [
        {
          index: 0,
          eventId: 'e-0',
          errorCode: 'ProvisionedThroughputExceededException',
          errorMessage: 'Rate exceeded for shard shardId-000000000000',
        },
      ],
    });
  });
});
