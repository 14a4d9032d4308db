import {
  decodeBatch,
  decodeRecord,
  FIREHOSE_LIMITS,
  FirehoseApiError,
} from '../../../local/firehose/protocol';

const data = (bytes: number) => ({ Data: Buffer.alloc(bytes, 'a').toString('base64') });

describe('the local Firehose request limits', () => {
  it('decodes base64 records as they were sent', () => {
    expect(decodeBatch([{ Data: Buffer.from('one\n').toString('base64') }, { Data: '' }])).toEqual([
      Buffer.from('one\n'),
      Buffer.alloc(0),
    ]);
  });

  it('accepts exactly 500 records, 1,000 KiB per record and 4 MiB in all', () => {
    expect(decodeBatch(Array.from({ length: FIREHOSE_LIMITS.recordsPerBatch }, () => data(1)))).toHaveLength(
      500,
    );
    expect(decodeRecord(data(FIREHOSE_LIMITS.bytesPerRecord), 'Record')).toHaveLength(1_024_000);
    const fourMiB = [data(1_024_000), data(1_024_000), data(1_024_000), data(1_024_000), data(98_304)];
    expect(decodeBatch(fourMiB).reduce((n, b) => n + b.length, 0)).toBe(FIREHOSE_LIMITS.bytesPerBatch);
  });

  it.each([
    ['no records', [], /1 to 500 records/],
    [
      '501 records',
      Array.from({ length: 501 }, () => data(1)),
      /holds 501 records; PutRecordBatch accepts at most 500/,
    ],
    [
      'a record one byte over 1,000 KiB',
      [data(1_024_001)],
      /Records\[0\] is 1024001 bytes; a record may hold at most 1,000 KiB/,
    ],
    [
      'one byte over 4 MiB',
      [data(1_024_000), data(1_024_000), data(1_024_000), data(1_024_000), data(98_305)],
      /at most 4 MiB/,
    ],
    ['a record without Data', [{}], /Records\[0\]\.Data is required/],
    ['Data that is not base64', [{ Data: 'not base64!' }], /Records\[0\]\.Data is not valid base64/],
  ])('rejects %s with InvalidArgumentException', (_what, records, message) => {
    let thrown: unknown;
    try {
      decodeBatch(records);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FirehoseApiError);
    expect(thrown).toMatchObject({
      code: 'InvalidArgumentException',
      status: 400,
      message: expect.stringMatching(message),
    });
  });
});
