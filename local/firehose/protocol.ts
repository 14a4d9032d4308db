/** Firehose API limits the local Firehose enforces, as the real service does. */
export const FIREHOSE_LIMITS = {
  recordsPerBatch: 500,
  bytesPerBatch: 4 * 1024 * 1024,
  bytesPerRecord: 1000 * 1024,
} as const;

/** An error answered in the Firehose JSON protocol (`__type` + `message`). */
export class FirehoseApiError extends Error {
  override name = 'FirehoseApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes one `Record` (`{ Data: base64 }`), enforcing the per-record limit. */
export function decodeRecord(record: unknown, at: string): Buffer {
  const data = (record as { Data?: unknown } | null)?.Data;
  if (typeof data !== 'string') throw invalid(`${at}.Data is required and must be a base64 string`);
  if (!BASE64.test(data)) throw invalid(`${at}.Data is not valid base64`);
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length > FIREHOSE_LIMITS.bytesPerRecord) {
    throw invalid(`${at} is ${bytes.length} bytes; a record may hold at most 1,000 KiB (1024000 bytes)`);
  }
  return bytes;
}

/** Decodes PutRecordBatch `Records`, enforcing 1-500 records and 4 MiB in all. */
export function decodeBatch(records: unknown): Buffer[] {
  if (!Array.isArray(records) || records.length === 0) {
    throw invalid('Records is required and must hold 1 to 500 records');
  }
  if (records.length > FIREHOSE_LIMITS.recordsPerBatch) {
    throw invalid(`Records holds ${records.length} records; PutRecordBatch accepts at most 500`);
  }
  const decoded = records.map((r, i) => decodeRecord(r, `Records[${i}]`));
  const total = decoded.reduce((sum, b) => sum + b.length, 0);
  if (total > FIREHOSE_LIMITS.bytesPerBatch) {
    throw invalid(`Records hold ${total} bytes; PutRecordBatch accepts at most 4 MiB (4194304 bytes)`);
  }
  return decoded;
}

/** Reads `DeliveryStreamName` from a request. */
export function streamNameOf(body: Record<string, unknown>): string {
  const name = body.DeliveryStreamName;
  if (typeof name !== 'string' || name === '') throw invalid('DeliveryStreamName is required');
  return name;
}

export const invalid = (message: string) => new FirehoseApiError('InvalidArgumentException', message);
