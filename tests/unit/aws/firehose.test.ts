import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { putToFirehose } from '../../../lib/aws/firehose';
import type { BatchRecord } from '../../../lib/domain/batches';

const firehoseMock = mockClient(FirehoseClient);
const client = new FirehoseClient({ region: 'ap-northeast-1' });
const STREAM = 'logbase-test-events';
const noWait = { sleep: async () => undefined, random: () => 0 };

function records(count: number): BatchRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    index: index * 2,
    eventId: `e-${index}`,
    userId: `u-${index}`,
    data: Buffer.from(`{"event_id":"e-${index}"}\n`),
  }));
}

const accepted = (id: string) => ({ RecordId: id });
const refused = { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' };

beforeEach(() => firehoseMock.reset());

describe('putToFirehose', () => {
  it('writes every record in one PutRecordBatch call', async () => {
    // Prepare
    const input = records(3);
    firehoseMock.on(PutRecordBatchCommand).resolves({
      FailedPutCount: 0,
      RequestResponses: [accepted('r0'), accepted('r1'), accepted('r2')],
    });

    // Act
    const result = await putToFirehose(client, STREAM, input, { ...noWait, deadline: Date.now() + 5_000 });

    // Assess
    expect(result).toEqual({ written: [0, 2, 4], failed: [] });
    expect(firehoseMock).toHaveReceivedCommandTimes(PutRecordBatchCommand, 1);
    expect(firehoseMock).toHaveReceivedCommandWith(PutRecordBatchCommand, {
      DeliveryStreamName: STREAM,
      Records: input.map((r) => ({ Data: r.data })),
    });
  });

  it('retries only the records Firehose refused in a partial failure', async () => {
    // Prepare
    const input = records(4);
    firehoseMock
      .on(PutRecordBatchCommand)
      .resolvesOnce({
        FailedPutCount: 2,
        RequestResponses: [accepted('r0'), refused, accepted('r2'), refused],
      })
      .resolvesOnce({ FailedPutCount: 0, RequestResponses: [accepted('r1'), accepted('r3')] });

    // Act
    const result = await putToFirehose(client, STREAM, input, { ...noWait, deadline: Date.now() + 5_000 });

    // Assess
    expect(firehoseMock).toHaveReceivedCommandTimes(PutRecordBatchCommand, 2);
    expect(firehoseMock).toHaveReceivedNthCommandWith(2, PutRecordBatchCommand, {
      DeliveryStreamName: STREAM,
      Records: [{ Data: input[1]?.data }, { Data: input[3]?.data }],
    });
    expect(result).toEqual({ written: [0, 2, 4, 6], failed: [] });
  });

  it('reports the records still refused when the attempts run out', async () => {
    // Prepare
    const input = records(2);
    firehoseMock.on(PutRecordBatchCommand).callsFake((command: { Records: unknown[] }) => ({
      FailedPutCount: 1,
      RequestResponses: command.Records.length === 2 ? [accepted('r0'), refused] : [refused],
    }));

    // Act
    const result = await putToFirehose(client, STREAM, input, {
      ...noWait,
      maxAttempts: 3,
      deadline: Date.now() + 5_000,
    });

    // Assess
    expect(firehoseMock).toHaveReceivedCommandTimes(PutRecordBatchCommand, 3);
    expect(result).toEqual({
      written: [0],
      failed: [
        { index: 2, eventId: 'e-1', errorCode: 'ServiceUnavailableException', errorMessage: 'Slow down.' },
      ],
    });
  });

  it('splits more than 500 records over several calls', async () => {
    // Prepare
    const input = records(501);
    firehoseMock.on(PutRecordBatchCommand).callsFake((command: { Records: unknown[] }) => ({
      FailedPutCount: 0,
      RequestResponses: command.Records.map((_, i) => accepted(`r${i}`)),
    }));

    // Act
    const result = await putToFirehose(client, STREAM, input, { ...noWait, deadline: Date.now() + 5_000 });

    // Assess
    expect(firehoseMock).toHaveReceivedCommandTimes(PutRecordBatchCommand, 2);
    expect(
      firehoseMock.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input.Records?.length),
    ).toEqual([500, 1]);
    expect(result.written).toHaveLength(501);
  });
});
