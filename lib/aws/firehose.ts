import { type FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { type BatchRecord, FIREHOSE_BATCH_LIMITS, packRecords } from '../domain/batches';
import { outcomesOf, type RetryOptions, type WriteResult, writeWithRetry } from './retry';

/**
 * Writes records to a Firehose delivery stream with PutRecordBatch (500 records / 4 MiB per call),
 * retrying only the records Firehose did not take, within the deadline.
 *
 * Records are packed first, up to `packBytes` each (default: Firehose's 1,000 KiB per record):
 * Firehose writes a record's bytes to S3 as they are, so newline-terminated events packed end to
 * end land as the same lines, while Firehose bills every record rounded up to 5 KB (an event of a
 * few hundred bytes alone is billed some 13 times its size) and counts records against the
 * stream's records-per-second quota. The answer is per event: a packed record that Firehose
 * refuses fails (or is retried) with all its events.
 */
export async function putToFirehose(
  client: FirehoseClient,
  streamName: string,
  records: readonly BatchRecord[],
  options: RetryOptions & { packBytes?: number },
): Promise<WriteResult> {
  const packed = packRecords(records, options.packBytes ?? FIREHOSE_BATCH_LIMITS.maxRecordBytes);
  const result = await writeWithRetry(
    packed,
    FIREHOSE_BATCH_LIMITS,
    async (batch, abortSignal) => {
      const response = await client.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: streamName,
          Records: batch.map((r) => ({ Data: r.data })),
        }),
        { abortSignal },
      );
      return outcomesOf(
        batch.length,
        response.RequestResponses,
        (entry) => Boolean(entry.RecordId),
        response.FailedPutCount === 0,
        'Firehose',
      );
    },
    options,
  );
  const byIndex = new Map(packed.map((p) => [p.index, p]));
  const members = (index: number) => byIndex.get(index)?.members ?? [];
  return {
    written: result.written.flatMap((index) => members(index).map((m) => m.index)),
    failed: result.failed.flatMap((failure) =>
      members(failure.index).map((m) => ({ ...failure, index: m.index, eventId: m.eventId })),
    ),
  };
}
