import {
  asyncFailureRecord,
  functionFailure,
  kinesisFailureRecord,
  queueUrlOf,
} from '../../../local/destinations';
import { FunctionInvocationError } from '../../../local/errors';

const at = new Date('2026-12-01T12:00:00.000Z');

describe('on-failure records', () => {
  it("takes a function's own error type and message, through serverless-offline or in process", () => {
    expect(functionFailure(new FunctionInvocationError('fn', 'Error', 'boom'))).toEqual({
      errorType: 'Error',
      errorMessage: 'boom',
    });
    expect(functionFailure(new RangeError('too far'))).toEqual({
      errorType: 'RangeError',
      errorMessage: 'too far',
    });
  });

  it("builds Lambda's asynchronous invocation record with the $LATEST-qualified ARN and the event", () => {
    // Act
    const record = asyncFailureRecord({
      requestId: 'r-1',
      functionArn: 'arn:aws:lambda:ap-northeast-1:000000000000:function:fn',
      approximateInvokeCount: 3,
      event: { Records: [] },
      failure: { errorType: 'TypeError', errorMessage: 'x is undefined' },
      timestamp: at,
    });

    // Assess
    expect(record).toEqual({
      version: '1.0',
      timestamp: '2026-12-01T12:00:00.000Z',
      requestContext: {
        requestId: 'r-1',
        functionArn: 'arn:aws:lambda:ap-northeast-1:000000000000:function:fn:$LATEST',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: { Records: [] },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'TypeError', errorMessage: 'x is undefined' },
    });
  });

  it('describes a given-up Kinesis batch by shard and sequence range, without functionError for item failures', () => {
    // Prepare
    const records = [
      {
        SequenceNumber: '100',
        ApproximateArrivalTimestamp: new Date('2026-12-01T11:59:58.000Z'),
        Data: new Uint8Array([1]),
      },
      {
        SequenceNumber: '105',
        ApproximateArrivalTimestamp: new Date('2026-12-01T11:59:59.000Z'),
        Data: new Uint8Array([2]),
      },
    ];

    // Act
    const record = kinesisFailureRecord({
      requestId: 'r-2',
      functionArn: 'arn:aws:lambda:ap-northeast-1:000000000000:function:reader',
      approximateInvokeCount: 4,
      shardId: 'shardId-000000000001',
      streamArn: 'arn:aws:kinesis:ap-northeast-1:000000000000:stream/clicks',
      records,
      functionError: false,
      timestamp: at,
    });

    // Assess
    expect(record.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(record.KinesisBatchInfo).toEqual({
      shardId: 'shardId-000000000001',
      startSequenceNumber: '100',
      endSequenceNumber: '105',
      approximateArrivalOfFirstRecord: '2026-12-01T11:59:58.000Z',
      approximateArrivalOfLastRecord: '2026-12-01T11:59:59.000Z',
      batchSize: 2,
      streamArn: 'arn:aws:kinesis:ap-northeast-1:000000000000:stream/clicks',
    });
    expect(JSON.stringify(record)).not.toContain('Data');
  });

  it("turns a queue ARN into the queue's URL in AWS's form", () => {
    expect(queueUrlOf('arn:aws:sqs:ap-northeast-1:000000000000:failures')).toBe(
      'https://sqs.ap-northeast-1.amazonaws.com/000000000000/failures',
    );
  });
});
