import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { _Record, KinesisClient } from '@aws-sdk/client-kinesis';
import { type DestinationSender, kinesisFailureRecord } from '../destinations';
import type { Invoker } from '../invoker';
import { errorMessage, type StackLog } from '../log';
import type { StreamSubscription } from '../wiring';
import type { CheckpointStore, ShardPosition } from './checkpoints';
import { type BatchOutcome, interpretBatchResponse, kinesisEvent } from './events';
import { listShardIds, ShardReader, sleep, startingPosition } from './shard-reader';

export interface SubscriptionRunnerOptions {
  subscription: StreamSubscription;
  kinesis: KinesisClient;
  checkpoints: CheckpointStore;
  invoker: Invoker;
  region: string;
  invokeIdentityArn: string;
  /** The function's ARN, for on-failure records. */
  functionArn: string;
  /** Delivers a given-up batch's on-failure record to the subscription's `destinations.onFailure`. */
  destinations: DestinationSender;
  /** Where given-up batches are written when the subscription declares no onFailure destination (or it fails). */
  failedBatchesDir: string;
  pollIntervalMs: number;
  /** First retry delay; doubles per attempt up to maxRetryDelayMs. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  log: StackLog;
}

/**
 * One `stream` event of a function, as a Lambda event source mapping: polls every shard with the
 * subscription's batch size and starting position and invokes the function with each batch. Checkpoints
 * are saved in the data dir after each handled batch.
 */
export class SubscriptionRunner {
  private readers: ShardReader[] = [];
  private readonly attempts = new Map<string, number>();

  constructor(private readonly options: SubscriptionRunnerOptions) {}

  async start(): Promise<void> {
    const { subscription: sub, kinesis, checkpoints, pollIntervalMs, log } = this.options;
    for (const shardId of await listShardIds(kinesis, sub.streamName)) {
      const start = await startingPosition(checkpoints, this.checkpointKey(shardId), sub.startingPosition);
      const reader: ShardReader = new ShardReader({
        kinesis,
        streamName: sub.streamName,
        shardId,
        start,
        limit: sub.batchSize,
        pollIntervalMs,
        onBatch: (records) => this.handle(shardId, records, reader.signal),
        onError: (error) =>
          log.warn(`kinesis ${sub.streamName}/${shardId} -> ${sub.functionKey}: ${errorMessage(error)}`),
      });
      this.readers.push(reader);
      reader.start();
    }
  }

  /** The shard readers polling for this subscription. */
  get shardReaders(): readonly ShardReader[] {
    return this.readers;
  }

  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
    this.readers = [];
  }

  private checkpointKey(shardId: string): string {
    const { functionName, streamName } = this.options.subscription;
    return `subscription/${functionName}/${streamName}/${shardId}`;
  }

  private async handle(
    shardId: string,
    records: _Record[],
    signal: AbortSignal,
  ): Promise<ShardPosition | undefined> {
    const { subscription: sub, invoker, checkpoints, log } = this.options;
    const first = records[0]?.SequenceNumber as string;
    const last = records[records.length - 1]?.SequenceNumber as string;
    const label = `kinesis ${sub.streamName}/${shardId} -> ${sub.functionKey}: ${records.length} record(s)`;
    const event = kinesisEvent(records, {
      shardId,
      region: this.options.region,
      streamArn: sub.streamArn,
      invokeIdentityArn: this.options.invokeIdentityArn,
    });
    let outcome: BatchOutcome;
    let functionError = false;
    try {
      const response = await invoker.invoke({ key: sub.functionKey, name: sub.functionName }, event);
      outcome = interpretBatchResponse(response, records, sub.reportBatchItemFailures);
    } catch (error) {
      functionError = true;
      outcome = { kind: 'retry-batch', reason: errorMessage(error) };
    }

    if (outcome.kind === 'success') {
      log.info(`${label}, ok`);
      this.attempts.delete(shardId);
      await checkpoints.set(this.checkpointKey(shardId), {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: last,
      });
      return undefined;
    }

    const attempt = (this.attempts.get(shardId) ?? 0) + 1;
    const retryFrom = outcome.kind === 'retry-from' ? outcome.sequenceNumber : first;
    const why =
      outcome.kind === 'retry-from'
        ? `${outcome.failed} item failure(s), lowest ${retryFrom}`
        : outcome.reason;
    if (sub.maximumRetryAttempts >= 0 && attempt > sub.maximumRetryAttempts) {
      const retried = records.filter((r) => BigInt(r.SequenceNumber as string) >= BigInt(retryFrom));
      const failed = `${label}, failed after ${attempt - 1} retries (${why}); skipped`;
      const sent = await this.sendOnFailure(shardId, retried, attempt, functionError);
      if (sent === true) log.error(`${failed}, on-failure record sent to ${sub.onFailure?.arn}`);
      else {
        const file = await this.writeFailedBatch(shardId, retried, why, attempt);
        log.error(`${failed}, ${sent ?? 'no destinations.onFailure declared'}: written to ${file}`);
      }
      this.attempts.delete(shardId);
      await checkpoints.set(this.checkpointKey(shardId), {
        type: 'AFTER_SEQUENCE_NUMBER',
        sequenceNumber: last,
      });
      return undefined;
    }
    this.attempts.set(shardId, attempt);
    log.warn(`${label}, failed (${why}); retry ${attempt} from ${retryFrom}`);
    const position: ShardPosition = { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: retryFrom };
    if (outcome.kind === 'retry-from') await checkpoints.set(this.checkpointKey(shardId), position);
    const { retryDelayMs, maxRetryDelayMs } = this.options;
    await sleep(Math.min(retryDelayMs * 2 ** (attempt - 1), maxRetryDelayMs), signal);
    return position;
  }

  /** true once sent; otherwise why not (undefined: no destination declared). */
  private async sendOnFailure(
    shardId: string,
    records: _Record[],
    attempts: number,
    functionError: boolean,
  ): Promise<true | string | undefined> {
    const { subscription: sub, destinations } = this.options;
    if (!sub.onFailure) return undefined;
    const record = kinesisFailureRecord({
      requestId: randomUUID(),
      functionArn: this.options.functionArn,
      approximateInvokeCount: attempts,
      shardId,
      streamArn: sub.streamArn,
      records,
      functionError,
      timestamp: new Date(),
    });
    try {
      await destinations.send(sub.onFailure, record);
      return true;
    } catch (error) {
      return `the on-failure record could not be sent to ${sub.onFailure.arn} (${errorMessage(error)})`;
    }
  }

  private async writeFailedBatch(shardId: string, records: _Record[], error: string, attempts: number) {
    const { subscription: sub, failedBatchesDir } = this.options;
    await mkdir(failedBatchesDir, { recursive: true });
    const first = records[0]?.SequenceNumber ?? 'none';
    const file = join(failedBatchesDir, `${sub.functionName}-${shardId}-${first}.json`);
    const body = {
      requestContext: {
        functionName: sub.functionName,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: attempts,
      },
      responseContext: { error },
      KinesisBatchInfo: {
        shardId,
        streamArn: sub.streamArn,
        startSequenceNumber: first,
        endSequenceNumber: records[records.length - 1]?.SequenceNumber,
        batchSize: records.length,
      },
      timestamp: new Date().toISOString(),
      records: records.map((r) => ({
        sequenceNumber: r.SequenceNumber,
        partitionKey: r.PartitionKey,
        data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: r.ApproximateArrivalTimestamp?.toISOString(),
      })),
    };
    await writeFile(file, `${JSON.stringify(body, null, 2)}\n`);
    return file;
  }
}
