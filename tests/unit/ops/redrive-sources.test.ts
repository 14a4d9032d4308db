import { GetRecordsCommand, GetShardIteratorCommand, KinesisClient } from '@aws-sdk/client-kinesis';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { decideCollectLines } from '../../../cli/ops/redrive-collect';
import { reasonOf } from '../../../cli/ops/redrive-quarantine';
import {
  batchInfoOf,
  formatVectorsReports,
  readRange,
  redriveVectors,
} from '../../../cli/ops/redrive-vectors';
import type { QuarantineLine } from '../../../lib/domain/collect-quarantine';

const kinesisMock = mockClient(KinesisClient);
const sqsMock = mockClient(SQSClient);
const lambdaMock = mockClient(LambdaClient);

beforeEach(() => {
  kinesisMock.reset();
  sqsMock.reset();
  lambdaMock.reset();
});

const RANGE = {
  shardId: 'shardId-000000000000',
  startSequenceNumber: '100',
  endSequenceNumber: '102',
  streamArn: 'arn:aws:kinesis:ap-northeast-1:123456789012:stream/logbase-dev-clicks',
  batchSize: 3,
};
const record = (seq: string) => ({
  SequenceNumber: seq,
  PartitionKey: 'u1',
  Data: Buffer.from('{}'),
  ApproximateArrivalTimestamp: new Date(0),
});
const options = () => ({
  sqs: new SQSClient({ region: 'ap-northeast-1' }),
  kinesis: new KinesisClient({ region: 'ap-northeast-1' }),
  lambda: new LambdaClient({ region: 'ap-northeast-1' }),
  queueUrl: 'https://sqs.ap-northeast-1.amazonaws.com/123456789012/q',
  functionName: 'logbase-dev-updateUserVectors',
  region: 'ap-northeast-1',
});

describe('redrive vectors', () => {
  it('reads a range from its first to its last sequence number and stops there', async () => {
    // Prepare
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    kinesisMock.on(GetRecordsCommand, { ShardIterator: 'it-1' }).resolves({
      Records: [record('100'), record('101')],
      NextShardIterator: 'it-2',
      MillisBehindLatest: 10,
    });
    kinesisMock.on(GetRecordsCommand, { ShardIterator: 'it-2' }).resolves({
      Records: [record('102'), record('103')],
      NextShardIterator: 'it-3',
      MillisBehindLatest: 0,
    });
    // Act
    const read = await readRange(new KinesisClient({ region: 'ap-northeast-1' }), RANGE);
    // Assess
    expect('records' in read && read.records.map((r) => r.SequenceNumber)).toEqual(['100', '101', '102']);
    expect(kinesisMock).toHaveReceivedCommandWith(GetShardIteratorCommand, {
      StreamName: 'logbase-dev-clicks',
      ShardId: RANGE.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: '100',
    });
  });

  it('reports a range past retention, keeps its message and makes it visible again', async () => {
    // Prepare
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'm1', ReceiptHandle: 'h1', Body: JSON.stringify({ KinesisBatchInfo: RANGE }) },
        ],
      })
      .resolves({});
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    kinesisMock
      .on(GetRecordsCommand)
      .rejects(Object.assign(new Error('trimmed'), { name: 'TrimmedDataAccessException' }));
    // Act
    const reports = await redriveVectors(options());
    // Assess
    expect(reports).toEqual([
      {
        messageId: 'm1',
        range: RANGE,
        outcome: { kind: 'expired', detail: 'TrimmedDataAccessException: trimmed' },
        deleted: false,
      },
    ]);
    expect(sqsMock).not.toHaveReceivedCommand(DeleteMessageCommand);
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, {
      ReceiptHandle: 'h1',
      VisibilityTimeout: 0,
    });
    expect(lambdaMock).not.toHaveReceivedCommand(InvokeCommand);
    expect(formatVectorsReports(reports)[0]).toBe(
      'shardId-000000000000 100..102: past retention, kept in the queue (TrimmedDataAccessException: trimmed)',
    );
  });

  it('reports a range whose first record is gone as past retention', async () => {
    // Prepare
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    kinesisMock
      .on(GetRecordsCommand)
      .resolves({ Records: [record('101'), record('102')], MillisBehindLatest: 0 });
    // Act
    const read = await readRange(new KinesisClient({ region: 'ap-northeast-1' }), RANGE);
    // Assess
    expect(read).toEqual({ expired: 'the stream no longer holds 100 (first readable: 101)' });
  });

  it('applies a range through the function and deletes its message; a record still failing keeps it', async () => {
    // Prepare
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: 'm1', ReceiptHandle: 'h1', Body: JSON.stringify({ KinesisBatchInfo: RANGE }) },
          { MessageId: 'm2', ReceiptHandle: 'h2', Body: JSON.stringify({ KinesisBatchInfo: RANGE }) },
          { MessageId: 'm3', ReceiptHandle: 'h3', Body: 'not json' },
        ],
      })
      .resolves({});
    kinesisMock.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    kinesisMock
      .on(GetRecordsCommand)
      .resolves({ Records: [record('100'), record('101'), record('102')], MillisBehindLatest: 0 });
    lambdaMock
      .on(InvokeCommand)
      .resolvesOnce({ Payload: Buffer.from(JSON.stringify({ batchItemFailures: [] })) as never })
      .resolves({
        Payload: Buffer.from(JSON.stringify({ batchItemFailures: [{ itemIdentifier: '101' }] })) as never,
      });
    // Act
    const reports = await redriveVectors(options());
    // Assess
    expect(reports.map((r) => [r.messageId, r.outcome.kind, r.deleted])).toEqual([
      ['m1', 'applied', true],
      ['m2', 'still-failing', false],
      ['m3', 'unreadable', false],
    ]);
    expect(sqsMock).toHaveReceivedCommandTimes(DeleteMessageCommand, 1);
    expect(sqsMock).toHaveReceivedCommandWith(DeleteMessageCommand, { ReceiptHandle: 'h1' });
    const event = JSON.parse(
      Buffer.from(lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array).toString(),
    );
    expect(event.Records.map((r: { eventID: string }) => r.eventID)).toEqual([
      'shardId-000000000000:100',
      'shardId-000000000000:101',
      'shardId-000000000000:102',
    ]);
  });

  it('reads the range of a Lambda on-failure record and nothing else', () => {
    // Act / Assess
    expect(batchInfoOf(JSON.stringify({ KinesisBatchInfo: RANGE }))).toEqual(RANGE);
    expect(batchInfoOf(JSON.stringify({ requestPayload: {} }))).toBeUndefined();
    expect(batchInfoOf('{')).toBeUndefined();
  });
});

