/** What a batch writer needs of a record: its payload and, for Kinesis, its partition key. */
export interface BatchRecord {
  index: number;
  eventId: string;
  userId: string;
  data: Uint8Array;
}

/** The request limits of one batch write API. */
export interface BatchLimits {
  /** Most records in one call. */
  maxRecords: number;
  /** Most bytes in one call. */
  maxBytes: number;
  /** Most bytes in one record. */
  maxRecordBytes: number;
  /** Whether the partition key (user_id) counts towards both byte limits, as in Kinesis. */
  countPartitionKey: boolean;
}

/** Firehose PutRecordBatch: 500 records, 4 MiB per call, 1,000 KiB per record (before base64). */
export const FIREHOSE_BATCH_LIMITS: BatchLimits = {
  maxRecords: 500,
  maxBytes: 4 * 1024 * 1024,
  maxRecordBytes: 1000 * 1024,
  countPartitionKey: false,
};

/** Kinesis PutRecords: 500 records, 5 MiB per call, 1 MiB per record, partition keys included. */
export const KINESIS_BATCH_LIMITS: BatchLimits = {
  maxRecords: 500,
  maxBytes: 5 * 1024 * 1024,
  maxRecordBytes: 1024 * 1024,
  countPartitionKey: true,
};

/** Raised when one record alone is over the per-record limit of the API it is meant for. */
export class RecordTooLargeError extends Error {
  override name = 'RecordTooLargeError';
}

/** The bytes a record counts for under these limits. */
export function recordBytes(record: BatchRecord, limits: BatchLimits): number {
  return record.data.byteLength + (limits.countPartitionKey ? Buffer.byteLength(record.userId) : 0);
}

/**
 * Cuts records, in order, into the fewest consecutive batches that each respect the count and
 * byte limits. Throws a RecordTooLargeError naming the record when one alone is over the per-record limit.
 */
export function cutBatches<T extends BatchRecord>(records: readonly T[], limits: BatchLimits): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const record of records) {
    const size = recordBytes(record, limits);
    if (size > limits.maxRecordBytes) {
      throw new RecordTooLargeError(
        `event ${record.eventId} (index ${record.index}) is ${size} bytes; the per-record limit is ${limits.maxRecordBytes} bytes`,
      );
    }
    if (
      current.length === limits.maxRecords ||
      (current.length > 0 && currentBytes + size > limits.maxBytes)
    ) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(record);
    currentBytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Records packed into one: their data end to end, in order (each ends with "\n"), and who they are. */
export interface PackedRecord<T extends BatchRecord> extends BatchRecord {
  members: T[];
}

/** Whether `b` starts in memory exactly where `a` ends. */
function adjacent(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.byteLength === b.byteOffset;
}

/**
 * Packs records, in order, into the fewest records of at most `maxBytes` each: a packed record's
 * data is its members' data end to end (a view when they already lie end to end in memory, else a
 * copy). A record alone over `maxBytes` is packed alone (cutBatches then names it). The packed
 * record carries its first member's index and event_id, for messages.
 */
export function packRecords<T extends BatchRecord>(
  records: readonly T[],
  maxBytes: number,
): PackedRecord<T>[] {
  const packed: PackedRecord<T>[] = [];
  let members: T[] = [];
  let bytes = 0;
  const close = () => {
    const [first] = members;
    if (first === undefined) return;
    let data: Uint8Array = first.data;
    let contiguous = true;
    for (let i = 1; i < members.length; i++) {
      if (!adjacent((members[i - 1] as T).data, (members[i] as T).data)) contiguous = false;
    }
    if (members.length > 1) {
      data = contiguous
        ? new Uint8Array(first.data.buffer, first.data.byteOffset, bytes)
        : Buffer.concat(members.map((m) => m.data));
    }
    packed.push({ index: first.index, eventId: first.eventId, userId: first.userId, data, members });
    members = [];
    bytes = 0;
  };
  for (const record of records) {
    const size = record.data.byteLength;
    if (members.length > 0 && bytes + size > maxBytes) close();
    members.push(record);
    bytes += size;
  }
  close();
  return packed;
}

/** A record that could not be written, with the last error the service gave for it. */
export interface WriteFailure {
  index: number;
  eventId: string;
  errorCode: string;
  errorMessage: string;
}

/** The outcome of a batch write: indexes of the records written, and the ones that were not. */
export interface WriteResult {
  written: number[];
  failed: WriteFailure[];
}
