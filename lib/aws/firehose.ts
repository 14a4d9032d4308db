import { type FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { type BatchRecord, FIREHOSE_BATCH_LIMITS } from '../domain/batches';
import { outcomesOf, type RetryOptions, type WriteResult, writeWithRetry } from './retry';

/**
 * Writes records to a Firehose delivery stream with PutRecordBatch (500 records / 4 MiB per call),
 * retrying only the records Firehose did not take, within the deadline.
 */
export function putToFirehose(
  client: FirehoseClient,
  streamName: string,
  records: readonly BatchRecord[],
  options: RetryOptions,
): Promise<WriteResult> {
  return writeWithRetry(
    records,
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
}