describe('redrive collect decisions', () => {
  const receivedAt = '2026-11-20T09:30:00.000Z';
  const event = (id: string, extra: object = {}) => ({
    event_id: id,
    event_type: 'impression',
    schema_version: 1,
    user_id: 'u1',
    occurred_at: '2026-11-20T09:29:00.000Z',
    article_id: 'a1',
    tab: 'top',
    position: 1,
    platform: 'ios',
    app_version: '5.12.0',
    ...extra,
  });
  const line = (
    e: object,
    index: number | null,
    message: string,
    path = '/schema_version',
  ): QuarantineLine => ({
    request_id: 'r1',
    received_at: receivedAt,
    index,
    event_id: null,
    errors: [{ path, message }],
    raw: JSON.stringify(e, null, 2),
    raw_encoding: 'utf8',
    source: { ip: null, user_agent: null },
  });
  const limits = { maxEvents: 500, maxBytes: 1_048_576, futureSkewSeconds: 300 };
  const ID_A = '7c1e4a52-9b3d-4f6a-8e21-00000000a001';
  const ID_B = '7c1e4a52-9b3d-4f6a-8e21-00000000a002';

  it('passes a rejected event valid now, never a repeat of an event_id, and keeps one still invalid', () => {
    // Prepare
    const lines = [
      line(event(ID_A), 0, 'must be 2, got 1'),
      line(event(ID_A), 1, 'duplicate event_id; first seen at index 0', '/event_id'),
      line(event(ID_B, { position: 'x' }), 2, 'must be an integer, got "x"', '/position'),
    ];
    // Act
    const decided = decideCollectLines(lines, limits);
    // Assess
    expect(decided.eventAt).toEqual([0, -1, -1]);
    const stored = JSON.parse(decided.prepared?.events[0]?.data.toString('utf8') as string);
    expect(stored).toMatchObject({ event_id: ID_A, received_at: receivedAt, request_id: 'r1' });
  });

  it('reads a body refused whole again, and keeps its events still rejected as lines of their own', () => {
    // Prepare
    const body = [JSON.stringify(event(ID_A)), JSON.stringify(event(ID_B, { position: -1 }))].join('\n');
    const whole = { ...line({}, null, 'body is not valid JSON: at 1', ''), raw: body };
    // Act
    const decided = decideCollectLines([whole], limits);
    // Assess
    expect(decided.eventAt).toEqual([0]);
    expect(decided.prepared?.events.map((r) => r.eventId)).toEqual([ID_A]);
    expect(decided.extra.map((l) => [l.index, l.errors[0]?.path])).toEqual([[1, '/position']]);
  });

  it('names a reason by its path and message without the value it names', () => {
    // Act / Assess
    expect(reasonOf([{ path: '/position', message: 'must be an integer, got "x"' }])).toBe(
      '/position must be an integer',
    );
    expect(reasonOf([{ path: '', message: 'body is not valid JSON: at 3' }])).toBe(
      '(body) body is not valid JSON',
    );
    expect(reasonOf([])).toBe('(no reason)');
  });
});
