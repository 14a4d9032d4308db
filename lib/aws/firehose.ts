import { type FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { type BatchRecord, FIREHOSE_BATCH_LIMITS } from '../domain/batches';
import { type RetryOptions, type WriteResult, writeWithRetry } from './retry';

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
      const allOk = response.FailedPutCount === 0;
      return batch.map((_, i) => {
        const entry = response.RequestResponses?.[i];
        if (entry?.ErrorCode) {
          return { ok: false, errorCode: entry.ErrorCode, errorMessage: entry.ErrorMessage ?? '' };
        }
        if (entry?.RecordId || allOk) return { ok: true };
        return {
          ok: false,
          errorCode: 'MissingResponse',
          errorMessage: 'Firehose returned no result for this record',
        };
      });
    },
    options,
  );
}
