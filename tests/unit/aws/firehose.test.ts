import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { putToFirehose } from '../../../lib/aws/firehose';
import type { BatchRecord } from '../../../lib/domain/batches';

const firehoseMock = mockClient(FirehoseClient);
const client = new FirehoseClient({ region: 'ap-northeast-1' });
const STREAM = 'logbase-test-events';
const noWait = { sleep: async () => undefined, random: () => 0 };
/** Packs of one event each: the record-level retry behaviour, event by event. */
const ONE_EACH = { ...noWait, packBytes: 1 };

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
  it('packs the records into one, their lines end to end, in one PutRecordBatch call', async () => {
    // Prepare
    const input = records(3);
    firehoseMock
      .on(PutRecordBatchCommand)
      .resolves({ FailedPutCount: 0, RequestResponses: [accepted('r0')] });

    // Act
    const result = await putToFirehose(client, STREAM, input, { ...noWait, deadline: Date.now() + 5_000 });

    // Assess
    expect(result).toEqual({ written: [0, 2, 4], failed: [] });
    expect(firehoseMock).toHaveReceivedCommandTimes(PutRecordBatchCommand, 1);
    expect(firehoseMock).toHaveReceivedCommandWith(PutRecordBatchCommand, {
      DeliveryStreamName: STREAM,
      Records: [{ Data: Buffer.concat(input.map((r) => r.data)) }],
    });
  });

  it('starts a new record where the next line would go over packBytes', async () => {
    // Prepare: each record is 18 bytes; 40 bytes hold two.
    const input = records(5);
    firehoseMock.on(PutRecordBatchCommand).callsFake((command: { Records: unknown[] }) => ({
      FailedPutCount: 0,
      RequestResponses: command.Records.map((_, i) => accepted(`r${i}`)),
    }));

    // Act
    const result = await putToFirehose(client, STREAM, input, {
      ...noWait,
      packBytes: 40,
      deadline: Date.now() + 5_000,
    });

    // Assess
    const sent = firehoseMock.commandCalls(PutRecordBatchCommand)[0]?.args[0].input.Records ?? [];
    expect(sent.map((r) => Buffer.from(r.Data as Uint8Array).toString())).toEqual([
      '{"event_id":"e-0"}\n{"event_id":"e-1"}\n',
      '{"event_id":"e-2"}\n{"event_id":"e-3"}\n',
      '{"event_id":"e-4"}\n',
    ]);
    expect(result.written).toEqual([0, 2, 4, 6, 8]);
  });

  it('retries a refused packed record with all its events, and reports them all when it stays refused', async () => {
    // Prepare: two records of two events; the second is refused every time.
    const input = records(4);
    firehoseMock.on(PutRecordBatchCommand).callsFake((command: { Records: { Data: Uint8Array }[] }) => ({
      FailedPutCount: 1,
      RequestResponses: command.Records.map((r) =>
        Buffer.from(r.Data).toString().includes('e-2') ? refused : accepted('r'),
      ),
    }));

    // Act
    const result = await putToFirehose(client, STREAM, input, {
      ...noWait,
      packBytes: 40,
      maxAttempts: 2,
      deadline: Date.now() + 5_000,
    });

    // Assess
    expect(firehoseMock).toHaveReceivedCommandTimes(PutRecordBatchCommand, 2);
    expect(firehoseMock).toHaveReceivedNthCommandWith(2, PutRecordBatchCommand, {
      DeliveryStreamName: STREAM,
      Records: [{ Data: Buffer.concat([input[2]?.data as Buffer, input[3]?.data as Buffer]) }],
    });
    const why = { errorCode: 'ServiceUnavailableException', errorMessage: 'Slow down.' };
    expect(result).toEqual({
      written: [0, 2],
      failed: [
        { index: 4, eventId: 'e-2', ...why },
        { index: 6, eventId: 'e-3', ...why },
      ],
    });
  });

  it('retries only the records Firehose refused in a partial failure (one event per record)', async () => {
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
    const result = await putToFirehose(client, STREAM, input, { ...ONE_EACH, deadline: Date.now() + 5_000 });

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
      ...ONE_EACH,
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

  it('splits more than 500 records over several calls (one event per record)', async () => {
    // Prepare
    const input = records(501);
    firehoseMock.on(PutRecordBatchCommand).callsFake((command: { Records: unknown[] }) => ({
      FailedPutCount: 0,
      RequestResponses: command.Records.map((_, i) => accepted(`r${i}`)),
    }));

    // Act
    const result = await putToFirehose(client, STREAM, input, { ...ONE_EACH, deadline: Date.now() + 5_000 });

    // Assess
    expect(firehoseMock).toHaveReceivedCommandTimes(PutRecordBatchCommand, 2);
    expect(
      firehoseMock.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input.Records?.length),
    ).toEqual([500, 1]);
    expect(result.written).toHaveLength(501);
  });
});
