import {
  type BatchRecord,
  cutBatches,
  FIREHOSE_BATCH_LIMITS,
  KINESIS_BATCH_LIMITS,
  packRecords,
  RecordTooLargeError,
} from '../../../lib/domain/batches';

const KIB = 1024;
const MIB = 1024 * 1024;

function records(count: number, dataBytes: number, userId = 'u-1'): BatchRecord[] {
  const data = Buffer.alloc(dataBytes, 0x61);
  return Array.from({ length: count }, (_, index) => ({ index, eventId: `e-${index}`, userId, data }));
}

const sizes = (batches: BatchRecord[][]) => batches.map((b) => b.length);
const indexes = (batches: BatchRecord[][]) => batches.flat().map((r) => r.index);

describe('cutBatches for Firehose PutRecordBatch', () => {
  it('cuts at 500 records a call', () => {
    // Act
    const batches = cutBatches(records(1_201, 100), FIREHOSE_BATCH_LIMITS);

    // Assess
    expect(sizes(batches)).toEqual([500, 500, 201]);
    expect(indexes(batches)).toEqual(Array.from({ length: 1_201 }, (_, i) => i));
  });

  it('cuts at 4 MiB a call', () => {
    // Prepare: four 1,000 KiB records are 4,096,000 bytes; a fifth would pass 4 MiB (4,194,304).
    const input = records(9, 1_000 * KIB);

    // Act
    const batches = cutBatches(input, FIREHOSE_BATCH_LIMITS);

    // Assess
    expect(sizes(batches)).toEqual([4, 4, 1]);
  });

  it('does not count the partition key', () => {
    // Prepare: 1,000 KiB of data with a long user id is still within Firehose's per-record limit.
    const input = records(1, 1_000 * KIB, 'u'.repeat(128));

    // Act
    const batches = cutBatches(input, FIREHOSE_BATCH_LIMITS);

    // Assess
    expect(sizes(batches)).toEqual([1]);
  });

  it('refuses a single record over 1,000 KiB, naming it and its size', () => {
    // Prepare
    const input = [
      ...records(1, 10),
      { index: 7, eventId: 'big', userId: 'u-1', data: Buffer.alloc(1_000 * KIB + 1) },
    ];

    // Act and Assess
    expect(() => cutBatches(input, FIREHOSE_BATCH_LIMITS)).toThrow(RecordTooLargeError);
    expect(() => cutBatches(input, FIREHOSE_BATCH_LIMITS)).toThrow(
      'event big (index 7) is 1024001 bytes; the per-record limit is 1024000 bytes',
    );
  });

  it('returns no batch for no records', () => {
    // Act and Assess
    expect(cutBatches([], FIREHOSE_BATCH_LIMITS)).toEqual([]);
  });
});

describe('cutBatches for Kinesis PutRecords', () => {
  it('cuts at 500 records a call', () => {
    // Act
    const batches = cutBatches(records(501, 10), KINESIS_BATCH_LIMITS);

    // Assess
    expect(sizes(batches)).toEqual([500, 1]);
  });

  it('cuts at 5 MiB a call, counting data and partition key', () => {
    // Prepare: each record is 1 MiB - 10 bytes of data plus a 10-byte key: exactly 1 MiB.
    const input = records(6, MIB - 10, 'user-00001');

    // Act
    const batches = cutBatches(input, KINESIS_BATCH_LIMITS);

    // Assess
    expect(sizes(batches)).toEqual([5, 1]);
  });

  it('moves a record to the next call when the partition keys push the call past 5 MiB', () => {
    // Prepare: five records of exactly 1 MiB (data + 11-byte key), then 1 byte of data with a 1-byte key.
    // Counting data alone, all six would fit in 5 MiB; with the keys, the sixth does not.
    const input = records(5, MIB - 11, 'user-000001');
    input.push({ index: 5, eventId: 'e-5', userId: 'k', data: Buffer.alloc(1) });

    // Act
    const batches = cutBatches(input, KINESIS_BATCH_LIMITS);

    // Assess
    expect(batches.map((b) => b.map((r) => r.index))).toEqual([[0, 1, 2, 3, 4], [5]]);
    expect(cutBatches(input, { ...KINESIS_BATCH_LIMITS, countPartitionKey: false })).toHaveLength(1);
  });

  it('refuses a record whose data and partition key together pass 1 MiB', () => {
    // Prepare
    const input = records(1, MIB - 5, 'user-00001');

    // Act and Assess
    expect(() => cutBatches(input, KINESIS_BATCH_LIMITS)).toThrow(
      'event e-0 (index 0) is 1048581 bytes; the per-record limit is 1048576 bytes',
    );
  });
});

describe('packRecords', () => {
  const line = (id: number) => Buffer.from(`{"n":${id}}\n`);
  const record = (index: number, data: Uint8Array) => ({ index, eventId: `e-${index}`, userId: 'u', data });

  it('packs records in order into the fewest of at most maxBytes, each the lines end to end', () => {
    // Prepare: 8-byte lines, 20 bytes hold two.
    const records = [0, 1, 2, 3, 4].map((i) => record(i, line(i)));

    // Act
    const packed = packRecords(records, 20);

    // Assess
    expect(packed.map((p) => Buffer.from(p.data).toString())).toEqual([
      '{"n":0}\n{"n":1}\n',
      '{"n":2}\n{"n":3}\n',
      '{"n":4}\n',
    ]);
    expect(packed.map((p) => [p.index, p.members.map((m) => m.index)])).toEqual([
      [0, [0, 1]],
      [2, [2, 3]],
      [4, [4]],
    ]);
  });

  it('packs records that already lie end to end as a view of their memory, others as a copy', () => {
    // Prepare
    const shared = Buffer.from('{"n":0}\n{"n":1}\n');
    const adjacent = [record(0, shared.subarray(0, 8)), record(1, shared.subarray(8, 16))];
    const apart = [record(0, line(0)), record(1, line(1))];

    // Act
    const [view] = packRecords(adjacent, 100);
    const [copy] = packRecords(apart, 100);

    // Assess
    expect(view?.data.buffer).toBe(shared.buffer);
    expect(Buffer.from(view?.data ?? []).toString()).toBe('{"n":0}\n{"n":1}\n');
    expect(Buffer.from(copy?.data ?? []).toString()).toBe('{"n":0}\n{"n":1}\n');
  });

  it('packs a record over maxBytes alone, for cutBatches to name', () => {
    // Act
    const packed = packRecords(
      [record(0, line(0)), record(1, Buffer.alloc(50, 'x')), record(2, line(2))],
      20,
    );

    // Assess
    expect(packed.map((p) => p.members.map((m) => m.index))).toEqual([[0], [1], [2]]);
  });
});
