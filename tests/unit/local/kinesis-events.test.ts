import type { _Record } from '@aws-sdk/client-kinesis';
import { interpretBatchResponse, kinesisEvent } from '../../../local/kinesis/events';
import { compareSequenceNumbers } from '../../../local/kinesis/sequence';

const records: _Record[] = ['100', '205', '1000'].map((seq, i) => ({
  SequenceNumber: `49590338271490256608559692538361571095921575989136588${seq}`,
  PartitionKey: `pk-${i}`,
  Data: Buffer.from(`data-${i}`),
  ApproximateArrivalTimestamp: new Date(1_700_000_000_123 + i),
}));
const seq = (i: number) => records[i]?.SequenceNumber as string;

describe('interpretBatchResponse (ReportBatchItemFailures)', () => {
  it.each([
    ['no response', undefined],
    ['a response without batchItemFailures', { ok: true }],
    ['an empty list', { batchItemFailures: [] }],
  ])('counts %s as success', (_what, response) => {
    expect(interpretBatchResponse(response, records, true)).toEqual({ kind: 'success' });
  });

  it('retries from the lowest failed sequence number', () => {
    const response = { batchItemFailures: [{ itemIdentifier: seq(2) }, { itemIdentifier: seq(1) }] };
    expect(interpretBatchResponse(response, records, true)).toEqual({
      kind: 'retry-from',
      sequenceNumber: seq(1),
      failed: 2,
    });
  });

  it.each([
    ['an identifier not in the batch', { batchItemFailures: [{ itemIdentifier: '1' }] }],
    ['a missing identifier', { batchItemFailures: [{}] }],
    ['a list that is not a list', { batchItemFailures: 'all' }],
  ])('fails the whole batch for %s', (_what, response) => {
    expect(interpretBatchResponse(response, records, true)).toMatchObject({ kind: 'retry-batch' });
  });

  it('ignores the response when the subscription does not report item failures', () => {
    expect(
      interpretBatchResponse({ batchItemFailures: [{ itemIdentifier: seq(0) }] }, records, false),
    ).toEqual({
      kind: 'success',
    });
  });
});

describe('kinesisEvent', () => {
  it('shapes each record as Lambda does for Kinesis', () => {
    const event = kinesisEvent(records.slice(0, 1), {
      shardId: 'shardId-000000000001',
      region: 'eu-west-1',
      streamArn: 'arn:aws:kinesis:eu-west-1:000000000000:stream/s',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/r',
    });
    expect(event).toEqual({
      Records: [
        {
          kinesis: {
            kinesisSchemaVersion: '1.0',
            partitionKey: 'pk-0',
            sequenceNumber: seq(0),
            data: Buffer.from('data-0').toString('base64'),
            approximateArrivalTimestamp: 1_700_000_000.123,
          },
          eventSource: 'aws:kinesis',
          eventVersion: '1.0',
          eventID: `shardId-000000000001:${seq(0)}`,
          eventName: 'aws:kinesis:record',
          invokeIdentityArn: 'arn:aws:iam::000000000000:role/r',
          awsRegion: 'eu-west-1',
          eventSourceARN: 'arn:aws:kinesis:eu-west-1:000000000000:stream/s',
        },
      ],
    });
  });
});

describe('compareSequenceNumbers', () => {
  it('compares as numbers, not as strings', () => {
    expect(compareSequenceNumbers('9', '10')).toBeLessThan(0);
    expect(compareSequenceNumbers(seq(2), seq(1))).toBeGreaterThan(0);
    expect(compareSequenceNumbers(seq(1), seq(1))).toBe(0);
  });
});
