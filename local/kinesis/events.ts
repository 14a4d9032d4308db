import type { _Record } from '@aws-sdk/client-kinesis';
import { compareSequenceNumbers } from './sequence';

/** Where a batch came from, for the event's per-record fields. */
export interface KinesisEventSource {
  shardId: string;
  region: string;
  streamArn: string;
  invokeIdentityArn: string;
}

/** The event a Lambda subscribed to a Kinesis stream receives for one batch. */
export function kinesisEvent(records: _Record[], source: KinesisEventSource) {
  return {
    Records: records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.PartitionKey ?? '',
        sequenceNumber: r.SequenceNumber ?? '',
        data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp ?? new Date()).getTime() / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${source.shardId}:${r.SequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: source.invokeIdentityArn,
      awsRegion: source.region,
      eventSourceARN: source.streamArn,
    })),
  };
}

/** What to do after a batch: move on, re-read from a record, or re-read the whole batch. */
export type BatchOutcome =
  | { kind: 'success' }
  | { kind: 'retry-from'; sequenceNumber: string; failed: number }
  | { kind: 'retry-batch'; reason: string };

/**
 * Reads a function's response to a batch as Lambda does with ReportBatchItemFailures: no response, no
 * `batchItemFailures` or an empty list is success; otherwise the batch is retried from the lowest failed
 * sequence number. An item identifier that is missing or not in the batch fails the whole batch. Without
 * ReportBatchItemFailures the response is ignored.
 */
export function interpretBatchResponse(
  response: unknown,
  records: _Record[],
  reportBatchItemFailures: boolean,
): BatchOutcome {
  if (!reportBatchItemFailures || response === null || typeof response !== 'object')
    return { kind: 'success' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'retry-batch', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'success' };
  const inBatch = new Set(records.map((r) => r.SequenceNumber));
  let lowest: string | undefined;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !inBatch.has(id)) {
      return {
        kind: 'retry-batch',
        reason: `batchItemFailures names ${JSON.stringify(id)}, which is not in the batch`,
      };
    }
    if (lowest === undefined || compareSequenceNumbers(id, lowest) < 0) lowest = id;
  }
  return { kind: 'retry-from', sequenceNumber: lowest as string, failed: failures.length };
}
