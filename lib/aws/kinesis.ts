import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { type BatchRecord, KINESIS_BATCH_LIMITS } from '../domain/batches';
import { outcomesOf, type RetryOptions, type WriteResult, writeWithRetry } from './retry';

/**
 * Writes records to a Kinesis data stream with PutRecords (500 records / 5 MiB per call, partition
 * key user_id so one user's events stay in order on one shard), retrying only the records Kinesis
 * did not take, within the deadline.
 */
export function putToKinesis(
  client: KinesisClient,
  streamName: string,
  records: readonly BatchRecord[],
  options: RetryOptions,
): Promise<WriteResult> {
  return writeWithRetry(
    records,
    KINESIS_BATCH_LIMITS,
    async (batch, abortSignal) => {
      const response = await client.send(
        new PutRecordsCommand({
          StreamName: streamName,
          Records: batch.map((r) => ({ Data: r.data, PartitionKey: r.userId })),
        }),
        { abortSignal },
      );
      return outcomesOf(
        batch.length,
        response.Records,
        (entry) => Boolean(entry.SequenceNumber),
        response.FailedRecordCount === 0,
        'Kinesis',
      );
    },
    options,
  );
}
